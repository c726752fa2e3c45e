//! Sessions and their status machine (contract §5.1).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{AgentCapabilityConfig, InitialFile, NetworkAccessList, TokenUsage, ToolDefinition};
use crate::ids::{AgentId, HarnessId, ModelId, OrgId, SessionId, TurnId};
use crate::time::Timestamp;

/// Where a session is in its life. The wire values are lowercase with no separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStatus {
    /// Created; no turn has run yet.
    #[default]
    Started,
    /// A turn is running.
    Active,
    /// No turn is running.
    Idle,
    /// The turn waits for client-side tool results.
    #[serde(rename = "waitingfortoolresults")]
    WaitingForToolResults,
}

impl SessionStatus {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Active => "active",
            Self::Idle => "idle",
            Self::WaitingForToolResults => "waitingfortoolresults",
        }
    }

    /// Parses the wire string.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Started, Self::Active, Self::Idle, Self::WaitingForToolResults].into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the machine allows moving from `self` to `next`.
    pub fn can_transition_to(self, next: SessionStatus) -> bool {
        use SessionStatus::*;
        matches!(
            (self, next),
            (Started | Idle, Active)
                | (Active, WaitingForToolResults)
                | (WaitingForToolResults, Active)
                | (Active, Idle)
                // A cancelled or failed wait ends the turn.
                | (WaitingForToolResults, Idle)
        ) || self == next
    }

    /// Whether a turn is in progress (cancel is offered).
    pub fn is_busy(self) -> bool {
        matches!(self, Self::Active | Self::WaitingForToolResults)
    }
}

/// A forbidden status change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session cannot go from {from} to {to}", from = .from.as_str(), to = .to.as_str())]
pub struct StatusTransitionError {
    /// Current status.
    pub from: SessionStatus,
    /// Requested status.
    pub to: SessionStatus,
}

/// A conversation with an agent on a harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The id.
    pub id: SessionId,
    /// The owning organization.
    pub organization_id: OrgId,
    /// The harness the session runs on.
    pub harness_id: HarnessId,
    /// The agent, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// Status.
    pub status: SessionStatus,
    /// The running turn, if any (not on the wire).
    #[serde(skip)]
    pub current_turn_id: Option<TurnId>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// BCP 47 locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// First user text (truncated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// Last assistant text (truncated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_preview: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Session model override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<ModelId>,
    /// Session-layer capabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<AgentCapabilityConfig>,
    /// Session-layer client-side tools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    /// Session-layer files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initial_files: Vec<InitialFile>,
    /// Session-layer prompt, appended after the agent's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Free-form hints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Value>,
    /// Network access narrowing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_access: Option<NetworkAccessList>,
    /// Per-turn iteration cap override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    /// Parallel tool calls override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Remote MCP servers, kept as given.
    #[serde(rename = "mcpServers", alias = "mcp_servers", default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<Value>,
    /// Cumulative usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// First turn start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    /// Last turn end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last updated.
    pub updated_at: Timestamp,
}

impl Session {
    /// A new session in status `started`.
    pub fn new(organization_id: OrgId, harness_id: HarnessId) -> Self {
        let now = Timestamp::now();
        Self {
            id: SessionId::new(),
            organization_id,
            harness_id,
            agent_id: None,
            status: SessionStatus::Started,
            current_turn_id: None,
            title: None,
            locale: None,
            preview: None,
            output_preview: None,
            tags: Vec::new(),
            model_id: None,
            capabilities: Vec::new(),
            tools: Vec::new(),
            initial_files: Vec::new(),
            system_prompt: None,
            hints: None,
            network_access: None,
            max_iterations: None,
            parallel_tool_calls: None,
            mcp_servers: None,
            usage: None,
            started_at: None,
            finished_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// Moves to `next` if the status machine allows it.
    pub fn transition(&mut self, next: SessionStatus) -> Result<(), StatusTransitionError> {
        if !self.status.can_transition_to(next) {
            return Err(StatusTransitionError { from: self.status, to: next });
        }
        self.status = next;
        self.updated_at = Timestamp::now();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_machine_follows_the_contract() {
        use SessionStatus::*;
        assert!(Started.can_transition_to(Active));
        assert!(Idle.can_transition_to(Active));
        assert!(Active.can_transition_to(WaitingForToolResults));
        assert!(WaitingForToolResults.can_transition_to(Active));
        assert!(Active.can_transition_to(Idle));
        assert!(!Started.can_transition_to(WaitingForToolResults));
        assert!(!Idle.can_transition_to(WaitingForToolResults));
        assert!(!Started.can_transition_to(Idle));
        assert_eq!(serde_json::to_string(&WaitingForToolResults).ok().as_deref(), Some("\"waitingfortoolresults\""));
        assert_eq!(SessionStatus::parse("idle"), Some(Idle));
        assert_eq!(SessionStatus::parse("paused"), None);
    }
}
