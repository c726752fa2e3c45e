//! Turn-context assembly: the harness chain → agent → session merge (contract §7.3), the model
//! choice (§6.2), over the message history rebuilt from events ([`crate::history`]).
//!
//! [`assemble_turn_context`] (used to execute) and [`inspect_turn_context`] (used to look) share
//! one code path, [`merge`]; the only difference is that execution requires a resolved model.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::capabilities::{CapabilityError, CapabilityRegistry, DeploymentGrade};
use crate::domain::{
    Agent, AgentCapabilityConfig, ContentPart, Controls, Conversation, Harness, InitialFile, NetworkAccessList,
    Session, ToolDefinition, ToolKind,
};
use crate::driver_registry::ResolvedModel;
use crate::events::Event;
use crate::ids::ModelId;

/// The iteration cap when neither session nor agent sets one.
pub const DEFAULT_MAX_ITERATIONS: u32 = 100;

/// Everything loaded for one turn, before merging.
#[derive(Debug, Clone)]
pub struct TurnInputs {
    /// Harness chain, root first.
    pub harness_chain: Vec<Harness>,
    /// The session's agent.
    pub agent: Option<Agent>,
    /// The session.
    pub session: Session,
    /// The conversation so far (the whole session, this turn included): see [`crate::history`].
    pub history: Conversation,
    /// The persisted events of the turn being run, in sequence order (empty for inspection).
    pub turn_events: Vec<Event>,
    /// Controls of the message that triggered the turn.
    pub controls: Option<Controls>,
    /// The model resolved from [`select_model_id`] (or the platform default).
    pub model: Option<ResolvedModel>,
}

/// The merged configuration the reason step runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeAgent {
    /// Capability fragments, then harness chain, agent and session prompts.
    pub system_prompt: String,
    /// Capability tools then client-side tools, deduplicated by name; shared with every request
    /// made from this context (a tool's schema is a tree of values, copied and freed per clone).
    pub tools: Arc<[ToolDefinition]>,
    /// The model name (empty when none resolved).
    pub model: String,
    /// Locale: message controls, then session.
    pub locale: Option<String>,
    /// Iteration cap.
    pub max_iterations: u32,
    /// Parallel tool calls.
    pub parallel_tool_calls: Option<bool>,
    /// Merged capability selection.
    pub capabilities: Vec<AgentCapabilityConfig>,
    /// Merged initial files.
    pub initial_files: Vec<InitialFile>,
    /// Merged network access.
    pub network_access: Option<NetworkAccessList>,
    /// Harness chain metadata (child keys win).
    pub embedder_metadata: BTreeMap<String, String>,
    /// Reasoning effort from the controls.
    pub reasoning_effort: Option<String>,
}

/// The merged turn context.
#[derive(Debug, Clone)]
pub struct TurnContext {
    /// The session.
    pub session: Session,
    /// Harness chain, root first.
    pub harness_chain: Vec<Harness>,
    /// The agent.
    pub agent: Option<Agent>,
    /// Filtered history, oldest first (shared with the model requests made from it).
    pub messages: Conversation,
    /// The resolved model.
    pub model: Option<ResolvedModel>,
    /// The merged configuration.
    pub runtime_agent: RuntimeAgent,
    /// Built-in tool name → the capability that serves it.
    pub tool_capabilities: HashMap<String, String>,
}

/// Why a context cannot be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// A capability reference does not resolve.
    #[error(transparent)]
    Capability(#[from] CapabilityError),
    /// No model could be resolved for the turn.
    #[error("no model is configured for this session")]
    NoModel,
}

/// The model id to use, first match wins: message controls, session, agent, harness chain
/// (child over parent). `None` means the platform/org default.
pub fn select_model_id(
    controls: Option<&Controls>,
    session: &Session,
    agent: Option<&Agent>,
    harness_chain: &[Harness],
) -> Option<ModelId> {
    controls
        .and_then(|c| c.model_id)
        .or(session.model_id)
        .or_else(|| agent.and_then(|a| a.default_model_id))
        .or_else(|| harness_chain.iter().rev().find_map(|h| h.default_model_id))
}

/// Assembles the context a turn executes with. Fails when no model resolved.
pub fn assemble_turn_context(
    inputs: TurnInputs,
    capabilities: &CapabilityRegistry,
    grade: DeploymentGrade,
) -> Result<TurnContext, ContextError> {
    if inputs.model.is_none() {
        return Err(ContextError::NoModel);
    }
    merge(inputs, capabilities, grade)
}

/// Assembles the context for inspection; works before the first turn and without a model.
pub fn inspect_turn_context(
    inputs: TurnInputs,
    capabilities: &CapabilityRegistry,
    grade: DeploymentGrade,
) -> Result<TurnContext, ContextError> {
    merge(inputs, capabilities, grade)
}

