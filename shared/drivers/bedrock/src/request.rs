//! The ConverseStream request built from a [`ChatRequest`].
//!
//! The system prompt becomes a `system` text block. User text and inline images (`png`, `jpeg`,
//! `gif`, `webp`, sent as bytes) become user content; agent text and tool calls become assistant
//! `text` and `toolUse` blocks; tool results become `toolResult` blocks (text, `status: error` for a
//! failed call) at the head of a user message. Consecutive messages of the same role are merged
//! (the API wants alternating roles) and blank text is dropped (the API rejects it). Tools become
//! `toolSpec`s with their JSON schema. Bedrock refuses tool blocks in a request without a tool
//! configuration, so when the request declares no tools, earlier calls and results travel as text.
//! `max_tokens` goes to `inferenceConfig.maxTokens` when set (the port carries no temperature).
//! Linked images (`url`) and stored images become a text placeholder: Bedrock takes bytes or S3.

use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ImageBlock, ImageFormat, ImageSource, InferenceConfiguration, Message,
    SystemContentBlock, Tool, ToolConfiguration, ToolInputSchema, ToolResultBlock, ToolResultContentBlock,
    ToolResultStatus, ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::{Document, Number};
use base64::Engine;
use serde_json::Value;

use everruns_core::domain::{ContentPart, Conversation, MessageRole};
use everruns_core::driver::{ChatRequest, DriverError, DriverErrorKind};
use everruns_driver_common::request::{
    arguments_object, image_file_placeholder, system_text, tool_parameters, tool_result_text,
};

/// The parts of a ConverseStream call that come from the request.
#[derive(Debug, Clone, Default)]
pub struct ConverseInput {
    /// `system`.
    pub system: Vec<SystemContentBlock>,
    /// `messages`.
    pub messages: Vec<Message>,
    /// `toolConfig`, when the request declares tools.
    pub tool_config: Option<ToolConfiguration>,
    /// `inferenceConfig`, when `max_tokens` is set.
    pub inference: Option<InferenceConfiguration>,
}

fn invalid(what: &str, error: impl std::fmt::Display) -> DriverError {
    DriverError::new(DriverErrorKind::InvalidRequest, format!("building the Bedrock {what}: {error}"))
}

/// Maps a request (see the module docs).
pub fn build_input(request: &ChatRequest) -> Result<ConverseInput, DriverError> {
    let system = system_text(request);
    let declared = !request.tools.is_empty();
    let tool_config = if declared {
        let mut tools = Vec::with_capacity(request.tools.len());
        for tool in request.tools.iter() {
            let spec = ToolSpecification::builder()
                .name(&tool.name)
                .set_description(Some(tool.description.clone()).filter(|d| !d.trim().is_empty()))
                .input_schema(ToolInputSchema::Json(document(&tool_parameters(tool))))
                .build()
                .map_err(|e| invalid("tool specification", e))?;
            tools.push(Tool::ToolSpec(spec));
        }
        Some(
            ToolConfiguration::builder()
                .set_tools(Some(tools))
                .build()
                .map_err(|e| invalid("tool configuration", e))?,
        )
    } else {
        None
    };
    Ok(ConverseInput {
        system: if system.is_empty() { Vec::new() } else { vec![SystemContentBlock::Text(system)] },
        messages: map_messages(&request.messages, declared)?,
        tool_config,
        inference: request
            .max_tokens
            .map(|max| InferenceConfiguration::builder().max_tokens(i32::try_from(max).unwrap_or(i32::MAX)).build()),
    })
}

/// The `messages`: roles alternate, empty messages are dropped. `tools_declared` false turns tool
/// blocks into text.
pub fn map_messages(history: &Conversation, tools_declared: bool) -> Result<Vec<Message>, DriverError> {
    let mut merged: Vec<(ConversationRole, Vec<ContentBlock>)> = Vec::new();
    for message in history {
        let (role, blocks) = match message.role {
            MessageRole::System => continue,
            MessageRole::User | MessageRole::ToolResult => {
                (ConversationRole::User, user_blocks(&message.content, tools_declared)?)
            }
            MessageRole::Agent => (ConversationRole::Assistant, assistant_blocks(&message.content, tools_declared)?),
        };
        if blocks.is_empty() {
            continue;
        }
        match merged.last_mut() {
            Some((last, last_blocks)) if *last == role => {
                // Tool results must lead a user message.
                let (results, others): (Vec<_>, Vec<_>) =
                    blocks.into_iter().partition(|b| matches!(b, ContentBlock::ToolResult(_)));
                let at = last_blocks.iter().take_while(|b| matches!(b, ContentBlock::ToolResult(_))).count();
                last_blocks.splice(at..at, results);
                last_blocks.extend(others);
            }
            _ => merged.push((role, blocks)),
        }
    }
    merged
        .into_iter()
        .map(|(role, content)| {
            Message::builder().role(role).set_content(Some(content)).build().map_err(|e| invalid("message", e))
        })
        .collect()
}

