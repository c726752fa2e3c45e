//! Agents and harnesses: the configuration layers a session runs with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{AgentCapabilityConfig, InitialFile, NetworkAccessList, TokenUsage, ToolDefinition};
use crate::ids::{AgentId, HarnessId, ModelId, OrgId};
use crate::time::Timestamp;

/// Lifecycle of agents and harnesses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityStatus {
    /// In use.
    #[default]
    Active,
    /// Archived by `DELETE`; still readable.
    Archived,
    /// Gone.
    Deleted,
}

/// An agent: a named system prompt, tools and capabilities on top of a harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    /// The id.
    pub id: AgentId,
    /// The owning organization (not on the wire).
    #[serde(skip)]
    pub org_id: OrgId,
    /// Slug, unique per org among non-deleted agents.
    pub name: String,
    /// UI label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The agent's system prompt.
    pub system_prompt: String,
    /// The harness it runs on.
    pub harness_id: HarnessId,
    /// Default model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_model_id: Option<ModelId>,
    /// Selected capabilities.
    #[serde(default)]
    pub capabilities: Vec<AgentCapabilityConfig>,
    /// Client-side tools.
    #[serde(default)]
    pub tools: Vec<ToolDefinition>,
    /// Files copied into each session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_files: Vec<InitialFile>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Lifecycle status.
    pub status: EntityStatus,
    /// Per-turn iteration cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Parallel tool calls (None: provider default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Network access narrowing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_access: Option<NetworkAccessList>,
    /// Remote MCP servers, kept as given.
    #[serde(rename = "mcpServers", alias = "mcp_servers", default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Value>,
    /// Lifetime usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// Created.
    pub created_at: Timestamp,
    /// Last updated.
    pub updated_at: Timestamp,
    /// When archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<Timestamp>,
    /// When deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
}

impl Agent {
    /// A new active agent in the default org with the given name, prompt and harness.
    pub fn new(name: impl Into<String>, system_prompt: impl Into<String>, harness_id: HarnessId) -> Self {
        let now = Timestamp::now();
        Self {
            id: AgentId::new(),
            org_id: OrgId::DEFAULT,
            name: name.into(),
            display_name: None,
            description: None,
            system_prompt: system_prompt.into(),
            harness_id,
            default_model_id: None,
            capabilities: Vec::new(),
            tools: Vec::new(),
            initial_files: Vec::new(),
            tags: Vec::new(),
            status: EntityStatus::Active,
            max_iterations: None,
            parallel_tool_calls: None,
            network_access: None,
            mcp_servers: None,
            usage: None,
            created_at: now,
            updated_at: now,
            archived_at: None,
            deleted_at: None,
        }
    }
}

/// A harness: a reusable base layer (prompt, capabilities, files), optionally inheriting a parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Harness {
    /// The id.
    pub id: HarnessId,
    /// The owning organization (not on the wire).
    #[serde(skip)]
    pub org_id: OrgId,
    /// Slug, unique per org.
    pub name: String,
    /// UI label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Base prompt (None or empty: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Parent harness whose layer comes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_harness_id: Option<HarnessId>,
    /// Default model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_model_id: Option<ModelId>,
    /// Selected capabilities.
    #[serde(default)]
    pub capabilities: Vec<AgentCapabilityConfig>,
    /// Files copied into each session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_files: Vec<InitialFile>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Network access narrowing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_access: Option<NetworkAccessList>,
    /// Parallel tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Remote MCP servers, kept as given.
    #[serde(rename = "mcpServers", alias = "mcp_servers", default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Value>,
    /// Metadata injected into LLM requests (child keys win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedder_metadata: Option<std::collections::BTreeMap<String, String>>,
    /// Built-in harnesses are read-only.
    #[serde(default)]
    pub is_built_in: bool,
    /// Roles of a built-in harness (`base`, `default`, `chat`); not on the wire.
    #[serde(skip)]
    pub roles: Vec<crate::harness_templates::BuiltInHarnessRole>,
    /// Lifecycle status.
    pub status: EntityStatus,
    /// Created.
    pub created_at: Timestamp,
    /// Last updated.
    pub updated_at: Timestamp,
    /// When archived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archived_at: Option<Timestamp>,
    /// When deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
}

impl Harness {
    /// A new active, user-defined harness in the default org.
    pub fn new(name: impl Into<String>, system_prompt: Option<String>) -> Self {
        let now = Timestamp::now();
        Self {
            id: HarnessId::new(),
            org_id: OrgId::DEFAULT,
            name: name.into(),
            display_name: None,
            description: None,
            system_prompt,
            parent_harness_id: None,
            default_model_id: None,
            capabilities: Vec::new(),
            initial_files: Vec::new(),
            tags: Vec::new(),
            network_access: None,
            parallel_tool_calls: None,
            mcp_servers: None,
            embedder_metadata: None,
            is_built_in: false,
            roles: Vec::new(),
            status: EntityStatus::Active,
            created_at: now,
            updated_at: now,
            archived_at: None,
            deleted_at: None,
        }
    }
}
