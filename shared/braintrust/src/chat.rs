//! Messages in the OpenAI chat format (`{role, content, tool_calls}`, `role: tool` results), the
//! format Braintrust renders as a conversation for LLM spans.
//!
//! Roles map `system`/`user` as is, `agent` → `assistant`, and each tool result becomes a `tool`
//! message. Tool-call arguments are JSON text, as in the OpenAI API. Inline (base64) images are
//! replaced by a short placeholder so rows stay small; linked images keep their URL.

use everruns_core::domain::{ContentPart, Message, MessageRole};
use everruns_core::driver::ToolCall;
use everruns_core::events::GenerationOutput;
use serde_json::{Map, Value, json};

/// The messages sent to the model, in chat format.
pub(crate) fn messages<'a>(messages: impl IntoIterator<Item = &'a Message>) -> Vec<Value> {
    let mut out = Vec::new();
    for message in messages {
        push_message(&mut out, message);
    }
    out
}

/// What the model returned, as one assistant message; `null` when it returned nothing.
pub(crate) fn output(output: &GenerationOutput) -> Value {
    let calls: Vec<Value> = output.tool_calls.iter().map(tool_call).collect();
    if output.text.is_none() && calls.is_empty() {
        return Value::Null;
    }
    assistant(output.text.clone(), calls)
}

fn push_message(out: &mut Vec<Value>, message: &Message) {
    match message.role {
        MessageRole::System => out.push(json!({ "role": "system", "content": content(&message.content) })),
        MessageRole::User => out.push(json!({ "role": "user", "content": content(&message.content) })),
        MessageRole::Agent => {
            let calls: Vec<Value> =
                message.tool_calls().map(|(id, name, arguments)| call_json(id, name, arguments)).collect();
            let text = message.text();
            out.push(assistant((!text.is_empty()).then_some(text), calls));
        }
        MessageRole::ToolResult => {
            let mut rest = Vec::new();
            for part in &message.content {
                match part {
                    ContentPart::ToolResult { tool_call_id, result, error } => out.push(json!({
                        "role": "tool",
                        "tool_call_id": tool_call_id,
                        "content": tool_result_text(result.as_ref(), error.as_deref()),
                    })),
                    other => rest.push(other.clone()),
                }
            }
            if !rest.is_empty() {
                out.push(json!({ "role": "user", "content": content(&rest) }));
            }
        }
    }
}

fn assistant(text: Option<String>, calls: Vec<Value>) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert("content".into(), text.map_or(Value::Null, Value::String));
    if !calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    Value::Object(message)
}

/// Plain text when every part is text (joined), otherwise the list of typed parts.
fn content(parts: &[ContentPart]) -> Value {
    match ContentPart::only_text(parts) {
        Some(text) => Value::String(text),
        None => Value::Array(parts.iter().map(part).collect()),
    }
}

fn part(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({ "type": "text", "text": text }),
        ContentPart::Image { url: Some(url), .. } => json!({ "type": "image_url", "image_url": { "url": url } }),
        ContentPart::Image { base64, media_type, .. } => {
            let kind = media_type.as_deref().unwrap_or("image");
            let size = base64.as_ref().map_or(0, String::len);
            json!({ "type": "text", "text": format!("[inline {kind} omitted, {size} base64 characters]") })
        }
        ContentPart::ImageFile { image_id, filename } => {
            let name = filename.as_deref().map(|f| format!(" ({f})")).unwrap_or_default();
            json!({ "type": "text", "text": format!("[image file {image_id}{name}]") })
        }
        ContentPart::ToolCall { id, name, arguments } => {
            json!({ "type": "text", "text": format!("[tool call {id}: {name} {arguments}]") })
        }
        ContentPart::ToolResult { tool_call_id, result, error } => json!({
            "type": "text",
            "text": format!("[tool result {tool_call_id}: {}]", tool_result_text(result.as_ref(), error.as_deref())),
        }),
    }
}

fn tool_result_text(result: Option<&Value>, error: Option<&str>) -> String {
    match (result, error) {
        (_, Some(error)) => format!("Error: {error}"),
        (Some(Value::String(text)), None) => text.clone(),
        (Some(value), None) => value.to_string(),
        (None, None) => String::new(),
    }
}

fn tool_call(call: &ToolCall) -> Value {
    call_json(&call.id, &call.name, &call.arguments)
}

fn call_json(id: &str, name: &str, arguments: &Value) -> Value {
    let arguments = match arguments {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    json!({ "id": id, "type": "function", "function": { "name": name, "arguments": arguments } })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn call_part(id: &str) -> ContentPart {
        ContentPart::ToolCall { id: id.into(), name: "get_weather".into(), arguments: json!({ "city": "Paris" }) }
    }

    #[test]
    fn converts_a_tool_using_conversation() {
        let conversation = vec![
            Message::new(MessageRole::System, vec![ContentPart::text("Be brief.")]),
            Message::user_text("Weather in Paris?"),
            Message::new(MessageRole::Agent, vec![ContentPart::text("Checking."), call_part("call_1")]),
            Message::new(
                MessageRole::ToolResult,
                vec![
                    ContentPart::ToolResult {
                        tool_call_id: "call_1".into(), result: Some(json!("18°C")), error: None
                    },
                    ContentPart::ToolResult { tool_call_id: "call_2".into(), result: None, error: Some("boom".into()) },
                ],
            ),
        ];
        assert_eq!(
            Value::Array(messages(&conversation)),
            json!([
                { "role": "system", "content": "Be brief." },
                { "role": "user", "content": "Weather in Paris?" },
                { "role": "assistant", "content": "Checking.", "tool_calls": [
                    { "id": "call_1", "type": "function",
                      "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }
                ] },
                { "role": "tool", "tool_call_id": "call_1", "content": "18°C" },
                { "role": "tool", "tool_call_id": "call_2", "content": "Error: boom" },
            ])
        );
    }

    #[test]
    fn images_keep_urls_and_drop_inline_data() {
        let message = Message::new(
            MessageRole::User,
            vec![
                ContentPart::text("What is this?"),
                ContentPart::Image { base64: None, url: Some("https://x/cat.png".into()), media_type: None },
                ContentPart::Image { base64: Some("QUJD".into()), url: None, media_type: Some("image/png".into()) },
            ],
        );
        let converted = messages(&[message]);
        assert_eq!(
            converted[0]["content"],
            json!([
                { "type": "text", "text": "What is this?" },
                { "type": "image_url", "image_url": { "url": "https://x/cat.png" } },
                { "type": "text", "text": "[inline image/png omitted, 4 base64 characters]" },
            ])
        );
    }

    #[test]
    fn output_is_one_assistant_message_or_null() {
        assert_eq!(output(&GenerationOutput::default()), Value::Null);
        let text = GenerationOutput { text: Some("Hi".into()), tool_calls: vec![] };
        assert_eq!(output(&text), json!({ "role": "assistant", "content": "Hi" }));
        let calls = GenerationOutput {
            text: None,
            tool_calls: vec![ToolCall { id: "c".into(), name: "t".into(), arguments: json!({}) }],
        };
        assert_eq!(
            output(&calls),
            json!({ "role": "assistant", "content": null, "tool_calls": [
                { "id": "c", "type": "function", "function": { "name": "t", "arguments": "{}" } }
            ] })
        );
    }
}
