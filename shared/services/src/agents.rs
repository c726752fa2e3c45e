//! Agent rules: slug names unique per org, upsert by id or name, harness by id or name (never
//! both), known capabilities only, client-side tools only, archive on delete, copy, and
//! export/import as Markdown with YAML front matter.

use everruns_core::domain::{
    Agent, AgentCapabilityConfig, EntityStatus, InitialFile, NetworkAccessList, ToolDefinition, ToolKind,
};
use everruns_core::ids::{AgentId, HarnessId, ModelId, OrgId};
use everruns_core::ports::{ListQuery, Page};
use everruns_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::App;
use crate::error::{ServiceError, ServiceResult};
use crate::{is_name, validate_name};

/// Fields of `POST /v1/agents`, `PUT /v1/agents/{id}` and (all optional) `PATCH`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentInput {
    /// Caller-chosen id.
    pub id: Option<String>,
    /// Slug.
    pub name: Option<String>,
    /// UI label.
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Prompt.
    pub system_prompt: Option<String>,
    /// Harness by id.
    pub harness_id: Option<String>,
    /// Harness by name.
    pub harness_name: Option<String>,
    /// Default model.
    pub default_model_id: Option<String>,
    /// Capabilities (a bare string id is accepted too).
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    /// Client-side tools.
    pub tools: Option<Vec<ToolDefinition>>,
    /// Initial files.
    pub initial_files: Option<Vec<InitialFile>>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Iteration cap.
    pub max_iterations: Option<u32>,
    /// Parallel tool calls.
    pub parallel_tool_calls: Option<bool>,
    /// Network access.
    pub network_access: Option<NetworkAccessList>,
    /// MCP servers.
    #[serde(rename = "mcpServers", alias = "mcp_servers")]
    pub mcp_servers: Option<Value>,
    /// Status (PATCH only).
    pub status: Option<EntityStatus>,
}

/// A capability reference: `{ref, config}` or a bare id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CapabilityRefInput {
    /// `{ref, config}`.
    Full(AgentCapabilityConfig),
    /// `"current_time"`.
    Id(String),
}

impl CapabilityRefInput {
    fn into_config(self) -> AgentCapabilityConfig {
        match self {
            Self::Full(c) => c,
            Self::Id(id) => AgentCapabilityConfig::new(id),
        }
    }
}

/// Parses `agent_<hex>`, or reports a 400.
pub fn parse_agent_id(text: &str) -> ServiceResult<AgentId> {
    Ok(AgentId::parse(text)?)
}

/// Finds an agent by id or name (`404` if absent, `400` if neither an id nor a name).
pub async fn find(state: &App, org: OrgId, id_or_name: &str) -> ServiceResult<Agent> {
    let found = if let Ok(id) = AgentId::parse(id_or_name) {
        state.stores.agents.get_agent(org, id).await?
    } else if is_name(id_or_name) {
        state.stores.agents.get_agent_by_name(org, id_or_name).await?
    } else {
        return Err(parse_agent_id(id_or_name).err().unwrap_or_else(|| ServiceError::bad_request("invalid agent id")));
    };
    found.filter(|a| a.status != EntityStatus::Deleted).ok_or_else(|| ServiceError::not_found("agent", id_or_name))
}

/// Lists agents.
pub async fn list(state: &App, org: OrgId, query: ListQuery) -> ServiceResult<Page<Agent>> {
    Ok(state.stores.agents.list_agents(org, &query).await?)
}

/// Creates or updates (upsert) from a create request. Returns the agent and whether it is new.
pub async fn upsert(
    state: &App,
    org: OrgId,
    input: AgentInput,
    path_id: Option<AgentId>,
) -> ServiceResult<(Agent, bool)> {
    let name = input.name.clone().ok_or_else(|| ServiceError::bad_request("name is required"))?;
    validate_name("agent", &name)?;
    if input.system_prompt.is_none() {
        return Err(ServiceError::bad_request("system_prompt is required"));
    }
    let id = match (path_id, input.id.as_deref()) {
        (Some(path), Some(body)) if AgentId::parse(body)? != path => {
            return Err(ServiceError::bad_request("the id in the body does not match the id in the path"));
        }
        (Some(path), _) => Some(path),
        (None, Some(body)) => Some(AgentId::parse(body)?),
        (None, None) => None,
    };
    let existing = match id {
        Some(id) => state.stores.agents.get_agent(org, id).await?,
        None => state.stores.agents.get_agent_by_name(org, &name).await?,
    }
    .filter(|a| a.status != EntityStatus::Deleted);
    match existing {
        Some(agent) => Ok((apply(state, org, agent, input, false).await?, false)),
        None => {
            let harness = default_harness(state, org).await?;
            let mut agent = Agent::new(name, "", harness);
            agent.org_id = org;
            if let Some(id) = id {
                agent.id = id;
            }
            let agent = apply(state, org, agent, input, true).await?;
            Ok((agent, true))
        }
    }
}

