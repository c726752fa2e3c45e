//! Sessions, their messages, events, client tool results and cancellation.

use utoipa::ToSchema;

use super::agents::{
    AgentCapabilityConfig, CapabilityRefInput, InitialFile, NetworkAccessList, TokenUsage, ToolDefinition,
};
use super::common::{AgentId, AnyValue, EventId, HarnessId, MessageId, ModelId, Name, OrgId, SessionId, Timestamp};

/// Where a session is in its life.
#[derive(ToSchema)]
pub enum SessionStatus {
    /// Created; no turn has run yet.
    #[schema(rename = "started")]
    Started,
    /// A turn is running.
    #[schema(rename = "active")]
    Active,
    /// No turn is running.
    #[schema(rename = "idle")]
    Idle,
    /// The turn waits for client-side tool results.
    #[schema(rename = "waitingfortoolresults")]
    WaitingForToolResults,
}

/// A session. Optional fields are absent (never null) when unset.
#[derive(ToSchema)]
pub struct Session {
    pub id: SessionId,
    pub organization_id: OrgId,
    pub harness_id: HarnessId,
    #[serde(default)]
    pub agent_id: AgentId,
    pub status: SessionStatus,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub locale: String,
    /// The start of the first user message.
    #[serde(default)]
    pub preview: String,
    /// The start of the last agent answer.
    #[serde(default)]
    pub output_preview: String,
    pub tags: Vec<String>,
    #[serde(default)]
    pub model_id: ModelId,
    #[serde(default)]
    pub capabilities: Vec<AgentCapabilityConfig>,
    #[serde(default)]
    pub tools: Vec<ToolDefinition>,
    #[serde(default)]
    pub initial_files: Vec<InitialFile>,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub hints: AnyValue,
    #[serde(default)]
    pub network_access: NetworkAccessList,
    #[serde(default)]
    pub max_iterations: u32,
    #[serde(default)]
    pub parallel_tool_calls: bool,
    #[serde(rename = "mcpServers", default)]
    pub mcp_servers: AnyValue,
    #[serde(default)]
    pub usage: TokenUsage,
    #[serde(default)]
    pub started_at: Timestamp,
    #[serde(default)]
    pub finished_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Creates a session from a harness (by id or name, never both) or an agent (by id or name,
/// never both); the other fields override theirs.
#[derive(ToSchema)]
pub struct CreateSessionRequest {
    /// A harness id or name.
    pub harness_id: Option<String>,
    pub harness_name: Option<Name>,
    pub agent_id: Option<AgentId>,
    pub agent_name: Option<Name>,
    pub title: Option<String>,
    pub locale: Option<String>,
    pub model_id: Option<ModelId>,
    pub tags: Option<Vec<String>>,
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    pub tools: Option<Vec<ToolDefinition>>,
    pub initial_files: Option<Vec<InitialFile>>,
    pub system_prompt: Option<String>,
    pub hints: Option<AnyValue>,
    pub max_iterations: Option<u32>,
    pub parallel_tool_calls: Option<bool>,
    pub network_access: Option<NetworkAccessList>,
    #[serde(rename = "mcpServers")]
    pub mcp_servers: Option<AnyValue>,
}

/// Changes the given fields of a session.
#[derive(ToSchema)]
pub struct UpdateSessionRequest {
    pub title: Option<String>,
    pub locale: Option<String>,
    pub model_id: Option<ModelId>,
    pub tags: Option<Vec<String>>,
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    pub tools: Option<Vec<ToolDefinition>>,
    pub initial_files: Option<Vec<InitialFile>>,
    pub system_prompt: Option<String>,
    pub hints: Option<AnyValue>,
    pub max_iterations: Option<u32>,
    pub parallel_tool_calls: Option<bool>,
    pub network_access: Option<NetworkAccessList>,
    #[serde(rename = "mcpServers")]
    pub mcp_servers: Option<AnyValue>,
}

/// Who wrote a message.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MessageRole {
    System,
    User,
    Agent,
    ToolResult,
}

/// Whether an agent message is commentary between tool calls or the final answer.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MessagePhase {
    Commentary,
    FinalAnswer,
}

