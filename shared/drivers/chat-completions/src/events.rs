//! Decoding the Chat Completions chunk stream into chat chunks.
//!
//! Each `data:` line is a `chat.completion.chunk`: `choices[0].delta.content` is text,
//! `delta.reasoning` / `delta.reasoning_content` (OpenRouter, vLLM, DeepSeek-style servers) is
//! thinking, and `delta.tool_calls[]` opens a call (`id`, `function.name`) and grows its
//! `function.arguments` piece by piece, keyed by `index`. `finish_reason` arrives on the last
//! choice chunk; with `stream_options.include_usage` a final chunk with empty `choices` carries
//! `usage` (`prompt_tokens`, `completion_tokens`, `prompt_tokens_details.cached_tokens`, and at
//! OpenRouter `cache_write_tokens` and `cost`). `data: [DONE]` ends the response: the tool calls,
//! the usage and the finish are emitted then. An `error` object in a chunk (OpenRouter, OpenAI
//! mid-stream failures) ends it with a typed error.

use std::collections::BTreeMap;

use serde_json::Value;

use everruns_core::domain::TokenUsage;
use everruns_core::driver::{ChatChunk, ChatFinish, DriverError, DriverErrorKind, ToolCall};
use everruns_driver_common::sse::SseEvent;
use everruns_driver_common::stream::{
    EventDecoder, Flow, parse_event_json, parse_tool_arguments, str_field, truncated_stream, u64_field,
};

/// A tool call whose arguments are still streaming.
#[derive(Debug, Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

/// The Chat Completions decoder state.
#[derive(Debug, Default)]
pub struct ChatCompletionsDecoder {
    response_id: Option<String>,
    model: Option<String>,
    calls: BTreeMap<u64, PendingCall>,
    finish_reason: Option<String>,
    usage: Option<TokenUsage>,
}

impl ChatCompletionsDecoder {
    /// A decoder at the start of a response.
    pub fn new() -> Self {
        Self::default()
    }

    /// The slot of a streamed tool-call delta: its `index`, else (servers that send whole calls
    /// without one) the call with the same `id`, a new slot for a new `id`, or the latest slot.
    fn slot(&self, delta: &Value) -> u64 {
        if let Some(index) = u64_field(delta, "/index") {
            return index;
        }
        let next = self.calls.keys().next_back().map_or(0, |last| last + 1);
        match str_field(delta, "/id") {
            "" => self.calls.keys().next_back().copied().unwrap_or(0),
            id => self.calls.iter().find(|(_, call)| call.id == id).map_or(next, |(slot, _)| *slot),
        }
    }

    fn on_tool_call(&mut self, delta: &Value) {
        let slot = self.slot(delta);
        let call = self.calls.entry(slot).or_default();
        let id = str_field(delta, "/id");
        if !id.is_empty() {
            call.id = id.to_owned();
        }
        let name = str_field(delta, "/function/name");
        if !name.is_empty() && call.name.is_empty() {
            call.name = name.to_owned();
        }
        match delta.pointer("/function/arguments") {
            Some(Value::String(piece)) => call.arguments.push_str(piece),
            // A few servers send the arguments as an object, whole.
            Some(object @ Value::Object(_)) => call.arguments = object.to_string(),
            _ => {}
        }
    }

    fn on_choice(&mut self, choice: &Value, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        for field in ["/reasoning", "/reasoning_content"] {
            let thinking = str_field(delta, field);
            if !thinking.is_empty() {
                out.push(ChatChunk::ThinkingDelta(thinking.to_owned()));
                break;
            }
        }
        for field in ["/content", "/refusal"] {
            let text = str_field(delta, field);
            if !text.is_empty() {
                out.push(ChatChunk::TextDelta(text.to_owned()));
            }
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for call in calls {
                self.on_tool_call(call);
            }
        }
        match str_field(choice, "/finish_reason") {
            "" => {}
            "error" => {
                return Err(DriverError::new(
                    DriverErrorKind::ProviderUnavailable,
                    "the provider ended the response with an error",
                ));
            }
            reason => self.finish_reason = Some(reason.to_owned()),
        }
        Ok(())
    }

    fn close(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        let calls = std::mem::take(&mut self.calls);
        let has_calls = !calls.is_empty();
        for (slot, call) in calls {
            let arguments = parse_tool_arguments(&call.name, &call.arguments)?;
            let id = if call.id.is_empty() { format!("call_{slot}") } else { call.id };
            out.push(ChatChunk::ToolCall(ToolCall { id, name: call.name, arguments }));
        }
        if let Some(usage) = self.usage.take() {
            out.push(ChatChunk::Usage(usage));
        }
        out.push(ChatChunk::Finished(ChatFinish {
            finish_reason: Some(finish_reason(self.finish_reason.as_deref(), has_calls)),
            response_id: self.response_id.clone(),
            model: self.model.clone(),
        }));
        Ok(())
    }
}

