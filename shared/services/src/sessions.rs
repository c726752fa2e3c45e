//! Session rules: harness resolution (explicit → the agent's → the org default), agent by id or
//! name (never both), session-layer overrides, and the message/cancel/tool-result entry points.

use everruns_core::domain::{
    ContentPart, Controls, EntityStatus, InitialFile, Message, MessageRole, NetworkAccessList, Session, ToolDefinition,
};
use everruns_core::events::{EventContext, EventPayload, NewEvent, SessionStartedData};
use everruns_core::ids::{AgentId, OrgId, SessionId};
use everruns_core::time::Timestamp;
use everruns_core::turns::record_event;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::App;
use crate::agents::{self, CapabilityRefInput, client_tools, resolve_harness, resolve_model, validate_capabilities};
use crate::error::{ServiceError, ServiceResult};
use crate::validate;

/// Fields of `POST /v1/sessions` and (a subset) `PATCH`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SessionInput {
    /// Harness by id.
    pub harness_id: Option<String>,
    /// Harness by name.
    pub harness_name: Option<String>,
    /// Agent by id.
    pub agent_id: Option<String>,
    /// Agent by name.
    pub agent_name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Locale.
    pub locale: Option<String>,
    /// Model override.
    pub model_id: Option<String>,
    /// Tags.
    pub tags: Option<Vec<String>>,
    /// Session-layer capabilities.
    pub capabilities: Option<Vec<CapabilityRefInput>>,
    /// Session-layer client tools.
    pub tools: Option<Vec<ToolDefinition>>,
    /// Session-layer files.
    pub initial_files: Option<Vec<InitialFile>>,
    /// Session-layer prompt.
    pub system_prompt: Option<String>,
    /// Hints.
    pub hints: Option<Value>,
    /// Iteration cap.
    pub max_iterations: Option<u32>,
    /// Parallel tool calls.
    pub parallel_tool_calls: Option<bool>,
    /// Network access.
    pub network_access: Option<NetworkAccessList>,
    /// MCP servers.
    #[serde(rename = "mcpServers", alias = "mcp_servers")]
    pub mcp_servers: Option<Value>,
}

/// Reads a session (400 on a malformed id, 404 if absent).
pub async fn find(state: &App, org: OrgId, id: &str) -> ServiceResult<Session> {
    let id = SessionId::parse(id)?;
    state.stores.sessions.get_session(org, id).await?.ok_or_else(|| ServiceError::not_found("session", id))
}

/// Creates a session with its initial files in its workspace; emits `session.started`.
pub async fn create(state: &App, org: OrgId, input: SessionInput) -> ServiceResult<Session> {
    let agent = match (input.agent_id.as_deref(), input.agent_name.as_deref()) {
        (Some(_), Some(_)) => return Err(ServiceError::bad_request("agent_id and agent_name are mutually exclusive")),
        (Some(id), None) => Some(agents::find(state, org, &AgentId::parse(id)?.to_string()).await?),
        (None, Some(name)) => Some(agents::find(state, org, name).await?),
        (None, None) => None,
    };
    if agent.as_ref().is_some_and(|a| a.status != EntityStatus::Active) {
        return Err(ServiceError::bad_request("the agent is archived"));
    }
    let harness = match resolve_harness(state, org, input.harness_id.as_deref(), input.harness_name.as_deref()).await? {
        Some(id) => id,
        None => match &agent {
            Some(agent) => agent.harness_id,
            None => agents::default_harness(state, org).await?,
        },
    };
    let mut session = Session::new(org, harness);
    session.agent_id = agent.as_ref().map(|a| a.id);
    apply(state, org, &mut session, input).await?;
    let started =
        SessionStartedData { harness_id: session.harness_id, agent_id: session.agent_id, model_id: session.model_id };
    let event = NewEvent::new(session.id, EventContext::default(), EventPayload::SessionStarted(started))
        .with_key(format!("{}/session.started", session.id));
    // The session and `session.started` as one write where the store can; else one after the other.
    match state.stores.turns.open_session(&session, &event).await? {
        Some(stored) => {
            state.turns.opened(&stored);
            state.turns.bus().emit(std::sync::Arc::new(stored));
            state.turns.seed_workspace(&session, agent.as_ref()).await?;
        }
        None => {
            state.stores.sessions.insert_session(&session).await?;
            state.turns.seed_workspace(&session, agent.as_ref()).await?;
            record_event(&state.stores, state.turns.bus().as_ref(), event).await?;
        }
    }
    Ok(session)
}

