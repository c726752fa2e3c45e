//! Built-in harness templates: data the platform reconciles into each org's harnesses at startup.
//! Special behaviour comes from roles, not names, so an embedder may rename them freely.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::AgentCapabilityConfig;

/// What a built-in harness is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltInHarnessRole {
    /// The blank layer.
    Base,
    /// The org default: used when neither session nor agent names a harness.
    Default,
    /// Used by the global chat session endpoint.
    Chat,
}

/// A capability selected by a built-in harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltInCapabilityDefinition {
    /// Capability id.
    pub id: String,
    /// Per-harness config.
    pub config: Value,
}

impl BuiltInCapabilityDefinition {
    /// A capability with empty config.
    pub fn new(id: impl Into<String>) -> Self {
        Self { id: id.into(), config: Value::Object(Default::default()) }
    }

    /// Sets the config.
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// As a capability reference.
    pub fn to_ref(&self) -> AgentCapabilityConfig {
        AgentCapabilityConfig { capability_ref: self.id.clone(), config: self.config.clone() }
    }
}

/// A built-in harness template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuiltInHarnessDefinition {
    /// Slug (the harness name).
    pub name: String,
    /// UI label.
    pub display_name: String,
    /// Description.
    pub description: String,
    /// Base prompt.
    pub system_prompt: String,
    /// Roles.
    pub roles: Vec<BuiltInHarnessRole>,
    /// Tags.
    pub tags: Vec<String>,
    /// Capabilities.
    pub capabilities: Vec<BuiltInCapabilityDefinition>,
    /// Parent template name.
    pub parent: Option<String>,
}

impl BuiltInHarnessDefinition {
    /// A template with no roles, tags or capabilities.
    pub fn new(
        name: impl Into<String>,
        display_name: impl Into<String>,
        description: impl Into<String>,
        system_prompt: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            display_name: display_name.into(),
            description: description.into(),
            system_prompt: system_prompt.into(),
            roles: Vec::new(),
            tags: Vec::new(),
            capabilities: Vec::new(),
            parent: None,
        }
    }

    /// Sets the roles.
    pub fn with_roles(mut self, roles: impl IntoIterator<Item = BuiltInHarnessRole>) -> Self {
        self.roles = roles.into_iter().collect();
        self
    }

    /// Sets the tags.
    pub fn with_tags<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the capabilities.
    pub fn with_capabilities(mut self, capabilities: impl IntoIterator<Item = BuiltInCapabilityDefinition>) -> Self {
        self.capabilities = capabilities.into_iter().collect();
        self
    }

    /// Sets the parent template.
    pub fn with_parent(mut self, parent: impl Into<String>) -> Self {
        self.parent = Some(parent.into());
        self
    }

    /// Whether the template carries the role.
    pub fn has_role(&self, role: BuiltInHarnessRole) -> bool {
        self.roles.contains(&role)
    }
}

/// The stock templates: `base` (Base), `generic` (Default: the time, the session's files and web
/// fetch, as the contract's minimal compatible set) and `platform-chat` (Chat).
pub fn stock_built_in_harnesses() -> Vec<BuiltInHarnessDefinition> {
    vec![
        BuiltInHarnessDefinition::new("base", "Base", "The blank base layer.", "You are a helpful assistant.")
            .with_roles([BuiltInHarnessRole::Base])
            .with_tags(["built-in"]),
        BuiltInHarnessDefinition::new(
            "generic",
            "Generic",
            "The default harness for agents and sessions.",
            "You are a helpful assistant.",
        )
        .with_roles([BuiltInHarnessRole::Default])
        .with_tags(["built-in"])
        .with_capabilities([
            BuiltInCapabilityDefinition::new("current_time"),
            BuiltInCapabilityDefinition::new("session_file_system"),
            BuiltInCapabilityDefinition::new("web_fetch"),
        ]),
        BuiltInHarnessDefinition::new(
            "platform-chat",
            "Platform Chat",
            "Harness of the global chat endpoint.",
            "You help the operator use the Everruns platform: its agents, harnesses, sessions and models.",
        )
        .with_roles([BuiltInHarnessRole::Chat])
        .with_tags(["built-in"])
        .with_parent("base"),
    ]
}