/// The port's stop reason for a Chat Completions `finish_reason`. Servers that report `stop`
/// after tool calls (Ollama and others) get `tool_calls`, as does the legacy `function_call`.
fn finish_reason(reason: Option<&str>, tool_calls: bool) -> String {
    match reason {
        None | Some("stop") if tool_calls => "tool_calls",
        None => "stop",
        Some("function_call") => "tool_calls",
        Some(other) => other,
    }
    .to_owned()
}

/// The usage object of a chunk: `usage`, or Groq's `x_groq.usage`.
fn usage(chunk: &Value) -> Option<TokenUsage> {
    let usage = chunk.get("usage").or_else(|| chunk.pointer("/x_groq/usage")).filter(|u| u.is_object())?;
    if let Some(cost) = usage.get("cost").and_then(Value::as_f64) {
        // The port's usage has no cost field: OpenRouter's figure is logged, not recorded.
        tracing::debug!(cost, "the provider reported the call's cost");
    }
    Some(TokenUsage {
        input_tokens: u64_field(usage, "/prompt_tokens").unwrap_or(0),
        output_tokens: u64_field(usage, "/completion_tokens").unwrap_or(0),
        cache_read_tokens: u64_field(usage, "/prompt_tokens_details/cached_tokens"),
        cache_creation_tokens: u64_field(usage, "/prompt_tokens_details/cache_write_tokens"),
    })
}

/// The error for an in-stream `error` object (`{code, message}`; `code` a string or, at
/// OpenRouter, an HTTP status).
fn stream_error(error: &Value) -> DriverError {
    let message = match error.get("message").and_then(Value::as_str).or_else(|| error.as_str()) {
        Some(text) if !text.is_empty() => text.to_owned(),
        _ => format!("the provider reported an error: {error}"),
    };
    if let Some(status) = error.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()) {
        return DriverError::from_status(status, message);
    }
    let code = match str_field(error, "/code") {
        "" => str_field(error, "/type"),
        code => code,
    };
    let kind = match code {
        "rate_limit_exceeded" | "rate_limit_error" => DriverErrorKind::RateLimited,
        "insufficient_quota" => DriverErrorKind::QuotaExhausted,
        "server_error" | "server_is_overloaded" | "overloaded_error" => DriverErrorKind::ProviderUnavailable,
        "context_length_exceeded" => DriverErrorKind::RequestTooLarge,
        "model_not_found" => DriverErrorKind::ModelNotAvailable,
        "invalid_request_error" => DriverErrorKind::InvalidRequest,
        "authentication_error" | "invalid_api_key" => DriverErrorKind::Authentication,
        _ => DriverErrorKind::Other,
    };
    DriverError::new(kind, message)
}

impl EventDecoder for ChatCompletionsDecoder {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        if event.data.trim() == "[DONE]" {
            self.close(out)?;
            return Ok(Flow::Done);
        }
        let chunk = parse_event_json(event)?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            return Err(stream_error(error));
        }
        for (field, slot) in [("/id", &mut self.response_id), ("/model", &mut self.model)] {
            let value = str_field(&chunk, field);
            if !value.is_empty() {
                *slot = Some(value.to_owned());
            }
        }
        if let Some(usage) = usage(&chunk) {
            self.usage = Some(usage);
        }
        // Only the first choice is read (`n` is never set).
        let first = chunk
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|choices| choices.iter().find(|c| u64_field(c, "/index").unwrap_or(0) == 0));
        if let Some(choice) = first {
            self.on_choice(choice, out)?;
        }
        Ok(Flow::Continue)
    }

    fn on_end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        // Some compatible servers close the stream after the finish without `[DONE]`.
        if self.finish_reason.is_some() { self.close(out) } else { Err(truncated_stream("[DONE]")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons_map_to_the_port() {
        assert_eq!(finish_reason(None, false), "stop");
        assert_eq!(finish_reason(None, true), "tool_calls");
        assert_eq!(finish_reason(Some("stop"), true), "tool_calls");
        assert_eq!(finish_reason(Some("stop"), false), "stop");
        assert_eq!(finish_reason(Some("length"), false), "length");
        assert_eq!(finish_reason(Some("function_call"), false), "tool_calls");
        assert_eq!(finish_reason(Some("content_filter"), false), "content_filter");
    }

    #[test]
    fn stream_errors_are_typed() {
        let openrouter = stream_error(&serde_json::json!({"code": 429, "message": "slow down"}));
        assert_eq!((openrouter.kind, openrouter.status), (DriverErrorKind::RateLimited, Some(429)));
        let openai = stream_error(&serde_json::json!({"type": "server_error", "message": "boom", "code": null}));
        assert_eq!((openai.kind, openai.message.as_str()), (DriverErrorKind::ProviderUnavailable, "boom"));
        let long = stream_error(&serde_json::json!({"code": "context_length_exceeded", "message": "too long"}));
        assert_eq!(long.kind, DriverErrorKind::RequestTooLarge);
        assert_eq!(stream_error(&serde_json::json!("plain")).message, "plain");
    }
}
