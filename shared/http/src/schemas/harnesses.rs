//! Harnesses (the reusable base an agent or session runs on) and the built-in examples.

use std::collections::BTreeMap;

use utoipa::ToSchema;

use super::agents::{AgentCapabilityConfig, CapabilityRefInput, InitialFile, NetworkAccessList};
use super::common::{AnyValue, EntityStatus, HarnessId, ModelId, Name, Timestamp};

/// A harness. Optional fields are absent (never null) when unset.
#[derive(ToSchema)]
pub struct Harness {
    pub id: HarnessId,
    pub name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub system_prompt: String,
    #[serde(default)]
    pub parent_harness_id: HarnessId,
    #[serde(default)]
    pub default_model_id: ModelId,
    pub capabilities: Vec<AgentCapabilityConfig>,
    #[serde(default)]
    pub initial_files: Vec<InitialFile>,
    pub tags: Vec<String>,
    #[serde(default)]
    pub network_access: NetworkAccessList,
    #[serde(default)]
    pub parallel_tool_calls: bool,
    #[serde(rename = "mcpServers", default)]
    pub mcp_servers: AnyValue,
    #[serde(default)]
    pub embedder_metadata: BTreeMap<String, String>,
    /// Built-in harnesses are read-only.
    pub is_built_in: bool,
    pub status: EntityStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default)]
    pub archived_at: Timestamp,
    #[serde(default)]
    pub deleted_at: Timestamp,
}

/// Creates a harness.
#[derive(ToSchema)]
pub struct CreateHarnessRequest {
    pub name: Name,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    /// A harness id or name to inherit from.
    pub parent_harness_id: Option<String>,
    pub default_model_id: Option<ModelId>,
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    pub initial_files: Option<Vec<InitialFile>>,
    pub tags: Option<Vec<String>>,
    pub network_access: Option<NetworkAccessList>,
    pub parallel_tool_calls: Option<bool>,
    #[serde(rename = "mcpServers")]
    pub mcp_servers: Option<AnyValue>,
    pub embedder_metadata: Option<BTreeMap<String, String>>,
    pub status: Option<EntityStatus>,
}

/// Changes the given fields of a user harness (`parent_harness_id: null` removes the parent).
#[derive(ToSchema)]
pub struct UpdateHarnessRequest {
    pub name: Option<Name>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub system_prompt: Option<String>,
    /// A harness id or name to inherit from; null removes the parent.
    pub parent_harness_id: Option<String>,
    pub default_model_id: Option<ModelId>,
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    pub initial_files: Option<Vec<InitialFile>>,
    pub tags: Option<Vec<String>>,
    pub network_access: Option<NetworkAccessList>,
    pub parallel_tool_calls: Option<bool>,
    #[serde(rename = "mcpServers")]
    pub mcp_servers: Option<AnyValue>,
    pub embedder_metadata: Option<BTreeMap<String, String>>,
    pub status: Option<EntityStatus>,
}

/// A built-in harness offered as an example (`GET /v1/harness-examples`, a bare array).
#[derive(ToSchema)]
pub struct HarnessExample {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub capabilities: Vec<AgentCapabilityConfig>,
    pub tags: Vec<String>,
    /// Whether it needs an experimental capability (available with `dev` only).
    pub dev_only: bool,
    /// The harness it builds on; null for a root harness.
    #[schema(required = true)]
    pub parent_name: Option<String>,
}
