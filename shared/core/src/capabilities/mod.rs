//! Capabilities: bundles of tools and prompt fragments that harnesses, agents and sessions select
//! by id, and the registry that holds them.
//!
//! Registry rules match the driver registry: `register` panics on a duplicate id,
//! `register_or_replace` swaps, `unregister` removes. Experimental capabilities are visible only
//! in the `dev` deployment grade.

mod current_time;
mod test_math;

pub use current_time::CurrentTimeCapability;
pub use test_math::TestMathCapability;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{AgentCapabilityConfig, NetworkAccessList, ToolDefinition};
use crate::ids::SessionId;
use crate::ports::SessionWorkspace;

/// Deployment grade: decides which features a deployment exposes (`DEPLOYMENT_GRADE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentGrade {
    /// Development: experimental features on.
    Dev,
    /// Proof of concept.
    Poc,
    /// Preview / staging.
    Preview,
    /// Production: stable features only.
    #[default]
    Prod,
}

impl DeploymentGrade {
    /// Parses `dev`, `poc`, `preview` or `prod` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "dev" => Some(Self::Dev),
            "poc" => Some(Self::Poc),
            "preview" => Some(Self::Preview),
            "prod" => Some(Self::Prod),
            _ => None,
        }
    }

    /// Whether experimental capabilities are exposed.
    pub fn allows_experimental(self) -> bool {
        self == Self::Dev
    }
}

/// Descriptive facts about a capability (what `GET /v1/capabilities` lists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityInfo {
    /// Snake-case id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Markdown description.
    pub description: String,
    /// `available`, `comingsoon` or `deprecated`.
    pub status: String,
    /// Category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Icon name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Capabilities this one needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    /// `low`, `medium` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_level: Option<String>,
}

/// How a tool run ended.
pub type ToolOutcome = Result<Value, String>;

/// What a running tool may know and touch: its session, the session's workspace (files and
/// storage), the deployment grade and the session's network access list.
#[derive(Clone, Copy)]
pub struct ToolContext<'a> {
    /// The session the tool runs for.
    pub session: SessionId,
    /// The session's files and storage.
    pub workspace: &'a dyn SessionWorkspace,
    /// The deployment grade.
    pub grade: DeploymentGrade,
    /// The merged network access list (allowed hosts narrowed, blocked hosts added per layer).
    pub network_access: Option<&'a NetworkAccessList>,
}

impl fmt::Debug for ToolContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolContext").field("session", &self.session).field("grade", &self.grade).finish()
    }
}

impl<'a> ToolContext<'a> {
    /// A context for `session` over `workspace` (grade `prod`, no network list).
    pub fn new(session: SessionId, workspace: &'a dyn SessionWorkspace) -> Self {
        Self { session, workspace, grade: DeploymentGrade::Prod, network_access: None }
    }
}

/// A capability: tools the platform runs, and an optional system-prompt fragment.
#[async_trait::async_trait]
pub trait Capability: Send + Sync + 'static {
    /// The id (`current_time`).
    fn id(&self) -> &str;

    /// Descriptive facts.
    fn info(&self) -> CapabilityInfo;

    /// Only exposed in the `dev` grade.
    fn is_experimental(&self) -> bool {
        false
    }

    /// Prompt fragment for the given per-layer config.
    fn system_prompt_contribution(&self, _config: &Value) -> Option<String> {
        None
    }

    /// Tools for the given per-layer config (all `builtin`).
    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        Vec::new()
    }

    /// Runs one of this capability's tools. Failures are results the model can read, not errors.
    async fn execute_tool(
        &self,
        tool_name: &str,
        arguments: &Value,
        config: &Value,
        ctx: &ToolContext<'_>,
    ) -> ToolOutcome;
}

/// A reference to a capability that cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    /// No such capability (or hidden in this grade).
    #[error("unknown capability '{0}'")]
    Unknown(String),
    /// Dependencies form a cycle.
    #[error("capability dependency cycle at '{0}'")]
    Cycle(String),
    /// More than the allowed number of capabilities.
    #[error("too many capabilities (max {0})")]
    TooMany(usize),
}

/// A resolved capability with its per-layer config.
pub type ResolvedCapability = (Arc<dyn Capability>, Value);

/// The maximum number of capabilities one turn resolves.
pub const MAX_RESOLVED_CAPABILITIES: usize = 100;

/// Registered capabilities, by id.
#[derive(Clone, Default)]
pub struct CapabilityRegistry {
    capabilities: BTreeMap<String, Arc<dyn Capability>>,
}

