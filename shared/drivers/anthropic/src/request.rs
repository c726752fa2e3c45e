//! The Messages API request body built from a [`ChatRequest`].
//!
//! User text and images become user content blocks; agent text and tool calls become assistant
//! `text` and `tool_use` blocks; tool results become `tool_result` blocks of a user message;
//! consecutive messages of the same role are merged (the API wants alternating roles). The system
//! prompt goes to `system`. Prompt caching is requested at two breakpoints: the system prompt (which
//! caches the tools with it) and the last block of the conversation.

use serde_json::{Map, Value, json};

use everruns_core::domain::{ContentPart, Conversation, MessageRole};
use everruns_core::driver::ChatRequest;
use everruns_driver_common::request::{
    arguments_object, image_file_placeholder, system_text, thinking_budget, tool_parameters, tool_result_text,
};

/// `max_tokens` when the request sets none (contract §6.2).
pub const DEFAULT_MAX_TOKENS: u32 = 16_384;

/// The smallest thinking budget the API accepts.
const MIN_THINKING_BUDGET: u32 = 1024;

/// The JSON body of `POST /v1/messages` (streaming).
pub fn build_body(model: &str, request: &ChatRequest) -> Value {
    let mut messages = map_messages(&request.messages);
    let (max_tokens, budget) = token_limits(request, mid_tool_loop(&messages));
    mark_last_block_for_caching(&mut messages);

    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(max_tokens));
    let system = system_text(request);
    if !system.is_empty() {
        body.insert("system".into(), json!([{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]));
    }
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| json!({"name": tool.name, "description": tool.description, "input_schema": tool_parameters(tool)}))
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if request.parallel_tool_calls == Some(false) {
            body.insert("tool_choice".into(), json!({"type": "auto", "disable_parallel_tool_use": true}));
        }
    }
    if let Some(budget) = budget {
        body.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
    }
    if let Some(user_id) = request.metadata.get("user_id") {
        body.insert("metadata".into(), json!({ "user_id": user_id }));
    }
    body.insert("stream".into(), json!(true));
    Value::Object(body)
}

/// `max_tokens` and the thinking budget. The budget must stay below `max_tokens`: a defaulted
/// `max_tokens` grows to make room, an explicit one shrinks the budget (thinking is dropped below
/// the API minimum). Thinking is also dropped in the middle of a tool loop, where the API would
/// require the previous turn's signed thinking blocks, which the history does not keep.
fn token_limits(request: &ChatRequest, in_tool_loop: bool) -> (u32, Option<u32>) {
    let budget = thinking_budget(request.reasoning_effort.as_deref()).filter(|_| !in_tool_loop);
    match (request.max_tokens, budget) {
        (Some(max), Some(budget)) if budget >= max => {
            let shrunk = max.saturating_sub(1);
            (max, (shrunk >= MIN_THINKING_BUDGET).then_some(shrunk))
        }
        (Some(max), budget) => (max, budget),
        (None, Some(budget)) if budget >= DEFAULT_MAX_TOKENS => (budget + DEFAULT_MAX_TOKENS, Some(budget)),
        (None, budget) => (DEFAULT_MAX_TOKENS, budget),
    }
}

/// Whether the conversation ends with tool results answering an assistant turn.
fn mid_tool_loop(messages: &[Value]) -> bool {
    messages
        .last()
        .and_then(|m| m["content"].as_array())
        .is_some_and(|blocks| blocks.iter().any(|b| b["type"] == "tool_result"))
}

fn mark_last_block_for_caching(messages: &mut [Value]) {
    let last = messages.last_mut().and_then(|m| m["content"].as_array_mut()).and_then(|b| b.last_mut());
    if let Some(Value::Object(block)) = last {
        block.insert("cache_control".into(), json!({"type": "ephemeral"}));
    }
}

/// The `messages` array: roles alternate, empty messages are dropped.
pub fn map_messages(history: &Conversation) -> Vec<Value> {
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for message in history {
        let (role, blocks) = match message.role {
            MessageRole::System => continue,
            MessageRole::User => ("user", user_blocks(&message.content)),
            MessageRole::ToolResult => ("user", user_blocks(&message.content)),
            MessageRole::Agent => ("assistant", assistant_blocks(&message.content)),
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last_role, last_blocks)) if *last_role == role => last_blocks.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    out.into_iter().map(|(role, content)| json!({"role": role, "content": content})).collect()
}

fn user_blocks(parts: &[ContentPart]) -> Vec<Value> {
    let mut results = Vec::new();
    let mut others = Vec::new();
    for part in parts {
        match part {
            ContentPart::ToolResult { tool_call_id, result, error } => {
                let mut block = json!({"type": "tool_result", "tool_use_id": tool_call_id});
                let text = tool_result_text(result.as_ref(), error.as_deref());
                if !text.is_empty() {
                    block["content"] = json!(text);
                }
                if error.is_some() {
                    block["is_error"] = json!(true);
                }
                results.push(block);
            }
            ContentPart::Text { text } if !text.is_empty() => others.push(json!({"type": "text", "text": text})),
            ContentPart::Image { base64: Some(data), media_type, .. } => others.push(json!({
                "type": "image",
                "source": {"type": "base64", "media_type": media_type.as_deref().unwrap_or("image/png"), "data": data},
            })),
            ContentPart::Image { url: Some(url), .. } => {
                others.push(json!({"type": "image", "source": {"type": "url", "url": url}}));
            }
            ContentPart::ImageFile { image_id, filename } => others.push(json!({
                "type": "text",
                "text": image_file_placeholder(image_id, filename.as_deref()),
            })),
            _ => {}
        }
    }
    // Tool results must come first in a user message.
    results.extend(others);
    results
}

fn assistant_blocks(parts: &[ContentPart]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } if !text.trim().is_empty() => Some(json!({"type": "text", "text": text})),
            ContentPart::ToolCall { id, name, arguments } => {
                Some(json!({"type": "tool_use", "id": id, "name": name, "input": arguments_object(arguments)}))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: Option<u32>, effort: Option<&str>, in_loop: bool) -> (u32, Option<u32>) {
        let request =
            ChatRequest { max_tokens: max, reasoning_effort: effort.map(str::to_owned), ..Default::default() };
        token_limits(&request, in_loop)
    }

    #[test]
    fn thinking_budgets_fit_under_max_tokens() {
        assert_eq!(limits(None, None, false), (16_384, None));
        assert_eq!(limits(None, Some("low"), false), (16_384, Some(1024)));
        assert_eq!(limits(None, Some("medium"), false), (16_384, Some(4096)));
        assert_eq!(limits(None, Some("high"), false), (32_768, Some(16_384)));
        assert_eq!(limits(Some(8000), Some("high"), false), (8000, Some(7999)));
        assert_eq!(limits(Some(1000), Some("low"), false), (1000, None));
        assert_eq!(limits(None, Some("none"), false), (16_384, None));
        assert_eq!(limits(None, Some("high"), true), (16_384, None));
    }
}
