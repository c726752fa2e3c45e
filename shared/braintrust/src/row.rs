//! An `llm.generation` event as a Braintrust project-logs row (the body item of
//! `POST /v1/project_logs/{project_id}/insert`).
//!
//! | Row field | From the event |
//! |---|---|
//! | `id` | the event id (re-sending the same event replaces the row, so retries are idempotent) |
//! | `created` | the event time (RFC 3339) |
//! | `input` | the request messages, system prompt included, in chat format ([`crate::chat`]) |
//! | `output` | the model's answer as one assistant message (text and tool calls), or `null` |
//! | `error` | the error text of a failed call (absent on success) |
//! | `metadata` | `model`, `provider`, `success`, `finish_reasons`, `response_id`, `error`, `session_id`, `turn_id`, `input_message_id`, `tools` |
//! | `metrics` | `prompt_tokens`, `completion_tokens`, `tokens`, `prompt_cached_tokens`, `prompt_cache_creation_tokens`, `start`, `end` (Unix seconds; the event is emitted when the call ends, so `start = end - duration`), `time_to_first_token` (seconds) |
//! | `span_attributes` | `{"name": "chat {model}", "type": "llm"}` |
//! | `tags` | the event's tags, when it has any |

use everruns_core::events::{Event, EventPayload, GenerationMetadata, LlmGenerationData};
use serde_json::{Map, Value, json};

use crate::chat;

/// The row of an `llm.generation` event; `None` for any other event.
pub fn generation_row(event: &Event) -> Option<Value> {
    let EventPayload::LlmGeneration(data) = &event.payload else {
        return None;
    };
    let meta = &data.metadata;
    let mut row = Map::new();
    row.insert("id".into(), event.id.to_string().into());
    row.insert("created".into(), event.ts.to_string().into());
    row.insert("input".into(), Value::Array(chat::messages(data.messages.iter())));
    row.insert("output".into(), chat::output(&data.output));
    if !meta.success {
        let error = meta.error.clone().unwrap_or_else(|| "the LLM call failed".to_owned());
        row.insert("error".into(), error.into());
    }
    row.insert("metadata".into(), Value::Object(metadata(event, data)));
    row.insert("metrics".into(), Value::Object(metrics(event, meta)));
    row.insert("span_attributes".into(), json!({ "name": format!("chat {}", meta.model), "type": "llm" }));
    if !event.tags.is_empty() {
        row.insert("tags".into(), json!(event.tags));
    }
    Some(Value::Object(row))
}

fn metadata(event: &Event, data: &LlmGenerationData) -> Map<String, Value> {
    let meta = &data.metadata;
    let mut out = Map::new();
    out.insert("model".into(), meta.model.clone().into());
    insert_some(&mut out, "provider", meta.provider.clone().map(Value::from));
    out.insert("success".into(), meta.success.into());
    insert_some(&mut out, "finish_reasons", meta.finish_reasons.as_ref().map(|r| json!(r)));
    insert_some(&mut out, "response_id", meta.response_id.clone().map(Value::from));
    insert_some(&mut out, "error", meta.error.clone().map(Value::from));
    out.insert("session_id".into(), event.session_id.to_string().into());
    insert_some(&mut out, "turn_id", event.context.turn_id.map(|t| t.to_string().into()));
    insert_some(&mut out, "input_message_id", event.context.input_message_id.map(|m| m.to_string().into()));
    if let Some(tools) = &data.tools {
        let tools: Vec<Value> = tools
            .iter()
            .map(|t| json!({ "type": "function", "function": { "name": t.name, "description": t.description } }))
            .collect();
        out.insert("tools".into(), Value::Array(tools));
    }
    out
}

fn metrics(event: &Event, meta: &GenerationMetadata) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(usage) = &meta.usage {
        out.insert("prompt_tokens".into(), usage.input_tokens.into());
        out.insert("completion_tokens".into(), usage.output_tokens.into());
        out.insert("tokens".into(), usage.input_tokens.saturating_add(usage.output_tokens).into());
        insert_some(&mut out, "prompt_cached_tokens", usage.cache_read_tokens.map(Value::from));
        insert_some(&mut out, "prompt_cache_creation_tokens", usage.cache_creation_tokens.map(Value::from));
    }
    let end_ms = event.ts.millis();
    let duration_ms = meta.duration_ms.and_then(|d| i64::try_from(d).ok()).unwrap_or(0);
    out.insert("start".into(), seconds(end_ms.saturating_sub(duration_ms)));
    out.insert("end".into(), seconds(end_ms));
    insert_some(
        &mut out,
        "time_to_first_token",
        meta.time_to_first_token_ms.map(|ms| seconds(i64::try_from(ms).unwrap_or(i64::MAX))),
    );
    out
}

fn insert_some(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value);
    }
}

