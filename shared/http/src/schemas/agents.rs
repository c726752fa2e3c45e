//! Agents and the configuration parts agents, harnesses and sessions share: capability refs,
//! client-side tools, initial files, network lists, token usage.

use utoipa::ToSchema;

use super::common::{AgentId, AnyValue, EntityStatus, HarnessId, ModelId, Name, Timestamp};

/// A capability enabled on an agent, harness or session.
#[derive(ToSchema)]
pub struct AgentCapabilityConfig {
    /// The capability id (`current_time`, …).
    #[serde(rename = "ref")]
    pub capability_ref: String,
    /// Its configuration (absent when empty).
    #[serde(default)]
    pub config: AnyValue,
}

/// A capability given by id alone (`"current_time"`) or as `{ref, config}`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum CapabilityRefInput {
    /// `{ref, config}`.
    Full(AgentCapabilityConfig),
    /// The id alone.
    Id(String),
}

/// `client_side` (the client runs it) or `builtin`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ToolKind {
    /// Run by the client, which submits the result.
    ClientSide,
    /// Run by the platform.
    Builtin,
}

/// A tool the model may call.
#[derive(ToSchema)]
pub struct ToolDefinition {
    /// Who runs it (default `client_side`).
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// The tool's name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// A JSON Schema of its arguments.
    pub parameters: AnyValue,
    /// A label.
    #[serde(default)]
    pub display_name: String,
    /// A grouping.
    #[serde(default)]
    pub category: String,
}

/// A file placed in the session's workspace when it starts.
#[derive(ToSchema)]
pub struct InitialFile {
    /// Its path (under `/workspace`).
    pub path: String,
    /// Its content.
    pub content: String,
    /// `base64` for binary content.
    #[serde(default)]
    pub encoding: String,
    /// Whether the agent may not change it.
    #[serde(default)]
    pub is_readonly: bool,
}

/// Outbound network rules.
#[derive(ToSchema)]
pub struct NetworkAccessList {
    /// Allowed hosts.
    #[serde(default)]
    pub allowed: Vec<String>,
    /// Blocked hosts.
    #[serde(default)]
    pub blocked: Vec<String>,
}

/// Tokens used.
#[derive(ToSchema)]
pub struct TokenUsage {
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's cache.
    #[serde(default)]
    pub cache_creation_tokens: u64,
}

/// An agent. Optional fields are absent (never null) when unset.
#[derive(ToSchema)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    pub system_prompt: String,
    pub harness_id: HarnessId,
    #[serde(default)]
    pub default_model_id: ModelId,
    pub capabilities: Vec<AgentCapabilityConfig>,
    pub tools: Vec<ToolDefinition>,
    #[serde(default)]
    pub initial_files: Vec<InitialFile>,
    pub tags: Vec<String>,
    pub status: EntityStatus,
    #[serde(default)]
    pub max_iterations: u32,
    #[serde(default)]
    pub parallel_tool_calls: bool,
    #[serde(default)]
    pub network_access: NetworkAccessList,
    #[serde(rename = "mcpServers", default)]
    pub mcp_servers: AnyValue,
    #[serde(default)]
    pub usage: TokenUsage,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub archived_at: Timestamp,
    #[serde(default)]
    pub deleted_at: Timestamp,
}

/// Creates (or, by id or name, replaces) an agent. `harness_id` and `harness_name` are
/// mutually exclusive.
#[derive(ToSchema)]
pub struct CreateAgentRequest {
    /// The id to give the agent (upsert by id).
    pub id: Option<AgentId>,
    pub name: Name,
    pub display_name: Option<String>,
    pub description: Option<String>,
    #[schema(max_length = 100000)]
    pub system_prompt: String,
    /// A harness id or name.
    pub harness_id: Option<String>,
    pub harness_name: Option<Name>,
    pub default_model_id: Option<ModelId>,
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    pub tools: Option<Vec<ToolDefinition>>,
    pub initial_files: Option<Vec<InitialFile>>,
    pub tags: Option<Vec<String>>,
    pub max_iterations: Option<u32>,
    pub parallel_tool_calls: Option<bool>,
    pub network_access: Option<NetworkAccessList>,
    #[serde(rename = "mcpServers")]
    pub mcp_servers: Option<AnyValue>,
    pub status: Option<EntityStatus>,
}

/// Changes the given fields of an agent.
#[derive(ToSchema)]
pub struct UpdateAgentRequest {
    pub name: Option<Name>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    #[schema(max_length = 100000)]
    pub system_prompt: Option<String>,
    /// A harness id or name.
    pub harness_id: Option<String>,
    pub harness_name: Option<Name>,
    pub default_model_id: Option<ModelId>,
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    pub tools: Option<Vec<ToolDefinition>>,
    pub initial_files: Option<Vec<InitialFile>>,
    pub tags: Option<Vec<String>>,
    pub max_iterations: Option<u32>,
    pub parallel_tool_calls: Option<bool>,
    pub network_access: Option<NetworkAccessList>,
    #[serde(rename = "mcpServers")]
    pub mcp_servers: Option<AnyValue>,
    pub status: Option<EntityStatus>,
}
