//! Decoding the `streamGenerateContent?alt=sse` stream into chat chunks.
//!
//! Every event is a whole `GenerateContentResponse`. The parts of `candidates[0].content` give text
//! (`thought: true` marks thinking) and complete `functionCall`s (`name`, `args`; the id is
//! synthesized as `call_<hex>` when Gemini sends none). `usageMetadata` and `finishReason` are kept
//! and reported when the stream ends; a stream that ends without a finish reason is truncated. An
//! `error` object in the stream fails the response with its HTTP-like code.

use serde_json::Value;

use everruns_core::domain::TokenUsage;
use everruns_core::driver::{ChatChunk, ChatFinish, DriverError, ToolCall};
use everruns_driver_common::sse::SseEvent;
use everruns_driver_common::stream::{EventDecoder, Flow, parse_event_json, str_field, truncated_stream, u64_field};

/// A fresh id for a Gemini function call: `call_` and 32 hex digits.
pub fn synthesize_call_id() -> String {
    format!("call_{}", uuid::Uuid::new_v4().simple())
}

/// The Gemini stream decoder state.
#[derive(Debug, Default)]
pub struct GenerateContentDecoder {
    response_id: Option<String>,
    model: Option<String>,
    usage: Option<TokenUsage>,
    finish_reason: Option<String>,
    tool_calls: usize,
}

impl GenerateContentDecoder {
    /// A decoder at the start of a response.
    pub fn new() -> Self {
        Self::default()
    }

    fn read_parts(&mut self, parts: &[Value], out: &mut Vec<ChatChunk>) {
        for part in parts {
            if let Some(call) = part.get("functionCall") {
                let id = match str_field(call, "/id") {
                    "" => synthesize_call_id(),
                    id => id.to_owned(),
                };
                let arguments = match call.get("args") {
                    Some(Value::Object(args)) => Value::Object(args.clone()),
                    _ => Value::Object(Default::default()),
                };
                self.tool_calls += 1;
                out.push(ChatChunk::ToolCall(ToolCall { id, name: str_field(call, "/name").to_owned(), arguments }));
            } else if let Some(text) = part.get("text").and_then(Value::as_str).filter(|t| !t.is_empty()) {
                let thought = part.get("thought").and_then(Value::as_bool).unwrap_or(false);
                out.push(if thought {
                    ChatChunk::ThinkingDelta(text.to_owned())
                } else {
                    ChatChunk::TextDelta(text.to_owned())
                });
            }
        }
    }

    fn read_usage(&mut self, usage: &Value) {
        let output = u64_field(usage, "/candidatesTokenCount").unwrap_or(0)
            + u64_field(usage, "/thoughtsTokenCount").unwrap_or(0);
        self.usage = Some(TokenUsage {
            input_tokens: u64_field(usage, "/promptTokenCount").unwrap_or(0),
            output_tokens: output,
            cache_read_tokens: u64_field(usage, "/cachedContentTokenCount"),
            cache_creation_tokens: None,
        });
    }
}

/// Our finish reason for Gemini's `finishReason`.
fn finish_reason(reason: &str, tool_calls: bool) -> String {
    match reason {
        "STOP" if tool_calls => "tool_calls".to_owned(),
        "STOP" => "stop".to_owned(),
        "MAX_TOKENS" => "length".to_owned(),
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter".to_owned()
        }
        other => other.to_ascii_lowercase(),
    }
}

impl EventDecoder for GenerateContentDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        let data = parse_event_json(event)?;
        if let Some(error) = data.get("error").filter(|e| e.is_object()) {
            let status = u64_field(error, "/code").and_then(|c| u16::try_from(c).ok()).unwrap_or(500);
            let message = match str_field(error, "/message") {
                "" => format!("Gemini stream error ({})", str_field(error, "/status")),
                text => text.to_owned(),
            };
            return Err(DriverError::from_status(status, message));
        }
        if let Some(id) = data.get("responseId").and_then(Value::as_str) {
            self.response_id = Some(id.to_owned());
        }
        if let Some(model) = data.get("modelVersion").and_then(Value::as_str) {
            self.model = Some(model.to_owned());
        }
        let candidate = data.pointer("/candidates/0").unwrap_or(&Value::Null);
        if let Some(parts) = candidate.pointer("/content/parts").and_then(Value::as_array) {
            self.read_parts(parts, out);
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        if data.pointer("/promptFeedback/blockReason").is_some() {
            self.finish_reason = Some("SAFETY".to_owned());
        }
        if let Some(usage) = data.get("usageMetadata").filter(|u| u.is_object()) {
            self.read_usage(usage);
        }
        Ok(Flow::Continue)
    }

    fn on_end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        let Some(reason) = self.finish_reason.take() else {
            return Err(truncated_stream("a finishReason"));
        };
        if let Some(usage) = self.usage {
            out.push(ChatChunk::Usage(usage));
        }
        out.push(ChatChunk::Finished(ChatFinish {
            finish_reason: Some(finish_reason(&reason, self.tool_calls > 0)),
            response_id: self.response_id.clone(),
            model: self.model.clone(),
        }));
        Ok(())
    }
}
