//! Decoding the Responses API event stream into chat chunks.
//!
//! Text comes from `response.output_text.delta` (and `response.refusal.delta`), thinking from
//! `response.reasoning_summary_text.delta` / `response.reasoning_text.delta`. A function call is
//! opened by `response.output_item.added`, its arguments grow with
//! `response.function_call_arguments.delta` (or arrive whole in `.done`), and it is emitted as one
//! [`ChatChunk::ToolCall`] on `response.output_item.done`. `response.completed` (or
//! `response.incomplete`) carries the usage and ends the response; `response.failed` and `error`
//! end it with a typed error.

use std::collections::HashMap;

use serde_json::Value;

use everruns_core::domain::TokenUsage;
use everruns_core::driver::{ChatChunk, ChatFinish, DriverError, DriverErrorKind, ToolCall};
use everruns_driver_common::sse::SseEvent;
use everruns_driver_common::stream::{
    EventDecoder, Flow, parse_event_json, parse_tool_arguments, str_field, truncated_stream, u64_field,
};

/// A function call whose arguments are still streaming.
#[derive(Debug, Default)]
struct PendingCall {
    call_id: String,
    name: String,
    arguments: String,
}

/// The Responses API decoder state.
#[derive(Debug, Default)]
pub struct ResponsesDecoder {
    response_id: Option<String>,
    model: Option<String>,
    pending: HashMap<String, PendingCall>,
    tool_calls: usize,
}

impl ResponsesDecoder {
    /// A decoder at the start of a response.
    pub fn new() -> Self {
        Self::default()
    }

    fn remember_response(&mut self, response: &Value) {
        if let Some(id) = response.get("id").and_then(Value::as_str) {
            self.response_id = Some(id.to_owned());
        }
        if let Some(model) = response.get("model").and_then(Value::as_str) {
            self.model = Some(model.to_owned());
        }
    }

    fn open_call(&mut self, key: String, item: &Value) {
        let call = PendingCall {
            call_id: str_field(item, "/call_id").to_owned(),
            name: str_field(item, "/name").to_owned(),
            arguments: str_field(item, "/arguments").to_owned(),
        };
        self.pending.insert(key, call);
    }

    fn close_call(&mut self, key: &str, item: &Value, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        let mut call = self.pending.remove(key).unwrap_or_default();
        for (field, slot) in [("/call_id", &mut call.call_id), ("/name", &mut call.name)] {
            let value = str_field(item, field);
            if !value.is_empty() {
                *slot = value.to_owned();
            }
        }
        let complete = str_field(item, "/arguments");
        if !complete.is_empty() {
            call.arguments = complete.to_owned();
        }
        if call.call_id.is_empty() {
            call.call_id = str_field(item, "/id").to_owned();
        }
        self.emit(call, out)
    }

    fn emit(&mut self, call: PendingCall, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        let arguments = parse_tool_arguments(&call.name, &call.arguments)?;
        self.tool_calls += 1;
        out.push(ChatChunk::ToolCall(ToolCall { id: call.call_id, name: call.name, arguments }));
        Ok(())
    }

    fn finish(&mut self, response: &Value, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        self.remember_response(response);
        let mut leftovers: Vec<_> = self.pending.drain().collect();
        leftovers.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, call) in leftovers {
            self.emit(call, out)?;
        }
        if let Some(usage) = response.get("usage").filter(|u| u.is_object()) {
            out.push(ChatChunk::Usage(TokenUsage {
                input_tokens: u64_field(usage, "/input_tokens").unwrap_or(0),
                output_tokens: u64_field(usage, "/output_tokens").unwrap_or(0),
                cache_read_tokens: u64_field(usage, "/input_tokens_details/cached_tokens"),
                cache_creation_tokens: None,
            }));
        }
        let finish_reason = match str_field(response, "/incomplete_details/reason") {
            "max_output_tokens" => "length".to_owned(),
            "" if self.tool_calls > 0 => "tool_calls".to_owned(),
            "" => "stop".to_owned(),
            other => other.to_owned(),
        };
        out.push(ChatChunk::Finished(ChatFinish {
            finish_reason: Some(finish_reason),
            response_id: self.response_id.clone(),
            model: self.model.clone(),
        }));
        Ok(Flow::Done)
    }
}