/// Applies a patch.
pub async fn patch(state: &App, org: OrgId, id: AgentId, input: AgentInput) -> ServiceResult<Agent> {
    let agent = find(state, org, &id.to_string()).await?;
    if let Some(name) = &input.name {
        validate_name("agent", name)?;
    }
    apply(state, org, agent, input, false).await
}

/// Archives an agent (idempotent).
pub async fn archive(state: &App, org: OrgId, id: AgentId) -> ServiceResult<()> {
    let mut agent = find(state, org, &id.to_string()).await?;
    if agent.status == EntityStatus::Active {
        agent.status = EntityStatus::Archived;
        agent.archived_at = Some(Timestamp::now());
        agent.updated_at = Timestamp::now();
        state.stores.agents.update_agent(&agent).await?;
    }
    Ok(())
}

/// Copies an agent under a derived free name.
pub async fn copy(state: &App, org: OrgId, id: AgentId) -> ServiceResult<Agent> {
    let source = find(state, org, &id.to_string()).await?;
    let base: String =
        format!("{}-copy", source.name).chars().take(58).collect::<String>().trim_end_matches('-').to_owned();
    let mut name = base.clone();
    let mut n = 2;
    while state.stores.agents.get_agent_by_name(org, &name).await?.is_some() {
        name = format!("{base}-{n}");
        n += 1;
    }
    let now = Timestamp::now();
    let copy = Agent {
        id: AgentId::new(),
        name,
        status: EntityStatus::Active,
        usage: None,
        created_at: now,
        updated_at: now,
        archived_at: None,
        deleted_at: None,
        ..source
    };
    state.stores.agents.insert_agent(&copy).await?;
    Ok(copy)
}

pub(crate) async fn default_harness(state: &App, org: OrgId) -> ServiceResult<HarnessId> {
    state
        .turns
        .default_harness(org)
        .await?
        .ok_or_else(|| ServiceError::Internal("the organization has no default harness".into()))
}

/// Resolves `harness_id` / `harness_name` (mutually exclusive).
pub async fn resolve_harness(
    state: &App,
    org: OrgId,
    harness_id: Option<&str>,
    harness_name: Option<&str>,
) -> ServiceResult<Option<HarnessId>> {
    match (harness_id, harness_name) {
        (Some(_), Some(_)) => Err(ServiceError::bad_request("harness_id and harness_name are mutually exclusive")),
        (Some(id), None) => {
            let id = HarnessId::parse(id)?;
            let harness = state.stores.harnesses.get_harness(org, id).await?;
            harness
                .filter(|h| h.status == EntityStatus::Active)
                .map(|h| Some(h.id))
                .ok_or_else(|| ServiceError::not_found("harness", id))
        }
        (None, Some(name)) => {
            let harness = state.stores.harnesses.get_harness_by_name(org, name).await?;
            harness
                .filter(|h| h.status == EntityStatus::Active)
                .map(|h| Some(h.id))
                .ok_or_else(|| ServiceError::not_found("harness", name))
        }
        (None, None) => Ok(None),
    }
}

/// Checks a model id exists in the org.
pub async fn resolve_model(state: &App, org: OrgId, id: Option<&str>) -> ServiceResult<Option<ModelId>> {
    let Some(text) = id else { return Ok(None) };
    let id = ModelId::parse(text)?;
    match state.stores.providers.get_model(org, id).await? {
        Some(_) => Ok(Some(id)),
        None => Err(ServiceError::not_found("model", id)),
    }
}

/// Validates capability refs against the platform (visible in this grade).
pub fn validate_capabilities(state: &App, refs: Vec<CapabilityRefInput>) -> ServiceResult<Vec<AgentCapabilityConfig>> {
    let refs: Vec<AgentCapabilityConfig> = refs.into_iter().map(CapabilityRefInput::into_config).collect();
    state
        .platform
        .capability_registry()
        .validate_refs(&refs, state.config.grade)
        .map_err(|e| ServiceError::BadRequest { code: "unknown_capability", message: e.to_string() })?;
    Ok(refs)
}

/// Keeps client-side tools only (requests may not declare built-in tools) and checks names.
pub fn client_tools(tools: Vec<ToolDefinition>) -> ServiceResult<Vec<ToolDefinition>> {
    let mut out: Vec<ToolDefinition> = Vec::new();
    for tool in tools.into_iter().filter(|t| t.kind == ToolKind::ClientSide) {
        let valid = !tool.name.is_empty()
            && tool.name.len() <= 64
            && tool.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(ServiceError::bad_request(format!(
                "tool name '{}' is invalid: use 1-64 letters, digits, '_' or '-'",
                tool.name.chars().take(80).collect::<String>()
            )));
        }
        if !tool.parameters.is_object() {
            return Err(ServiceError::bad_request(format!(
                "tool '{}': parameters must be a JSON Schema object",
                tool.name
            )));
        }
        if !out.iter().any(|t| t.name == tool.name) {
            out.push(tool);
        }
    }
    Ok(out)
}