fn user_blocks(parts: &[ContentPart], tools_declared: bool) -> Result<Vec<ContentBlock>, DriverError> {
    let mut results = Vec::new();
    let mut others = Vec::new();
    for part in parts {
        match part {
            ContentPart::ToolResult { tool_call_id, result, error } => {
                let mut text = tool_result_text(result.as_ref(), error.as_deref());
                if text.trim().is_empty() {
                    text = "(no output)".to_owned();
                }
                if !tools_declared {
                    others.push(ContentBlock::Text(format!("[result of tool call {tool_call_id}] {text}")));
                    continue;
                }
                let block = ToolResultBlock::builder()
                    .tool_use_id(tool_call_id)
                    .content(ToolResultContentBlock::Text(text))
                    .set_status(error.is_some().then_some(ToolResultStatus::Error))
                    .build()
                    .map_err(|e| invalid("tool result", e))?;
                results.push(ContentBlock::ToolResult(block));
            }
            ContentPart::Text { text } if !text.trim().is_empty() => others.push(ContentBlock::Text(text.clone())),
            ContentPart::Image { base64: Some(data), media_type, .. } => others.push(image_block(data, media_type)?),
            ContentPart::Image { url: Some(url), .. } => others.push(ContentBlock::Text(format!("[image: {url}]"))),
            ContentPart::ImageFile { image_id, filename } => {
                others.push(ContentBlock::Text(image_file_placeholder(image_id, filename.as_deref())));
            }
            _ => {}
        }
    }
    results.extend(others);
    Ok(results)
}

/// An inline image as bytes, or a placeholder when its type or data cannot be sent.
fn image_block(data: &str, media_type: &Option<String>) -> Result<ContentBlock, DriverError> {
    let media_type = media_type.as_deref().unwrap_or("image/png").to_ascii_lowercase();
    let format = match media_type.as_str() {
        "image/png" => ImageFormat::Png,
        "image/jpeg" | "image/jpg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::Webp,
        other => return Ok(ContentBlock::Text(format!("[image of unsupported type {other}]"))),
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data.trim()) else {
        return Ok(ContentBlock::Text("[image with invalid base64 data]".to_owned()));
    };
    let image = ImageBlock::builder()
        .format(format)
        .source(ImageSource::Bytes(Blob::new(bytes)))
        .build()
        .map_err(|e| invalid("image", e))?;
    Ok(ContentBlock::Image(image))
}

fn assistant_blocks(parts: &[ContentPart], tools_declared: bool) -> Result<Vec<ContentBlock>, DriverError> {
    let mut blocks = Vec::new();
    for part in parts {
        match part {
            ContentPart::Text { text } if !text.trim().is_empty() => blocks.push(ContentBlock::Text(text.clone())),
            ContentPart::ToolCall { id, name, arguments } if tools_declared => {
                let block = ToolUseBlock::builder()
                    .tool_use_id(id)
                    .name(name)
                    .input(document(&arguments_object(arguments)))
                    .build()
                    .map_err(|e| invalid("tool use", e))?;
                blocks.push(ContentBlock::ToolUse(block));
            }
            ContentPart::ToolCall { id, name, arguments } => {
                blocks.push(ContentBlock::Text(format!("[tool call {id}: {name} {}]", arguments_object(arguments))));
            }
            _ => {}
        }
    }
    Ok(blocks)
}

/// A JSON value as a Smithy document.
pub fn document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(document).collect()),
        Value::Object(map) => Document::Object(map.iter().map(|(k, v)| (k.clone(), document(v))).collect()),
    }
}

#[cfg(test)]
mod tests {
    use everruns_core::domain::Message as ChatMessage;
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_keep_every_json_kind() {
        let value = json!({"a": [1, -2, 1.5, "x", true, null], "b": {}});
        let Document::Object(map) = document(&value) else { panic!("object") };
        let Some(Document::Array(items)) = map.get("a") else { panic!("array") };
        assert_eq!(items[0], Document::Number(Number::PosInt(1)));
        assert_eq!(items[1], Document::Number(Number::NegInt(-2)));
        assert_eq!(items[2], Document::Number(Number::Float(1.5)));
        assert_eq!(items[5], Document::Null);
    }

    #[test]
    fn without_declared_tools_tool_blocks_become_text() {
        let history: Conversation = vec![
            ChatMessage::user_text("hi"),
            ChatMessage::new(
                MessageRole::Agent,
                vec![ContentPart::ToolCall { id: "c1".into(), name: "t".into(), arguments: json!({"x": 1}) }],
            ),
            ChatMessage::new(
                MessageRole::ToolResult,
                vec![ContentPart::ToolResult { tool_call_id: "c1".into(), result: Some(json!("ok")), error: None }],
            ),
        ]
        .into();
        let messages = map_messages(&history, false).unwrap_or_default();
        assert_eq!(messages.len(), 3);
        assert!(messages.iter().flat_map(|m| &m.content).all(|b| matches!(b, ContentBlock::Text(_))));
        let messages = map_messages(&history, true).unwrap_or_default();
        assert!(matches!(messages[1].content[0], ContentBlock::ToolUse(_)));
        assert!(matches!(messages[2].content[0], ContentBlock::ToolResult(_)));
    }

    #[test]
    fn max_tokens_and_unsupported_images() {
        let request = ChatRequest { max_tokens: Some(u32::MAX), ..Default::default() };
        let input = build_input(&request).unwrap_or_default();
        assert_eq!(input.inference.and_then(|i| i.max_tokens), Some(i32::MAX));
        assert!(input.system.is_empty() && input.tool_config.is_none());
        let block = image_block("aGk=", &Some("image/tiff".into())).ok();
        assert!(matches!(block, Some(ContentBlock::Text(t)) if t.contains("image/tiff")));
    }
}
