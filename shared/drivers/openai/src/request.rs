//! The Responses API request body built from a [`ChatRequest`].
//!
//! The system prompt becomes `instructions`; user text and images become `message` input items;
//! agent text becomes assistant `message` items with `output_text` content; agent tool calls become
//! `function_call` items and tool results `function_call_output` items, in history order.

use serde_json::{Map, Value, json};

use everruns_core::domain::{ContentPart, Conversation, MessageRole};
use everruns_core::driver::ChatRequest;
use everruns_driver_common::request::{
    data_url, image_file_placeholder, system_text, tool_parameters, tool_result_text,
};

/// The JSON body of `POST /responses` (streaming, not stored at the provider).
pub fn build_body(model: &str, request: &ChatRequest) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let instructions = system_text(request);
    if !instructions.is_empty() {
        body.insert("instructions".into(), json!(instructions));
    }
    body.insert("input".into(), Value::Array(input_items(&request.messages)));
    body.insert("stream".into(), json!(true));
    body.insert("store".into(), json!(false));
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|tool| {
                json!({
                    "type": "function",
                    "name": tool.name,
                    "description": tool.description,
                    "parameters": tool_parameters(tool),
                })
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
    }
    if let Some(effort) = request.reasoning_effort.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        body.insert("reasoning".into(), json!({ "effort": effort, "summary": "auto" }));
    }
    if let Some(max_tokens) = request.max_tokens {
        body.insert("max_output_tokens".into(), json!(max_tokens));
    }
    if !request.metadata.is_empty() {
        body.insert("metadata".into(), json!(request.metadata));
    }
    Value::Object(body)
}

/// The `input` items for the conversation history (system messages go to `instructions`).
pub fn input_items(messages: &Conversation) -> Vec<Value> {
    let mut items = Vec::new();
    for message in messages {
        match message.role {
            MessageRole::System => {}
            MessageRole::User => push_user(&mut items, &message.content),
            MessageRole::Agent => push_agent(&mut items, &message.content),
            MessageRole::ToolResult => {
                let mut texts = Vec::new();
                for part in &message.content {
                    match part {
                        ContentPart::ToolResult { tool_call_id, result, error } => items.push(json!({
                            "type": "function_call_output",
                            "call_id": tool_call_id,
                            "output": tool_result_text(result.as_ref(), error.as_deref()),
                        })),
                        other => texts.push(other.clone()),
                    }
                }
                push_user(&mut items, &texts);
            }
        }
    }
    items
}

fn push_user(items: &mut Vec<Value>, parts: &[ContentPart]) {
    let content: Vec<Value> = parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text { text } if !text.is_empty() => Some(json!({"type": "input_text", "text": text})),
            ContentPart::Image { base64: Some(data), media_type, .. } => {
                Some(json!({"type": "input_image", "image_url": data_url(media_type.as_deref(), data)}))
            }
            ContentPart::Image { url: Some(url), .. } => Some(json!({"type": "input_image", "image_url": url})),
            ContentPart::ImageFile { image_id, filename } => Some(json!({
                "type": "input_text",
                "text": image_file_placeholder(image_id, filename.as_deref()),
            })),
            _ => None,
        })
        .collect();
    if !content.is_empty() {
        items.push(json!({"type": "message", "role": "user", "content": content}));
    }
}

fn push_agent(items: &mut Vec<Value>, parts: &[ContentPart]) {
    let mut text = String::new();
    let flush = |items: &mut Vec<Value>, text: &mut String| {
        if !text.is_empty() {
            let content = json!([{"type": "output_text", "text": std::mem::take(text)}]);
            items.push(json!({"type": "message", "role": "assistant", "content": content}));
        }
    };
    for part in parts {
        match part {
            ContentPart::Text { text: piece } => text.push_str(piece),
            ContentPart::ToolCall { id, name, arguments } => {
                flush(items, &mut text);
                let arguments = match arguments {
                    Value::Null => "{}".to_owned(),
                    other => other.to_string(),
                };
                items.push(json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}));
            }
            _ => {}
        }
    }
    flush(items, &mut text);
}
