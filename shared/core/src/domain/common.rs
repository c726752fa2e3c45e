//! Value types shared by several entities: capability refs, tools, files, network lists, usage, controls.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::ModelId;

/// A capability selected on a harness, agent or session, with its per-layer config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentCapabilityConfig {
    /// The capability id, e.g. `current_time`.
    #[serde(rename = "ref")]
    pub capability_ref: String,
    /// Capability-specific configuration (`{}` when absent).
    #[serde(default = "empty_object", skip_serializing_if = "is_empty_object")]
    pub config: Value,
}

impl AgentCapabilityConfig {
    /// A capability reference with empty config.
    pub fn new(capability_ref: impl Into<String>) -> Self {
        Self { capability_ref: capability_ref.into(), config: empty_object() }
    }
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

fn is_empty_object(value: &Value) -> bool {
    value.as_object().is_some_and(|o| o.is_empty()) || value.is_null()
}

/// Who executes a tool: the client (the SDK user's code) or the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Executed by the client; the turn waits for `POST /tool-results`.
    #[default]
    ClientSide,
    /// Executed by the platform (a capability's tool).
    Builtin,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Client-side or built-in. Requests default to client-side; responses always carry it.
    #[serde(rename = "type", default)]
    pub kind: ToolKind,
    /// The tool name the model calls.
    pub name: String,
    /// What the tool does.
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments.
    #[serde(default = "empty_object")]
    pub parameters: Value,
    /// UI label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// UI category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

impl ToolDefinition {
    /// A built-in tool definition.
    pub fn builtin(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Self {
            kind: ToolKind::Builtin,
            name: name.into(),
            description: description.into(),
            parameters,
            display_name: None,
            category: None,
        }
    }

    /// A client-side tool definition.
    pub fn client_side(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Self { kind: ToolKind::ClientSide, ..Self::builtin(name, description, parameters) }
    }
}

/// A file copied into the session workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialFile {
    /// Absolute, or relative to `/workspace`.
    pub path: String,
    /// The content, as text or base64 per `encoding`.
    pub content: String,
    /// `text` (default) or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Read-only in the workspace.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_readonly: bool,
}

impl InitialFile {
    /// The content as bytes (`base64` decoded; anything else is text).
    pub fn decoded(&self) -> Result<Vec<u8>, String> {
        match self.encoding.as_deref() {
            Some("base64") => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(self.content.trim())
                    .map_err(|_| format!("initial file '{}' is not valid base64", self.normalized_path()))
            }
            _ => Ok(self.content.as_bytes().to_vec()),
        }
    }

    /// The path with any `/workspace/` or leading `/` removed, used to merge layers by path.
    pub fn normalized_path(&self) -> &str {
        let path = self.path.strip_prefix("/workspace").unwrap_or(&self.path);
        path.trim_start_matches('/')
    }
}

/// Network allow/block lists; a layer can only narrow them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetworkAccessList {
    /// Allowed host patterns (empty: no restriction from this layer).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    /// Blocked host patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
}

/// Token usage of one call, a turn or a session.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Completion tokens.
    pub output_tokens: u64,
    /// Tokens read from a prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    /// Tokens written to a prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_tokens: Option<u64>,
}

impl TokenUsage {
    /// Adds another usage to this one.
    pub fn add(&mut self, other: &TokenUsage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        fn sum(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
            }
        }
        self.cache_read_tokens = sum(self.cache_read_tokens, other.cache_read_tokens);
        self.cache_creation_tokens = sum(self.cache_creation_tokens, other.cache_creation_tokens);
    }
}

/// Reasoning settings in [`Controls`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReasoningControls {
    /// `none`, `minimal`, `low`, `medium`, `high` or `xhigh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
}

/// Per-message controls.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Controls {
    /// Model override for this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<ModelId>,
    /// Reasoning settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningControls>,
    /// BCP 47 locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Free-form hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Value>,
    /// `generic`, `standard` or `detailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_disclosure: Option<String>,
}