/// Updates a session's editable fields.
pub async fn patch(state: &App, org: OrgId, id: &str, input: SessionInput) -> ServiceResult<Session> {
    let mut session = find(state, org, id).await?;
    if input.harness_id.is_some()
        || input.harness_name.is_some()
        || input.agent_id.is_some()
        || input.agent_name.is_some()
    {
        return Err(ServiceError::bad_request("a session's harness and agent cannot be changed"));
    }
    apply(state, org, &mut session, input).await?;
    session.updated_at = Timestamp::now();
    state.stores.sessions.update_session(&session).await?;
    Ok(session)
}

async fn apply(state: &App, org: OrgId, session: &mut Session, input: SessionInput) -> ServiceResult<()> {
    if input.model_id.is_some() {
        session.model_id = resolve_model(state, org, input.model_id.as_deref()).await?;
    }
    if let Some(caps) = input.capabilities {
        session.capabilities = validate_capabilities(state, caps)?;
    }
    if let Some(tools) = input.tools {
        session.tools = client_tools(tools)?;
    }
    if let Some(title) = &input.title {
        validate::line("title", title, 500)?;
    }
    if let Some(locale) = &input.locale {
        validate::locale("locale", locale)?;
    }
    if let Some(tags) = &input.tags {
        validate::tags("tags", tags)?;
    }
    if let Some(files) = &input.initial_files {
        validate::initial_files("initial_files", files)?;
    }
    if let Some(prompt) = &input.system_prompt {
        validate::text("system_prompt", prompt, 100_000)?;
    }
    macro_rules! set {
        ($($field:ident),*) => { $( if input.$field.is_some() { session.$field = input.$field; } )* };
    }
    set!(title, locale, system_prompt, hints, max_iterations, parallel_tool_calls, network_access, mcp_servers);
    if let Some(files) = input.initial_files {
        session.initial_files = files;
    }
    if let Some(tags) = input.tags {
        session.tags = tags;
    }
    Ok(())
}

/// A message as posted.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageInput {
    /// Role (`user`; absent means user).
    pub role: Option<MessageRole>,
    /// Content parts.
    pub content: Vec<ContentPart>,
}

/// `POST /v1/sessions/{id}/messages` body.
#[derive(Debug, Clone, Deserialize)]
pub struct CreateMessageInput {
    /// The message.
    pub message: MessageInput,
    /// Controls.
    pub controls: Option<Controls>,
    /// Metadata.
    pub metadata: Option<Value>,
}

/// Stores a user message: it starts a turn (run by a worker), or steers the running one.
pub async fn post_message(state: &App, org: OrgId, id: &str, input: CreateMessageInput) -> ServiceResult<Message> {
    let id = SessionId::parse(id)?;
    if input.message.role.is_some_and(|r| r != MessageRole::User) {
        return Err(ServiceError::bad_request("only user messages can be posted"));
    }
    if input.message.content.is_empty() {
        return Err(ServiceError::bad_request("message.content must not be empty"));
    }
    if input.message.content.iter().any(|p| {
        matches!(p, ContentPart::Image { base64, url, .. } if base64.as_deref().is_none_or(str::is_empty) && url.as_deref().is_none_or(str::is_empty))
    }) {
        return Err(ServiceError::bad_request("an image part needs base64 data or a url"));
    }
    if let Some(part) = input.message.content.iter().find(|p| !p.is_user_input()) {
        let kind =
            serde_json::to_value(part).ok().and_then(|v| v["type"].as_str().map(str::to_owned)).unwrap_or_default();
        return Err(ServiceError::bad_request(format!("content part type '{kind}' cannot be sent by a user")));
    }
    if let Some(controls) = &input.controls
        && let Some(model) = controls.model_id
    {
        resolve_model(state, org, Some(&model.to_string())).await?;
    }
    if let Some(mode) = input.controls.as_ref().and_then(|c| c.error_disclosure.as_deref())
        && !everruns_core::engine::DISCLOSURE_MODES.contains(&mode)
    {
        return Err(ServiceError::bad_request(format!(
            "controls.error_disclosure must be generic, standard or detailed (got '{}')",
            mode.chars().take(40).collect::<String>()
        )));
    }
    let mut message = Message::new(MessageRole::User, input.message.content);
    message.controls = input.controls;
    message.metadata = input.metadata;
    // No read first: an idle session starts the turn in its first statement (404 if absent).
    let (message, _posted) = state.turns.post_message(org, id, message).await?;
    Ok(message)
}
