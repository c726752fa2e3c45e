//! The chat driver port: one streaming call to an LLM, with tool calls, usage and typed errors.
//!
//! A driver turns a [`ChatRequest`] into a stream of [`ChatChunk`]s. It never reads credentials from
//! the process environment: everything it needs arrives in its `DriverConfig` (fail-closed).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{Conversation, TokenUsage, ToolDefinition};

/// Everything one model call needs.
#[derive(Debug, Clone, Default)]
pub struct ChatRequest {
    /// Wire model id.
    pub model: String,
    /// The merged system prompt.
    pub system_prompt: String,
    /// Conversation history, oldest first (user, agent and tool-result messages); shared with
    /// the turn's context and its `llm.generation`, not copied.
    pub messages: Conversation,
    /// Tools the model may call (deduplicated by name); shared with the turn's context.
    pub tools: Arc<[ToolDefinition]>,
    /// Reasoning effort, when set.
    pub reasoning_effort: Option<String>,
    /// Output token cap.
    pub max_tokens: Option<u32>,
    /// Parallel tool calls (None: provider default).
    pub parallel_tool_calls: Option<bool>,
    /// Metadata passed to the provider (harness `embedder_metadata`).
    pub metadata: BTreeMap<String, String>,
}

/// A tool call produced by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id, unique within the response.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments object.
    pub arguments: Value,
}

/// One piece of a streamed response.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatChunk {
    /// Visible text.
    TextDelta(String),
    /// Reasoning text.
    ThinkingDelta(String),
    /// A complete tool call.
    ToolCall(ToolCall),
    /// Token usage (may come more than once; the last wins).
    Usage(TokenUsage),
    /// End of the response.
    Finished(ChatFinish),
}

/// Closing facts of a response.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatFinish {
    /// Why generation stopped (`stop`, `tool_calls`, `length`, …).
    pub finish_reason: Option<String>,
    /// Provider response id.
    pub response_id: Option<String>,
    /// The model that actually answered.
    pub model: Option<String>,
}

/// A response stream.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<ChatChunk, DriverError>> + Send>>;

/// The class of a driver failure; decides the friendly message, the stable code and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriverErrorKind {
    /// HTTP 429 or equivalent.
    RateLimited,
    /// Missing or rejected credentials, or a misconfigured provider.
    Authentication,
    /// The account is out of quota or credit.
    QuotaExhausted,
    /// The provider failed (5xx, overloaded).
    ProviderUnavailable,
    /// The request is too large for the model's context.
    RequestTooLarge,
    /// The provider rejected the request (4xx).
    InvalidRequest,
    /// The model does not exist or is not available.
    ModelNotAvailable,
    /// Timed out or the connection failed.
    Network,
    /// Anything else.
    Other,
}

/// A typed driver failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct DriverError {
    /// The failure class.
    pub kind: DriverErrorKind,
    /// Raw driver text, for operators (never shown to end users as-is).
    pub message: String,
    /// HTTP status, when there was one.
    pub status: Option<u16>,
    /// Provider-requested wait before retrying.
    pub retry_after: Option<Duration>,
}

impl DriverError {
    /// A failure of the given class.
    pub fn new(kind: DriverErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), status: None, retry_after: None }
    }

    /// Classifies an HTTP status the way every driver does.
    pub fn from_status(status: u16, message: impl Into<String>) -> Self {
        let kind = match status {
            429 => DriverErrorKind::RateLimited,
            401 | 403 => DriverErrorKind::Authentication,
            402 => DriverErrorKind::QuotaExhausted,
            404 => DriverErrorKind::ModelNotAvailable,
            408 | 504 => DriverErrorKind::Network,
            413 => DriverErrorKind::RequestTooLarge,
            500..=599 => DriverErrorKind::ProviderUnavailable,
            400..=499 => DriverErrorKind::InvalidRequest,
            _ => DriverErrorKind::Other,
        };
        Self { status: Some(status), ..Self::new(kind, message) }
    }

    /// Whether a driver-level retry may help (HTTP 408/409/429/5xx except 501).
    pub fn is_retryable(&self) -> bool {
        match self.status {
            Some(s) => matches!(s, 408 | 409 | 429) || ((500..=599).contains(&s) && s != 501),
            None => matches!(self.kind, DriverErrorKind::Network | DriverErrorKind::ProviderUnavailable),
        }
    }

    /// The stable error code shown to clients (`error_code`).
    pub fn error_code(&self) -> &'static str {
        match self.kind {
            DriverErrorKind::RateLimited => "provider_rate_limited",
            DriverErrorKind::Authentication => "provider_misconfigured",
            DriverErrorKind::QuotaExhausted => "provider_quota_exhausted",
            DriverErrorKind::ProviderUnavailable => "provider_unavailable",
            DriverErrorKind::RequestTooLarge => "request_too_large",
            _ => "processing_error",
        }
    }

    /// The friendly text for this class (standard disclosure).
    pub fn friendly_message(&self) -> &'static str {
        match self.kind {
            DriverErrorKind::RateLimited => {
                "I was rate limited by the AI provider. Please wait a moment and try again."
            }
            DriverErrorKind::Authentication | DriverErrorKind::QuotaExhausted => {
                "The AI provider is not configured correctly. Please contact support."
            }
            DriverErrorKind::ProviderUnavailable => "The AI provider is experiencing issues. Please try again later.",
            DriverErrorKind::RequestTooLarge => {
                "This conversation is too long for the model. Please start a new session."
            }
            _ => GENERIC_ERROR_MESSAGE,
        }
    }
}

/// The user-visible text of a failed turn when nothing more specific applies (seed wording).
pub const GENERIC_ERROR_MESSAGE: &str = "I encountered an error while processing your request. Please try again later.";

/// A streaming LLM client.
#[async_trait::async_trait]
pub trait ChatDriver: Send + Sync {
    /// Starts one streaming call. Errors before the first chunk come back here; later ones in the stream.
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError>;
}