impl fmt::Debug for CapabilityRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapabilityRegistry")
            .field("capabilities", &self.capabilities.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CapabilityRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stock capabilities: `current_time`, plus the experimental `test_math`.
    pub fn with_builtins() -> Self {
        let mut registry = Self::new();
        registry.register(CurrentTimeCapability);
        registry.register(TestMathCapability);
        registry
    }

    /// Registers a capability. Panics if its id is already registered or empty.
    pub fn register<C: Capability>(&mut self, capability: C) -> &mut Self {
        self.register_arc(Arc::new(capability))
    }

    /// Registers a shared capability. Panics if its id is already registered or empty.
    pub fn register_arc(&mut self, capability: Arc<dyn Capability>) -> &mut Self {
        let id = capability.id().to_owned();
        assert!(!id.trim().is_empty(), "configuration error: a capability id must not be empty");
        assert!(!self.capabilities.contains_key(&id), "a capability is already registered with id '{id}'");
        self.capabilities.insert(id, capability);
        self
    }

    /// Registers a capability, replacing any with the same id.
    pub fn register_or_replace<C: Capability>(&mut self, capability: C) -> &mut Self {
        self.capabilities.insert(capability.id().to_owned(), Arc::new(capability));
        self
    }

    /// Removes a capability; returns whether it was registered.
    pub fn unregister(&mut self, id: &str) -> bool {
        self.capabilities.remove(id).is_some()
    }

    /// Looks a capability up, regardless of grade.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Capability>> {
        self.capabilities.get(id)
    }

    /// Whether the id is registered and visible in the grade.
    pub fn is_visible(&self, id: &str, grade: DeploymentGrade) -> bool {
        self.get(id).is_some_and(|c| grade.allows_experimental() || !c.is_experimental())
    }

    /// Capabilities visible in the grade, by id.
    pub fn visible(&self, grade: DeploymentGrade) -> impl Iterator<Item = &Arc<dyn Capability>> {
        self.capabilities.values().filter(move |c| grade.allows_experimental() || !c.is_experimental())
    }

    /// Checks that every ref names a capability visible in the grade.
    pub fn validate_refs<'a>(
        &self,
        refs: impl IntoIterator<Item = &'a AgentCapabilityConfig>,
        grade: DeploymentGrade,
    ) -> Result<(), CapabilityError> {
        for r in refs {
            if !self.is_visible(&r.capability_ref, grade) {
                return Err(CapabilityError::Unknown(r.capability_ref.chars().take(100).collect()));
            }
        }
        Ok(())
    }

    /// Resolves selected capabilities with their dependencies, depth-first, dependencies first.
    /// Unknown selected ids are an error; unknown ids inside a dependency chain are skipped.
    pub fn resolve(
        &self,
        selected: &[AgentCapabilityConfig],
        grade: DeploymentGrade,
    ) -> Result<Vec<ResolvedCapability>, CapabilityError> {
        self.validate_refs(selected, grade)?;
        let mut out: Vec<ResolvedCapability> = Vec::new();
        let mut visiting = Vec::new();
        for r in selected {
            self.visit(&r.capability_ref, &r.config, grade, &mut visiting, &mut out)?;
        }
        Ok(out)
    }

    fn visit(
        &self,
        id: &str,
        config: &Value,
        grade: DeploymentGrade,
        visiting: &mut Vec<String>,
        out: &mut Vec<ResolvedCapability>,
    ) -> Result<(), CapabilityError> {
        if out.iter().any(|(c, _)| c.id() == id) {
            return Ok(());
        }
        if visiting.iter().any(|v| v == id) {
            return Err(CapabilityError::Cycle(id.to_owned()));
        }
        let Some(capability) = self.get(id).filter(|_| self.is_visible(id, grade)) else {
            return Ok(());
        };
        visiting.push(id.to_owned());
        for dependency in capability.info().dependencies {
            self.visit(&dependency, &Value::Object(Default::default()), grade, visiting, out)?;
        }
        visiting.pop();
        if out.len() >= MAX_RESOLVED_CAPABILITIES {
            return Err(CapabilityError::TooMany(MAX_RESOLVED_CAPABILITIES));
        }
        out.push((capability.clone(), config.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "already registered")]
    fn register_panics_on_a_duplicate() {
        let mut registry = CapabilityRegistry::new();
        registry.register(CurrentTimeCapability);
        registry.register(CurrentTimeCapability);
    }

    #[test]
    fn unregister_and_replace() {
        let mut registry = CapabilityRegistry::with_builtins();
        registry.register_or_replace(CurrentTimeCapability);
        assert!(registry.unregister("current_time"));
        assert!(!registry.unregister("current_time"));
        assert!(!registry.unregister("daytona"), "unknown ids are a no-op");
        assert!(registry.get("current_time").is_none());
    }

    #[test]
    fn experimental_capabilities_only_in_dev() {
        let registry = CapabilityRegistry::with_builtins();
        assert!(registry.is_visible("test_math", DeploymentGrade::Dev));
        for grade in [DeploymentGrade::Poc, DeploymentGrade::Preview, DeploymentGrade::Prod] {
            assert!(!registry.is_visible("test_math", grade));
            assert!(registry.is_visible("current_time", grade));
        }
        assert_eq!(registry.visible(DeploymentGrade::Prod).count(), 1);
    }

    #[test]
    fn unknown_refs_are_typed_errors() {
        let registry = CapabilityRegistry::with_builtins();
        let refs = [AgentCapabilityConfig::new("current_time"), AgentCapabilityConfig::new("no_such_thing")];
        assert_eq!(
            registry.validate_refs(&refs, DeploymentGrade::Dev),
            Err(CapabilityError::Unknown("no_such_thing".into()))
        );
        assert!(registry.resolve(&[AgentCapabilityConfig::new("test_math")], DeploymentGrade::Prod).is_err());
        let resolved = registry.resolve(&refs[..1], DeploymentGrade::Prod).unwrap_or_default();
        assert_eq!(resolved.len(), 1);
    }

    #[test]
    fn grades_parse() {
        assert_eq!(DeploymentGrade::parse("DEV"), Some(DeploymentGrade::Dev));
        assert_eq!(DeploymentGrade::parse("preview"), Some(DeploymentGrade::Preview));
        assert_eq!(DeploymentGrade::parse("staging"), None);
    }
}