/// A part of a message's content.
#[derive(ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text.
    Text { text: String },
    /// An image, inline (`base64`) or by `url`.
    Image {
        #[serde(default)]
        base64: String,
        #[serde(default)]
        url: String,
        #[serde(default)]
        media_type: String,
    },
    /// An uploaded image.
    ImageFile {
        image_id: String,
        #[serde(default)]
        filename: String,
    },
    /// A tool call of the agent.
    ToolCall { id: String, name: String, arguments: AnyValue },
    /// A tool's result.
    ToolResult {
        tool_call_id: String,
        #[serde(default)]
        result: AnyValue,
        #[serde(default)]
        error: String,
    },
}

/// Reasoning settings.
#[derive(ToSchema)]
pub struct ReasoningControls {
    /// `low`, `medium`, `high`, …
    #[serde(default)]
    pub effort: String,
}

/// Per-message controls.
#[derive(ToSchema)]
pub struct Controls {
    #[serde(default)]
    pub model_id: ModelId,
    #[serde(default)]
    pub reasoning: ReasoningControls,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub hints: AnyValue,
    /// `generic`, `standard` or `detailed`.
    #[serde(default)]
    pub error_disclosure: String,
}

/// A message, rebuilt from the session's events.
#[derive(ToSchema)]
pub struct Message {
    pub id: MessageId,
    pub role: MessageRole,
    pub content: Vec<ContentPart>,
    pub created_at: Timestamp,
    #[serde(default)]
    pub controls: Controls,
    #[serde(default)]
    pub metadata: AnyValue,
    #[serde(default)]
    pub phase: MessagePhase,
    #[serde(default)]
    pub thinking: String,
    /// Set in lists.
    #[serde(default)]
    pub session_id: SessionId,
    /// Set in lists.
    #[serde(default)]
    pub sequence: i64,
}

/// Only `user` may be posted.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PostedRole {
    User,
}

/// A message as posted.
#[derive(ToSchema)]
pub struct MessageInput {
    /// Absent means `user`.
    pub role: Option<PostedRole>,
    #[schema(min_items = 1)]
    pub content: Vec<ContentPart>,
}

/// Posts a user message: it starts a turn, or steers the running one.
#[derive(ToSchema)]
pub struct CreateMessageRequest {
    pub message: MessageInput,
    pub controls: Option<Controls>,
    pub metadata: Option<AnyValue>,
}

/// A persisted event.
#[derive(ToSchema)]
pub struct Event {
    pub id: EventId,
    /// The event type (`input.message`, `turn.completed`, …).
    #[serde(rename = "type")]
    pub kind: String,
    pub ts: Timestamp,
    pub session_id: SessionId,
    /// Turn, message and trace ids.
    pub context: AnyValue,
    /// The type's payload.
    pub data: AnyValue,
    #[serde(default)]
    pub sequence: i64,
    #[serde(default)]
    pub metadata: AnyValue,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One client-side tool's outcome.
#[derive(ToSchema)]
pub struct ToolResult {
    pub tool_call_id: String,
    pub result: Option<AnyValue>,
    pub error: Option<String>,
}

/// Results of the client-side tool calls a turn waits on.
#[derive(ToSchema)]
pub struct SubmitToolResultsRequest {
    pub tool_results: Vec<ToolResult>,
}

/// How many results were taken.
#[derive(ToSchema)]
pub struct SubmitToolResultsResponse {
    pub accepted: u64,
    /// `active`.
    pub status: String,
}

/// `cancelled` or `no_op`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CancelStatus {
    Cancelled,
    NoOp,
}

/// What a cancel did.
#[derive(ToSchema)]
pub struct CancelTurnResponse {
    pub status: CancelStatus,
    pub message: String,
}

/// One server-sent event of `GET /v1/sessions/{session_id}/sse`: `connected` first, then each
/// session event (`event` is its type, `id` its event id, `data` the [`Event`] as JSON), and
/// `disconnecting` before the server closes the stream. Heartbeats are comments.
#[derive(ToSchema)]
pub struct SseEvent {
    /// The event name.
    #[serde(default)]
    pub event: String,
    /// JSON text.
    #[serde(default)]
    pub data: String,
    /// The event id (resume with `since_id` or `Last-Event-ID`).
    #[serde(default)]
    pub id: String,
    /// The reconnection delay in milliseconds.
    #[serde(default)]
    pub retry: u64,
}
