//! Decoding the Messages API event stream into chat chunks.
//!
//! `message_start` carries the id, model and input usage (with cache reads and writes);
//! `content_block_start` opens a text, `tool_use` (id, name) or thinking block at an index;
//! `content_block_delta` streams `text_delta`, `input_json_delta` (`partial_json`, assembled until
//! `content_block_stop` emits the [`ChatChunk::ToolCall`]) and `thinking_delta`; `message_delta`
//! carries the stop reason and output tokens; `message_stop` ends the response; `error` fails it.

use std::collections::BTreeMap;

use serde_json::Value;

use everruns_core::domain::TokenUsage;
use everruns_core::driver::{ChatChunk, ChatFinish, DriverError, DriverErrorKind, ToolCall};
use everruns_driver_common::sse::SseEvent;
use everruns_driver_common::stream::{
    EventDecoder, Flow, parse_event_json, parse_tool_arguments, str_field, truncated_stream, u64_field,
};

/// A `tool_use` block whose input is still streaming.
#[derive(Debug, Default)]
struct PendingToolUse {
    id: String,
    name: String,
    json: String,
}

/// The Messages API decoder state.
#[derive(Debug, Default)]
pub struct MessagesDecoder {
    message_id: Option<String>,
    model: Option<String>,
    usage: TokenUsage,
    tools: BTreeMap<u64, PendingToolUse>,
    stop_reason: Option<String>,
}

impl MessagesDecoder {
    /// A decoder at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    fn read_usage(&mut self, usage: &Value) {
        if let Some(n) = u64_field(usage, "/input_tokens") {
            self.usage.input_tokens = n;
        }
        if let Some(n) = u64_field(usage, "/output_tokens") {
            self.usage.output_tokens = n;
        }
        if let Some(n) = u64_field(usage, "/cache_read_input_tokens") {
            self.usage.cache_read_tokens = Some(n);
        }
        if let Some(n) = u64_field(usage, "/cache_creation_input_tokens") {
            self.usage.cache_creation_tokens = Some(n);
        }
    }

    fn emit_tool(&mut self, index: u64, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        if let Some(tool) = self.tools.remove(&index) {
            let arguments = parse_tool_arguments(&tool.name, &tool.json)?;
            out.push(ChatChunk::ToolCall(ToolCall { id: tool.id, name: tool.name, arguments }));
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        let open: Vec<u64> = self.tools.keys().copied().collect();
        for index in open {
            self.emit_tool(index, out)?;
        }
        out.push(ChatChunk::Usage(self.usage));
        let finish_reason = self.stop_reason.as_deref().map(|reason| match reason {
            "end_turn" | "stop_sequence" => "stop".to_owned(),
            "tool_use" => "tool_calls".to_owned(),
            "max_tokens" | "model_context_window_exceeded" => "length".to_owned(),
            "refusal" => "content_filter".to_owned(),
            other => other.to_owned(),
        });
        out.push(ChatChunk::Finished(ChatFinish {
            finish_reason,
            response_id: self.message_id.clone(),
            model: self.model.clone(),
        }));
        Ok(Flow::Done)
    }
}

/// The error for an `error` event (`{"type":"error","error":{"type":..., "message":...}}`).
fn stream_error(data: &Value) -> DriverError {
    let error = data.get("error").unwrap_or(data);
    let kind_name = str_field(error, "/type");
    let message = match str_field(error, "/message") {
        "" => format!("Anthropic stream error ({kind_name})"),
        text => text.to_owned(),
    };
    let kind = match kind_name {
        "overloaded_error" | "api_error" => DriverErrorKind::ProviderUnavailable,
        "rate_limit_error" => DriverErrorKind::RateLimited,
        "authentication_error" | "permission_error" => DriverErrorKind::Authentication,
        "billing_error" => DriverErrorKind::QuotaExhausted,
        "request_too_large" => DriverErrorKind::RequestTooLarge,
        "not_found_error" => DriverErrorKind::ModelNotAvailable,
        "invalid_request_error" => DriverErrorKind::InvalidRequest,
        "timeout_error" => DriverErrorKind::Network,
        _ => DriverErrorKind::Other,
    };
    DriverError::new(kind, message)
}

fn push_delta(out: &mut Vec<ChatChunk>, text: &str, thinking: bool) {
    if !text.is_empty() {
        out.push(if thinking {
            ChatChunk::ThinkingDelta(text.to_owned())
        } else {
            ChatChunk::TextDelta(text.to_owned())
        });
    }
}

impl EventDecoder for MessagesDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        let data = parse_event_json(event)?;
        let kind = match str_field(&data, "/type") {
            "" => event.event.as_deref().unwrap_or_default(),
            kind => kind,
        };
        let index = u64_field(&data, "/index").unwrap_or(0);
        match kind {
            "message_start" => {
                let message = data.get("message").unwrap_or(&Value::Null);
                self.message_id = message.get("id").and_then(Value::as_str).map(str::to_owned);
                self.model = message.get("model").and_then(Value::as_str).map(str::to_owned);
                self.read_usage(message.get("usage").unwrap_or(&Value::Null));
            }
            "content_block_start" => {
                let block = data.get("content_block").unwrap_or(&Value::Null);
                match str_field(block, "/type") {
                    "text" => push_delta(out, str_field(block, "/text"), false),
                    "thinking" => push_delta(out, str_field(block, "/thinking"), true),
                    "tool_use" => {
                        let tool = PendingToolUse {
                            id: str_field(block, "/id").to_owned(),
                            name: str_field(block, "/name").to_owned(),
                            json: String::new(),
                        };
                        self.tools.insert(index, tool);
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = data.get("delta").unwrap_or(&Value::Null);
                match str_field(delta, "/type") {
                    "text_delta" => push_delta(out, str_field(delta, "/text"), false),
                    "thinking_delta" => push_delta(out, str_field(delta, "/thinking"), true),
                    "input_json_delta" => {
                        if let Some(tool) = self.tools.get_mut(&index) {
                            tool.json.push_str(str_field(delta, "/partial_json"));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_stop" => self.emit_tool(index, out)?,
            "message_delta" => {
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_owned());
                }
                self.read_usage(data.get("usage").unwrap_or(&Value::Null));
            }
            "message_stop" => return self.finish(out),
            "error" => return Err(stream_error(&data)),
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn on_end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        Err(truncated_stream("message_stop"))
    }
}