/// The shared merge of both entry points.
pub fn merge(
    inputs: TurnInputs,
    capabilities: &CapabilityRegistry,
    grade: DeploymentGrade,
) -> Result<TurnContext, ContextError> {
    let TurnInputs { harness_chain, agent, session, history, turn_events: _, controls, model } = inputs;

    let mut selected: Vec<AgentCapabilityConfig> = Vec::new();
    let layers = harness_chain
        .iter()
        .map(|h| &h.capabilities)
        .chain(agent.iter().map(|a| &a.capabilities))
        .chain(std::iter::once(&session.capabilities));
    for layer in layers {
        for cap in layer {
            match selected.iter_mut().find(|c| c.capability_ref == cap.capability_ref) {
                Some(existing) => *existing = cap.clone(),
                None => selected.push(cap.clone()),
            }
        }
    }
    let resolved = capabilities.resolve(&selected, grade)?;

    let mut prompt_parts: Vec<String> = Vec::new();
    let mut tools: Vec<ToolDefinition> = Vec::new();
    let mut tool_capabilities = HashMap::new();
    let mut names = HashSet::new();
    for (capability, config) in &resolved {
        if let Some(fragment) = capability.system_prompt_contribution(config).filter(|f| !f.trim().is_empty()) {
            prompt_parts.push(format!("<capability id=\"{}\">\n{}\n</capability>", capability.id(), fragment.trim()));
        }
        for tool in capability.tools(config) {
            if names.insert(tool.name.clone()) {
                tool_capabilities.insert(tool.name.clone(), capability.id().to_owned());
                tools.push(ToolDefinition { kind: ToolKind::Builtin, ..tool });
            }
        }
    }
    let client_tools = agent.iter().flat_map(|a| a.tools.iter()).chain(session.tools.iter());
    for tool in client_tools {
        if names.insert(tool.name.clone()) {
            tools.push(ToolDefinition { kind: ToolKind::ClientSide, ..tool.clone() });
        }
    }

    let layer_prompts = harness_chain
        .iter()
        .filter_map(|h| h.system_prompt.as_deref())
        .chain(agent.iter().map(|a| a.system_prompt.as_str()))
        .chain(session.system_prompt.as_deref());
    prompt_parts.extend(layer_prompts.map(str::trim).filter(|p| !p.is_empty()).map(str::to_owned));

    let files = merge_initial_files(&harness_chain, agent.as_ref(), &session);

    let network_layers = harness_chain
        .iter()
        .filter_map(|h| h.network_access.as_ref())
        .chain(agent.iter().filter_map(|a| a.network_access.as_ref()))
        .chain(session.network_access.as_ref());
    let network_access = network_layers.fold(None, |acc: Option<NetworkAccessList>, layer| {
        Some(match acc {
            None => layer.clone(),
            Some(base) => narrow(base, layer),
        })
    });

    let mut embedder_metadata = BTreeMap::new();
    for harness in &harness_chain {
        if let Some(meta) = &harness.embedder_metadata {
            embedder_metadata.extend(meta.clone());
        }
    }

    let parallel_tool_calls = session
        .parallel_tool_calls
        .or_else(|| agent.as_ref().and_then(|a| a.parallel_tool_calls))
        .or_else(|| harness_chain.iter().rev().find_map(|h| h.parallel_tool_calls));

    let runtime_agent = RuntimeAgent {
        system_prompt: prompt_parts.join("\n\n"),
        tools: tools.into(),
        model: model.as_ref().map(|m| m.model.clone()).unwrap_or_default(),
        locale: controls.as_ref().and_then(|c| c.locale.clone()).or_else(|| session.locale.clone()),
        max_iterations: session
            .max_iterations
            .or_else(|| agent.as_ref().and_then(|a| a.max_iterations))
            .unwrap_or(DEFAULT_MAX_ITERATIONS),
        parallel_tool_calls,
        capabilities: selected,
        initial_files: files,
        network_access,
        embedder_metadata,
        reasoning_effort: controls.as_ref().and_then(|c| c.reasoning.as_ref()).and_then(|r| r.effort.clone()),
    };

    Ok(TurnContext { messages: history, session, harness_chain, agent, model, runtime_agent, tool_capabilities })
}

fn narrow(base: NetworkAccessList, layer: &NetworkAccessList) -> NetworkAccessList {
    let allowed = match (base.allowed.is_empty(), layer.allowed.is_empty()) {
        (true, _) => layer.allowed.clone(),
        (false, true) => base.allowed,
        (false, false) => base.allowed.into_iter().filter(|a| layer.allowed.contains(a)).collect(),
    };
    let mut blocked = base.blocked;
    for b in &layer.blocked {
        if !blocked.contains(b) {
            blocked.push(b.clone());
        }
    }
    NetworkAccessList { allowed, blocked }
}

pub use crate::history::history_from_events;

