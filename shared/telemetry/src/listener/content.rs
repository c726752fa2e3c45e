//! Content attributes (recorded only when capture is on): messages in the Gen-AI semantic
//! conventions' JSON shape (`[{"role", "parts": [{"type", ...}]}]`), bounded in size.

use everruns_core::domain::{ContentPart, Message, MessageRole};
use everruns_core::events::{GenerationOutput, ToolCompletedData};
use serde_json::{Value, json};

/// Longest content attribute kept, in characters; longer values are cut with a marker.
pub(super) const MAX_CONTENT_CHARS: usize = 32 * 1024;

/// Cuts `text` to [`MAX_CONTENT_CHARS`].
pub(super) fn bounded(text: String) -> String {
    match text.char_indices().nth(MAX_CONTENT_CHARS) {
        Some((cut, _)) => format!("{}…[truncated]", &text[..cut]),
        None => text,
    }
}

fn role(role: MessageRole) -> &'static str {
    match role {
        MessageRole::System => "system",
        MessageRole::User => "user",
        MessageRole::Agent => "assistant",
        MessageRole::ToolResult => "tool",
    }
}

/// One part; inline image bytes are never copied into a span.
fn part(part: &ContentPart) -> Value {
    match part {
        ContentPart::Text { text } => json!({ "type": "text", "content": text }),
        ContentPart::Image { url, media_type, .. } => json!({ "type": "image", "url": url, "media_type": media_type }),
        ContentPart::ImageFile { image_id, .. } => json!({ "type": "image", "image_id": image_id }),
        ContentPart::ToolCall { id, name, arguments } => {
            json!({ "type": "tool_call", "id": id, "name": name, "arguments": arguments })
        }
        ContentPart::ToolResult { tool_call_id, result, error } => {
            let response = match (result, error) {
                (_, Some(error)) => json!({ "error": error }),
                (Some(result), None) => result.clone(),
                (None, None) => Value::Null,
            };
            json!({ "type": "tool_call_response", "id": tool_call_id, "response": response })
        }
    }
}

fn message(message: &Message) -> Value {
    let mut parts: Vec<Value> = Vec::with_capacity(message.content.len() + 1);
    if let Some(thinking) = &message.thinking {
        parts.push(json!({ "type": "reasoning", "content": thinking }));
    }
    parts.extend(message.content.iter().map(part));
    json!({ "role": role(message.role), "parts": parts })
}

/// `gen_ai.input.messages` of a chat span.
pub(super) fn input_messages<'a>(messages: impl IntoIterator<Item = &'a Message>) -> String {
    bounded(Value::Array(messages.into_iter().map(message).collect()).to_string())
}

/// `gen_ai.input.messages` of a turn: the user's content.
pub(super) fn user_input(content: &[ContentPart]) -> String {
    let parts: Vec<Value> = content.iter().map(part).collect();
    bounded(json!([{ "role": "user", "parts": parts }]).to_string())
}

/// `gen_ai.output.messages` of a chat span.
pub(super) fn output_messages(output: &GenerationOutput, finish_reason: Option<&str>) -> String {
    let mut parts: Vec<Value> = Vec::with_capacity(output.tool_calls.len() + 1);
    if let Some(text) = &output.text {
        parts.push(json!({ "type": "text", "content": text }));
    }
    parts.extend(
        output
            .tool_calls
            .iter()
            .map(|c| json!({ "type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments })),
    );
    bounded(json!([{ "role": "assistant", "parts": parts, "finish_reason": finish_reason }]).to_string())
}

/// `gen_ai.tool.call.result`: the result's text parts (the engine stores JSON as text), or the
/// error text of a failed call.
pub(super) fn tool_result(data: &ToolCompletedData) -> Option<String> {
    let text = match (&data.result, &data.error) {
        (Some(parts), _) if !parts.is_empty() => {
            ContentPart::only_text(parts).unwrap_or_else(|| Value::Array(parts.iter().map(part).collect()).to_string())
        }
        (_, Some(error)) => error.clone(),
        _ => return None,
    };
    Some(bounded(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_on_a_char_boundary() {
        let long = "é".repeat(MAX_CONTENT_CHARS + 5);
        let cut = bounded(long);
        assert!(cut.ends_with("…[truncated]"));
        assert_eq!(cut.chars().count(), MAX_CONTENT_CHARS + "…[truncated]".chars().count());
        assert_eq!(bounded("short".into()), "short");
    }

    #[test]
    fn messages_follow_the_semconv_shape() {
        let mut agent = Message::new(MessageRole::Agent, vec![ContentPart::text("hi")]);
        agent.thinking = Some("hmm".into());
        let text = input_messages(&[Message::user_text("hello"), agent]);
        let value: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(value[0], json!({ "role": "user", "parts": [{ "type": "text", "content": "hello" }] }));
        assert_eq!(value[1]["role"], "assistant");
        assert_eq!(value[1]["parts"][0], json!({ "type": "reasoning", "content": "hmm" }));
    }
}