/// Milliseconds as (fractional) seconds; exact for any realistic time (below 2^53 ms).
fn seconds(millis: i64) -> Value {
    json!(millis as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use everruns_core::domain::{Message, TokenUsage};
    use everruns_core::events::{EventContext, GenerationOutput, GenerationTool, NewEvent, TurnStartedData};
    use everruns_core::ids::{MessageId, SessionId, TurnId};
    use everruns_core::time::Timestamp;

    use super::*;

    fn generation(success: bool) -> Event {
        let turn = TurnId::new();
        let mut event = NewEvent::new(
            SessionId::new(),
            EventContext::for_turn(turn, Some(MessageId::new())),
            EventPayload::LlmGeneration(LlmGenerationData {
                messages: vec![Message::user_text("Hi")].into(),
                output: GenerationOutput { text: success.then(|| "Hello!".to_owned()), tool_calls: vec![] },
                tools: Some(vec![GenerationTool {
                    name: "search".into(),
                    description: "Searches".into(),
                    capability_id: None,
                }]),
                metadata: GenerationMetadata {
                    model: "gpt-4o".into(),
                    success,
                    provider: Some("openai".into()),
                    usage: Some(TokenUsage {
                        input_tokens: 120,
                        output_tokens: 30,
                        cache_read_tokens: Some(100),
                        cache_creation_tokens: None,
                    }),
                    duration_ms: Some(1_500),
                    time_to_first_token_ms: Some(250),
                    error: (!success).then(|| "rate limited".to_owned()),
                    finish_reasons: Some(vec!["stop".into()]),
                    response_id: Some("resp_1".into()),
                },
            }),
        )
        .event;
        event.ts = Timestamp::from_millis(1_748_167_200_000);
        event
    }

    #[test]
    fn maps_a_successful_generation() {
        let event = generation(true);
        let row = generation_row(&event).unwrap_or_else(|| panic!("no row"));
        assert_eq!(row["id"], event.id.to_string());
        assert_eq!(row["created"], "2025-05-25T10:00:00.000Z");
        assert_eq!(row["input"], json!([{ "role": "user", "content": "Hi" }]));
        assert_eq!(row["output"], json!({ "role": "assistant", "content": "Hello!" }));
        assert!(row.get("error").is_none());
        assert_eq!(row["span_attributes"], json!({ "name": "chat gpt-4o", "type": "llm" }));
        assert_eq!(
            row["metrics"],
            json!({
                "prompt_tokens": 120, "completion_tokens": 30, "tokens": 150, "prompt_cached_tokens": 100,
                "start": 1_748_167_198.5, "end": 1_748_167_200.0, "time_to_first_token": 0.25,
            })
        );
        let metadata = &row["metadata"];
        assert_eq!(metadata["model"], "gpt-4o");
        assert_eq!(metadata["provider"], "openai");
        assert_eq!(metadata["success"], true);
        assert_eq!(metadata["finish_reasons"], json!(["stop"]));
        assert_eq!(metadata["response_id"], "resp_1");
        assert_eq!(metadata["session_id"], event.session_id.to_string());
        assert_eq!(metadata["turn_id"], event.context.turn_id.map(|t| t.to_string()).unwrap_or_default());
        assert_eq!(
            metadata["tools"],
            json!([{ "type": "function", "function": { "name": "search", "description": "Searches" } }])
        );
        assert!(row.get("tags").is_none());
    }

    #[test]
    fn a_failed_generation_carries_its_error() {
        let mut event = generation(false);
        event.tags = vec!["eval".into()];
        let row = generation_row(&event).unwrap_or_else(|| panic!("no row"));
        assert_eq!(row["error"], "rate limited");
        assert_eq!(row["output"], Value::Null);
        assert_eq!(row["metadata"]["success"], false);
        assert_eq!(row["metadata"]["error"], "rate limited");
        assert_eq!(row["tags"], json!(["eval"]));
    }

    #[test]
    fn without_duration_or_usage_start_equals_end() {
        let mut event = generation(true);
        if let EventPayload::LlmGeneration(data) = &mut event.payload {
            data.metadata.duration_ms = None;
            data.metadata.usage = None;
            data.metadata.time_to_first_token_ms = None;
        }
        let row = generation_row(&event).unwrap_or_else(|| panic!("no row"));
        assert_eq!(row["metrics"], json!({ "start": 1_748_167_200.0, "end": 1_748_167_200.0 }));
    }

    #[test]
    fn other_events_have_no_row() {
        let event = NewEvent::new(
            SessionId::new(),
            EventContext::default(),
            EventPayload::TurnStarted(TurnStartedData {
                turn_id: TurnId::new(),
                input_message_id: MessageId::new(),
                input_content: None,
            }),
        )
        .event;
        assert_eq!(generation_row(&event), None);
    }
}