/// Tool results travel as text parts holding JSON; turn them back into a value.
pub fn result_value(parts: &[ContentPart]) -> Value {
    let text = ContentPart::joined_text(parts);
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// The initial files of a session: the harness chain's (root first), the agent's, then the
/// session's own, merged by normalised path (a later layer wins).
pub fn merge_initial_files(harness_chain: &[Harness], agent: Option<&Agent>, session: &Session) -> Vec<InitialFile> {
    let mut files: Vec<InitialFile> = Vec::new();
    let file_layers = harness_chain
        .iter()
        .map(|h| &h.initial_files)
        .chain(agent.map(|a| &a.initial_files))
        .chain(std::iter::once(&session.initial_files));
    for layer in file_layers {
        for file in layer {
            match files.iter_mut().find(|f| f.normalized_path() == file.normalized_path()) {
                Some(existing) => *existing = file.clone(),
                None => files.push(file.clone()),
            }
        }
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Agent, Harness, Session};
    use crate::driver_registry::DriverId;
    use crate::ids::{HarnessId, OrgId};
    use serde_json::json;

    fn tool(name: &str) -> ToolDefinition {
        ToolDefinition::client_side(name, "a tool", json!({"type": "object"}))
    }

    fn fixture() -> TurnInputs {
        let mut parent = Harness::new("parent", Some("Parent prompt.".into()));
        parent.capabilities = vec![AgentCapabilityConfig::new("current_time")];
        parent.default_model_id = Some(ModelId::new());
        let mut child = Harness::new("child", Some("  Child prompt.  ".into()));
        child.parent_harness_id = Some(parent.id);
        child.default_model_id = Some(ModelId::new());
        let mut agent = Agent::new("agent", "Agent prompt.", child.id);
        agent.tools = vec![tool("lookup")];
        agent.max_iterations = Some(7);
        let mut session = Session::new(OrgId::DEFAULT, child.id);
        session.system_prompt = Some("Session prompt.".into());
        session.tools = vec![tool("lookup"), tool("notify")];
        session.locale = Some("fr-FR".into());
        TurnInputs {
            harness_chain: vec![parent, child],
            agent: Some(agent),
            session,
            history: Conversation::default(),
            turn_events: Vec::new(),
            controls: None,
            model: Some(ResolvedModel {
                model: "m1".into(),
                provider_type: DriverId::LlmSim,
                api_key: None,
                base_url: None,
                provider_metadata: None,
            }),
        }
    }

    #[test]
    fn merges_harness_chain_agent_and_session() {
        let context = merge(fixture(), &CapabilityRegistry::with_builtins(), DeploymentGrade::Prod)
            .unwrap_or_else(|e| panic!("{e}"));
        let agent = &context.runtime_agent;
        assert_eq!(agent.system_prompt, "Parent prompt.\n\nChild prompt.\n\nAgent prompt.\n\nSession prompt.");
        let names: Vec<_> = agent.tools.iter().map(|t| (t.name.as_str(), t.kind)).collect();
        assert_eq!(
            names,
            [
                ("get_current_time", ToolKind::Builtin),
                ("lookup", ToolKind::ClientSide),
                ("notify", ToolKind::ClientSide)
            ]
        );
        assert_eq!(context.tool_capabilities.get("get_current_time").map(String::as_str), Some("current_time"));
        assert_eq!(agent.locale.as_deref(), Some("fr-FR"));
        assert_eq!(agent.max_iterations, 7);
        assert_eq!(agent.model, "m1");
        assert!(context.messages.is_empty());
    }

    #[test]
    fn model_choice_follows_the_documented_order() {
        let inputs = fixture();
        let child_model = inputs.harness_chain[1].default_model_id;
        assert_eq!(select_model_id(None, &inputs.session, inputs.agent.as_ref(), &inputs.harness_chain), child_model);
        let agent_model = ModelId::new();
        let mut agent = inputs.agent.clone();
        if let Some(a) = agent.as_mut() {
            a.default_model_id = Some(agent_model);
        }
        assert_eq!(select_model_id(None, &inputs.session, agent.as_ref(), &inputs.harness_chain), Some(agent_model));
        let controls = Controls { model_id: Some(ModelId::new()), ..Controls::default() };
        assert_eq!(
            select_model_id(Some(&controls), &inputs.session, agent.as_ref(), &inputs.harness_chain),
            controls.model_id
        );
    }

    #[test]
    fn unknown_capabilities_and_missing_models_are_typed_errors() {
        let mut inputs = fixture();
        inputs.session.capabilities = vec![AgentCapabilityConfig::new("nope")];
        let err = merge(inputs, &CapabilityRegistry::with_builtins(), DeploymentGrade::Prod).err();
        assert_eq!(err, Some(ContextError::Capability(CapabilityError::Unknown("nope".into()))));
        let mut inputs = fixture();
        inputs.model = None;
        let registry = CapabilityRegistry::with_builtins();
        assert_eq!(
            assemble_turn_context(inputs.clone(), &registry, DeploymentGrade::Prod).err(),
            Some(ContextError::NoModel)
        );
        assert!(
            inspect_turn_context(inputs, &registry, DeploymentGrade::Prod)
                .is_ok_and(|c| c.runtime_agent.model.is_empty())
        );
        let _ = HarnessId::new();
    }
}