async fn apply(state: &App, org: OrgId, mut agent: Agent, input: AgentInput, is_new: bool) -> ServiceResult<Agent> {
    if let Some(harness) =
        resolve_harness(state, org, input.harness_id.as_deref(), input.harness_name.as_deref()).await?
    {
        agent.harness_id = harness;
    }
    if input.default_model_id.is_some() {
        agent.default_model_id = resolve_model(state, org, input.default_model_id.as_deref()).await?;
    }
    if let Some(caps) = input.capabilities {
        agent.capabilities = validate_capabilities(state, caps)?;
    }
    if let Some(tools) = input.tools {
        agent.tools = client_tools(tools)?;
    }
    if let Some(name) = input.name {
        agent.name = name;
    }
    if let Some(prompt) = input.system_prompt {
        super::validate::text("system_prompt", &prompt, 100_000)?;
        agent.system_prompt = prompt;
    }
    if let Some(name) = &input.display_name {
        super::validate::line("display_name", name, 200)?;
    }
    if let Some(description) = &input.description {
        super::validate::text("description", description, 10_000)?;
    }
    if let Some(files) = &input.initial_files {
        super::validate::initial_files("initial_files", files)?;
    }
    if let Some(tags) = &input.tags {
        super::validate::tags("tags", tags)?;
    }
    macro_rules! set {
        ($($field:ident),*) => { $( if input.$field.is_some() { agent.$field = input.$field; } )* };
    }
    set!(display_name, description, max_iterations, parallel_tool_calls, network_access, mcp_servers);
    if let Some(files) = input.initial_files {
        agent.initial_files = files;
    }
    if let Some(tags) = input.tags {
        agent.tags = tags;
    }
    if let Some(status) = input.status {
        agent.archived_at = (status == EntityStatus::Archived).then(Timestamp::now);
        agent.status = status;
    }
    agent.updated_at = Timestamp::now();
    if is_new {
        state.stores.agents.insert_agent(&agent).await?;
    } else {
        state.stores.agents.update_agent(&agent).await?;
    }
    Ok(agent)
}

/// Front matter of an exported agent.
#[derive(Debug, Serialize, Deserialize, Default)]
struct FrontMatter {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    harness_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    capabilities: Option<Vec<CapabilityRefInput>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tools: Option<Vec<ToolDefinition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_iterations: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_prompt: Option<String>,
}

/// Exports an agent as Markdown: YAML front matter, then the system prompt.
pub async fn export(state: &App, org: OrgId, id: AgentId) -> ServiceResult<String> {
    let agent = find(state, org, &id.to_string()).await?;
    let harness_name = state.stores.harnesses.get_harness(org, agent.harness_id).await?.map(|h| h.name);
    let front = FrontMatter {
        name: Some(agent.name),
        display_name: agent.display_name,
        description: agent.description,
        harness_name,
        capabilities: (!agent.capabilities.is_empty())
            .then(|| agent.capabilities.into_iter().map(CapabilityRefInput::Full).collect()),
        tools: (!agent.tools.is_empty()).then_some(agent.tools),
        tags: (!agent.tags.is_empty()).then_some(agent.tags),
        max_iterations: agent.max_iterations,
        system_prompt: None,
    };
    let yaml = serde_yaml::to_string(&front).map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok(format!("---\n{yaml}---\n\n{}\n", agent.system_prompt))
}

/// Imports an agent from Markdown with front matter, YAML, JSON or plain text (the prompt).
pub async fn import(state: &App, org: OrgId, body: &str) -> ServiceResult<(Agent, bool)> {
    let text = body.trim_start_matches('\u{feff}');
    let front: FrontMatter = if let Some(rest) = text.strip_prefix("---") {
        let (yaml, prompt) = rest
            .split_once("\n---")
            .ok_or_else(|| ServiceError::bad_request("front matter is not closed with '---'"))?;
        let mut front: FrontMatter =
            serde_yaml::from_str(yaml).map_err(|e| ServiceError::bad_request(format!("invalid front matter: {e}")))?;
        let prompt = prompt.trim_start_matches('-').trim();
        if !prompt.is_empty() {
            front.system_prompt = Some(prompt.to_owned());
        }
        front
    } else if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| ServiceError::bad_request(format!("invalid JSON: {e}")))?
    } else {
        match serde_yaml::from_str::<FrontMatter>(text) {
            Ok(front) if front.name.is_some() => front,
            _ => FrontMatter { system_prompt: Some(text.trim().to_owned()), ..FrontMatter::default() },
        }
    };
    let name = match front.name {
        Some(name) => name,
        None => format!("imported-{}", &AgentId::new().to_string()[6..14]),
    };
    let input = AgentInput {
        name: Some(name),
        display_name: front.display_name,
        description: front.description,
        system_prompt: Some(front.system_prompt.unwrap_or_default()),
        harness_name: front.harness_name,
        capabilities: front.capabilities,
        tools: front.tools,
        tags: front.tags,
        max_iterations: front.max_iterations,
        ..AgentInput::default()
    };
    upsert(state, org, input, None).await
}