/// The error for a `response.failed` or `error` payload (`{code, message}`).
fn stream_error(error: &Value) -> DriverError {
    let code = str_field(error, "/code");
    let message = match str_field(error, "/message") {
        "" => format!("the OpenAI response failed ({code})"),
        text => text.to_owned(),
    };
    let kind = match code {
        "rate_limit_exceeded" => DriverErrorKind::RateLimited,
        "insufficient_quota" => DriverErrorKind::QuotaExhausted,
        "server_error" | "server_is_overloaded" | "slow_down" => DriverErrorKind::ProviderUnavailable,
        "context_length_exceeded" => DriverErrorKind::RequestTooLarge,
        "model_not_found" => DriverErrorKind::ModelNotAvailable,
        "invalid_prompt" | "invalid_request_error" | "invalid_image" | "invalid_image_url" => {
            DriverErrorKind::InvalidRequest
        }
        _ => DriverErrorKind::Other,
    };
    DriverError::new(kind, message)
}

impl EventDecoder for ResponsesDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        if event.data.trim() == "[DONE]" {
            return Ok(Flow::Continue);
        }
        let data = parse_event_json(event)?;
        let kind = match str_field(&data, "/type") {
            "" => event.event.as_deref().unwrap_or_default(),
            kind => kind,
        };
        let key = || match str_field(&data, "/item_id") {
            "" => u64_field(&data, "/output_index").map(|i| format!("#{i}")).unwrap_or_default(),
            id => id.to_owned(),
        };
        match kind {
            "response.created" | "response.in_progress" => {
                self.remember_response(data.get("response").unwrap_or(&Value::Null));
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let delta = str_field(&data, "/delta");
                if !delta.is_empty() {
                    out.push(ChatChunk::TextDelta(delta.to_owned()));
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                let delta = str_field(&data, "/delta");
                if !delta.is_empty() {
                    out.push(ChatChunk::ThinkingDelta(delta.to_owned()));
                }
            }
            "response.reasoning_summary_part.added" if u64_field(&data, "/summary_index").unwrap_or(0) > 0 => {
                out.push(ChatChunk::ThinkingDelta("\n\n".to_owned()));
            }
            "response.output_item.added" if str_field(&data, "/item/type") == "function_call" => {
                let key = match str_field(&data, "/item/id") {
                    "" => key(),
                    id => id.to_owned(),
                };
                self.open_call(key, data.get("item").unwrap_or(&Value::Null));
            }
            "response.function_call_arguments.delta" => {
                let call = self.pending.entry(key()).or_default();
                call.arguments.push_str(str_field(&data, "/delta"));
            }
            "response.function_call_arguments.done" => {
                let arguments = str_field(&data, "/arguments").to_owned();
                let call = self.pending.entry(key()).or_default();
                if !arguments.is_empty() {
                    call.arguments = arguments;
                }
            }
            "response.output_item.done" if str_field(&data, "/item/type") == "function_call" => {
                let item = data.get("item").unwrap_or(&Value::Null);
                let key = match str_field(item, "/id") {
                    "" => key(),
                    id => id.to_owned(),
                };
                self.close_call(&key, item, out)?;
            }
            "response.completed" | "response.incomplete" => {
                return self.finish(data.get("response").unwrap_or(&Value::Null), out);
            }
            "response.failed" => {
                return Err(stream_error(data.pointer("/response/error").unwrap_or(&Value::Null)));
            }
            "error" => return Err(stream_error(data.get("error").filter(|e| e.is_object()).unwrap_or(&data))),
            _ => {}
        }
        Ok(Flow::Continue)
    }

    fn on_end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        Err(truncated_stream("response.completed"))
    }
}
