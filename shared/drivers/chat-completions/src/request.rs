//! The Chat Completions request body built from a [`ChatRequest`].
//!
//! The system prompt becomes a leading `system` message; user text becomes a string `content`
//! (the form every compatible server accepts), or an array of `text` and `image_url` parts when
//! the message carries images; agent text and tool calls become one `assistant` message with
//! `tool_calls` (arguments as JSON text); each tool result becomes a `tool` message. The request
//! streams with `stream_options.include_usage`, so the last chunk carries the token usage.

use serde_json::{Map, Value, json};

use everruns_core::domain::{ContentPart, Conversation, MessageRole};
use everruns_core::driver::ChatRequest;
use everruns_driver_common::request::{
    data_url, image_file_placeholder, system_text, tool_parameters, tool_result_text,
};

/// How a backend spells the options the Chat Completions wire left open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI and Azure OpenAI: `max_completion_tokens` (reasoning models reject `max_tokens`)
    /// and `reasoning_effort`.
    OpenAi,
    /// Other compatible servers (vLLM, Ollama, LM Studio, Groq, Together): `max_tokens` and
    /// `reasoning_effort`.
    Compatible,
    /// OpenRouter: `max_tokens` and `reasoning: {effort}`.
    OpenRouter,
}

/// The JSON body of `POST …/chat/completions` (streaming, usage in the last chunk). The
/// request's `metadata` is not sent: OpenAI accepts it only for stored completions.
pub fn build_body(model: &str, request: &ChatRequest, dialect: Dialect) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages(request)));
    body.insert("stream".into(), json!(true));
    body.insert("stream_options".into(), json!({"include_usage": true}));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool_parameters(tool),
                }})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(effort) = request.reasoning_effort.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        match dialect {
            Dialect::OpenRouter => body.insert("reasoning".into(), json!({"effort": effort})),
            Dialect::OpenAi | Dialect::Compatible => body.insert("reasoning_effort".into(), json!(effort)),
        };
    }
    if let Some(max_tokens) = request.max_tokens {
        let field = if dialect == Dialect::OpenAi { "max_completion_tokens" } else { "max_tokens" };
        body.insert(field.into(), json!(max_tokens));
    }
    Value::Object(body)
}

/// The `messages` array: the system text first, then the history (system messages folded into
/// the first one).
pub fn messages(request: &ChatRequest) -> Vec<Value> {
    let mut out = Vec::new();
    let system = system_text(request);
    if !system.is_empty() {
        out.push(json!({"role": "system", "content": system}));
    }
    push_history(&mut out, &request.messages);
    out
}

fn push_history(out: &mut Vec<Value>, messages: &Conversation) {
    for message in messages {
        match message.role {
            MessageRole::System => {}
            MessageRole::User => push_user(out, &message.content),
            MessageRole::Agent => push_agent(out, &message.content),
            MessageRole::ToolResult => {
                let mut others = Vec::new();
                for part in &message.content {
                    match part {
                        ContentPart::ToolResult { tool_call_id, result, error } => out.push(json!({
                            "role": "tool",
                            "tool_call_id": tool_call_id,
                            "content": tool_result_text(result.as_ref(), error.as_deref()),
                        })),
                        other => others.push(other.clone()),
                    }
                }
                push_user(out, &others);
            }
        }
    }
}

fn push_user(out: &mut Vec<Value>, parts: &[ContentPart]) {
    let has_image = parts
        .iter()
        .any(|p| matches!(p, ContentPart::Image { base64: Some(_), .. } | ContentPart::Image { url: Some(_), .. }));
    if !has_image {
        let text: String = parts
            .iter()
            .filter_map(|part| match part {
                ContentPart::Text { text } => Some(text.clone()),
                ContentPart::ImageFile { image_id, filename } => {
                    Some(image_file_placeholder(image_id, filename.as_deref()))
                }
                _ => None,
            })
            .collect();
        if !text.is_empty() {
            out.push(json!({"role": "user", "content": text}));
        }
        return;
    }
    let content: Vec<Value> = parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } if !text.is_empty() => Some(json!({"type": "text", "text": text})),
            ContentPart::Image { base64: Some(data), media_type, .. } => {
                Some(json!({"type": "image_url", "image_url": {"url": data_url(media_type.as_deref(), data)}}))
            }
            ContentPart::Image { url: Some(url), .. } => Some(json!({"type": "image_url", "image_url": {"url": url}})),
            ContentPart::ImageFile { image_id, filename } => Some(json!({
                "type": "text",
                "text": image_file_placeholder(image_id, filename.as_deref()),
            })),
            _ => None,
        })
        .collect();
    out.push(json!({"role": "user", "content": content}));
}

fn push_agent(out: &mut Vec<Value>, parts: &[ContentPart]) {
    let mut text = String::new();
    let mut calls = Vec::new();
    for part in parts {
        match part {
            ContentPart::Text { text: piece } => text.push_str(piece),
            ContentPart::ToolCall { id, name, arguments } => {
                let arguments = match arguments {
                    Value::Null => "{}".to_owned(),
                    other => other.to_string(),
                };
                calls.push(json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}));
            }
            _ => {}
        }
    }
    if calls.is_empty() {
        if !text.is_empty() {
            out.push(json!({"role": "assistant", "content": text}));
        }
        return;
    }
    let content = if text.is_empty() { Value::Null } else { json!(text) };
    out.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
}
