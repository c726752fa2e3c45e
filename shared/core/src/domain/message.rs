//! Messages and their content parts. Messages are not stored on their own: they are rebuilt from
//! the session's events (`input.message`, `output.message.completed`, `tool.completed`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::Controls;
use crate::ids::MessageId;
use crate::time::Timestamp;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageRole {
    /// A system prompt (only in what is sent to the model).
    System,
    /// The user.
    User,
    /// The model.
    Agent,
    /// Tool results fed back to the model.
    ToolResult,
}

/// Execution phase of an agent message: with tool calls it is commentary, without it is the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessagePhase {
    /// Text that accompanies tool calls.
    #[serde(alias = "in_progress")]
    Commentary,
    /// The final answer of the turn.
    #[serde(alias = "completed")]
    FinalAnswer,
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// An inline or linked image.
    Image {
        /// Base64 data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base64: Option<String>,
        /// URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// MIME type.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
    /// A stored image.
    ImageFile {
        /// The image id.
        image_id: String,
        /// Original file name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
    /// A tool call made by the model.
    ToolCall {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
        /// Arguments object.
        arguments: Value,
    },
    /// The result of a tool call.
    ToolResult {
        /// The call this answers.
        tool_call_id: String,
        /// Result value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        result: Option<Value>,
        /// Error text.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
}

impl ContentPart {
    /// The concatenated text of the text parts among `parts`.
    pub fn joined_text(parts: &[ContentPart]) -> String {
        let mut out = String::new();
        for part in parts {
            if let ContentPart::Text { text } = part {
                out.push_str(text);
            }
        }
        out
    }

    /// The concatenated text when every part is text; `None` when any part is not.
    pub fn only_text(parts: &[ContentPart]) -> Option<String> {
        parts.iter().all(|p| matches!(p, ContentPart::Text { .. })).then(|| Self::joined_text(parts))
    }

    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text { text: text.into() }
    }

    /// Whether a user may send this part (text and images only).
    pub fn is_user_input(&self) -> bool {
        matches!(self, Self::Text { .. } | Self::Image { .. } | Self::ImageFile { .. })
    }
}

/// A message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The id.
    pub id: MessageId,
    /// Who wrote it.
    pub role: MessageRole,
    /// Content parts.
    pub content: Vec<ContentPart>,
    /// Created.
    pub created_at: Timestamp,
    /// Controls sent with a user message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controls: Option<Controls>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Phase of an agent message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<MessagePhase>,
    /// Model reasoning text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
}

impl Message {
    /// A message with the given role and parts, a fresh id and the current time.
    pub fn new(role: MessageRole, content: Vec<ContentPart>) -> Self {
        Self {
            id: MessageId::new(),
            role,
            content,
            created_at: Timestamp::now(),
            controls: None,
            metadata: None,
            phase: None,
            thinking: None,
        }
    }

    /// A user message holding one text part.
    pub fn user_text(text: impl Into<String>) -> Self {
        Self::new(MessageRole::User, vec![ContentPart::text(text)])
    }

    /// The concatenated text parts.
    pub fn text(&self) -> String {
        ContentPart::joined_text(&self.content)
    }

    /// The tool calls embedded in the content.
    pub fn tool_calls(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.content.iter().filter_map(|part| match part {
            ContentPart::ToolCall { id, name, arguments } => Some((id.as_str(), name.as_str(), arguments)),
            _ => None,
        })
    }
}
