//! Store ports: agents, harnesses, sessions, the event log (from which messages are rebuilt),
//! providers and models, and session files.

use std::sync::Arc;

use super::PortResult;
use crate::domain::{Agent, Harness, Model, Provider, Session, SessionStatus, TokenUsage};
use crate::events::{Event, NewEvent, TurnStage};
use crate::ids::{AgentId, EventId, HarnessId, ModelId, OrgId, ProviderId, SessionId, TurnId};
use crate::time::Timestamp;

/// Search and pagination of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Case-insensitive substring of name or description.
    pub search: Option<String>,
    /// Include archived rows.
    pub include_archived: bool,
    /// Rows to skip.
    pub offset: u32,
    /// Rows to return.
    pub limit: u32,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self { search: None, include_archived: false, offset: 0, limit: 100 }
    }
}

/// One page of a list, with the total count of matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// All matching rows.
    pub total: u64,
}

/// Agents of an organization.
#[async_trait::async_trait]
pub trait AgentStore: Send + Sync {
    /// Inserts a new agent. `Conflict` if the id exists or the name is taken by a non-deleted agent.
    async fn insert_agent(&self, agent: &Agent) -> PortResult<()>;
    /// Reads an agent by id.
    async fn get_agent(&self, org: OrgId, id: AgentId) -> PortResult<Option<Agent>>;
    /// Reads a non-deleted agent by name.
    async fn get_agent_by_name(&self, org: OrgId, name: &str) -> PortResult<Option<Agent>>;
    /// Replaces an agent. `NotFound` if absent, `Conflict` if the new name is taken.
    async fn update_agent(&self, agent: &Agent) -> PortResult<()>;
    /// Lists non-deleted agents (archived only when asked), newest first.
    async fn list_agents(&self, org: OrgId, query: &ListQuery) -> PortResult<Page<Agent>>;
}

/// Harnesses of an organization.
#[async_trait::async_trait]
pub trait HarnessStore: Send + Sync {
    /// Inserts a harness. `Conflict` if the id exists or the name is taken.
    async fn insert_harness(&self, harness: &Harness) -> PortResult<()>;
    /// Reads a harness by id.
    async fn get_harness(&self, org: OrgId, id: HarnessId) -> PortResult<Option<Harness>>;
    /// Reads a non-deleted harness by name.
    async fn get_harness_by_name(&self, org: OrgId, name: &str) -> PortResult<Option<Harness>>;
    /// Replaces a harness. `NotFound` if absent, `Conflict` if the new name is taken.
    async fn update_harness(&self, harness: &Harness) -> PortResult<()>;
    /// Lists non-deleted harnesses (archived only when asked), by name.
    async fn list_harnesses(&self, org: OrgId, query: &ListQuery) -> PortResult<Page<Harness>>;
}

/// Filters for listing sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFilter {
    /// Only this agent's sessions.
    pub agent_id: Option<AgentId>,
    /// Title substring (case-insensitive).
    pub search: Option<String>,
    /// Rows to skip.
    pub offset: u32,
    /// Rows to return (0 means 100).
    pub limit: u32,
}

/// An atomic status change, applied only if the session is in an expected state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatusChange {
    /// Allowed current statuses (empty: any).
    pub expect: Vec<SessionStatus>,
    /// Required current turn (None: any).
    pub expect_turn: Option<TurnId>,
    /// The new status.
    pub to: SessionStatus,
    /// The new current turn (`None` clears it).
    pub turn: Option<TurnId>,
    /// Usage to add to the session total.
    pub add_usage: Option<TokenUsage>,
    /// New `preview` (set only if the session has none).
    pub preview: Option<String>,
    /// New `output_preview`.
    pub output_preview: Option<String>,
}

/// Sessions of an organization.
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session. `Conflict` if the id exists.
    async fn insert_session(&self, session: &Session) -> PortResult<()>;
    /// Reads a session.
    async fn get_session(&self, org: OrgId, id: SessionId) -> PortResult<Option<Session>>;
    /// Reads a session and, where the store can in the same read, its events that `events`
    /// selects (`None`: they were not read, and the caller lists them). By default the session
    /// alone.
    async fn get_session_with_events(
        &self,
        org: OrgId,
        id: SessionId,
        events: &EventFilter,
    ) -> PortResult<Option<(Session, Option<Vec<Event>>)>> {
        let _ = events;
        Ok(self.get_session(org, id).await?.map(|session| (session, None)))
    }
    /// Replaces a session's editable fields (title, locale, tags, overrides). `NotFound` if absent.
    async fn update_session(&self, session: &Session) -> PortResult<()>;
    /// Deletes a session and its events and files; returns whether it existed.
    async fn delete_session(&self, org: OrgId, id: SessionId) -> PortResult<bool>;
    /// Deletes a session as [`delete_session`](Self::delete_session) does, but only while no turn
    /// of it runs (its status is not busy), in one step with that check; `false` when it is absent
    /// or busy (the caller reads it to tell which).
    async fn delete_settled_session(&self, org: OrgId, id: SessionId) -> PortResult<bool>;
    /// Lists sessions, newest first.
    async fn list_sessions(&self, org: OrgId, filter: &SessionFilter) -> PortResult<Page<Session>>;
    /// Applies `change` atomically if its expectations hold; `Ok(None)` if they do not.
    async fn change_status(&self, org: OrgId, id: SessionId, change: StatusChange) -> PortResult<Option<Session>>;
}

/// Which persisted events to list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventFilter {
    /// Only sequences above this.
    pub after_sequence: Option<i64>,
    /// Only sequences below this.
    pub before_sequence: Option<i64>,
    /// Only events whose id sorts after this one (UUIDv7 time order).
    pub after_id: Option<EventId>,
    /// Only this turn's events.
    pub turn_id: Option<TurnId>,
    /// Only these types (empty: all).
    pub types: Vec<String>,
    /// Not these types.
    pub exclude: Vec<String>,
    /// Only the last N matching events (still oldest first).
    pub limit: Option<u32>,
}

impl EventFilter {
    /// Whether an event passes the type filters (`types` first, then `exclude`).
    pub fn admits_type(&self, event_type: &str) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
            && !self.exclude.iter().any(|t| t == event_type)
    }
}

/// Appends `events` one by one, in order: [`EventStore::append_all`] for stores that cannot do
/// better, and the fallback of those that can.
pub async fn append_each<S: EventStore + ?Sized>(store: &S, events: Vec<NewEvent>) -> PortResult<Vec<Event>> {
    let mut stored = Vec::with_capacity(events.len());
    for event in events {
        stored.push(store.append(event).await?);
    }
    Ok(stored)
}

/// The append-only event log of each session. Messages are rebuilt from it.
#[async_trait::async_trait]
pub trait EventStore: Send + Sync {
    /// Appends an event and assigns the next gap-free sequence of its session (from 1). If an event
    /// with the same idempotency key exists in the session, returns that one and stores nothing.
    /// An event of a turn whose stage does not admit it ([`crate::events::FenceClass`]) is refused
    /// with [`PortError::TurnEnded`](super::PortError::TurnEnded); the check and the stage change
    /// are atomic with the append.
    async fn append(&self, event: NewEvent) -> PortResult<Event>;
    /// Appends events in order, as [`append`](Self::append) would one by one (consecutive
    /// sequences, keys honoured). Adapters may store them together; this default does not.
    async fn append_all(&self, events: Vec<NewEvent>) -> PortResult<Vec<Event>> {
        append_each(self, events).await
    }
    /// Lists persisted events in sequence order.
    async fn list_events(&self, session: SessionId, filter: &EventFilter) -> PortResult<Vec<Event>>;
    /// Reads one event.
    async fn get_event(&self, session: SessionId, id: EventId) -> PortResult<Option<Event>>;
    /// Reads the event stored under an idempotency key.
    async fn get_by_key(&self, session: SessionId, key: &str) -> PortResult<Option<Event>>;
    /// The fence stage of a turn ([`TurnStage::Open`] for a turn with no stored event).
    async fn turn_stage(&self, session: SessionId, turn: TurnId) -> PortResult<TurnStage>;
}

/// LLM provider accounts and their models.
#[async_trait::async_trait]
pub trait ProviderStore: Send + Sync {
    /// Inserts a provider (its key already sealed). `Conflict` if the id exists.
    async fn insert_provider(&self, provider: &Provider) -> PortResult<()>;
    /// Reads a provider.
    async fn get_provider(&self, org: OrgId, id: ProviderId) -> PortResult<Option<Provider>>;
    /// Replaces a provider. `NotFound` if absent.
    async fn update_provider(&self, provider: &Provider) -> PortResult<()>;
    /// Deletes a provider and its models; returns whether it existed.
    async fn delete_provider(&self, org: OrgId, id: ProviderId) -> PortResult<bool>;
    /// Lists providers by name.
    async fn list_providers(&self, org: OrgId) -> PortResult<Vec<Provider>>;
    /// Inserts a model. `Conflict` if `(provider_id, model_id)` exists; `NotFound` if the provider does not.
    async fn insert_model(&self, org: OrgId, model: &Model) -> PortResult<()>;
    /// Reads a model.
    async fn get_model(&self, org: OrgId, id: ModelId) -> PortResult<Option<Model>>;
    /// Replaces a model. `NotFound` if absent.
    async fn update_model(&self, org: OrgId, model: &Model) -> PortResult<()>;
    /// Deletes a model; returns whether it existed.
    async fn delete_model(&self, org: OrgId, id: ModelId) -> PortResult<bool>;
    /// Lists models (of one provider, or all).
    async fn list_models(&self, org: OrgId, provider: Option<ProviderId>) -> PortResult<Vec<Model>>;
    /// The org's default model (`organization_settings.default_model_id`), if one is set and
    /// still exists: deleting the model (or its provider) unsets it.
    async fn default_model(&self, org: OrgId) -> PortResult<Option<ModelId>>;
    /// Sets or (with `None`) unsets the org's default model. `NotFound` if the model is not in the org.
    async fn set_default_model(&self, org: OrgId, model: Option<ModelId>) -> PortResult<()>;
}

/// A file in a session's workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFile {
    /// Normalised path relative to `/workspace` (no leading slash).
    pub path: String,
    /// Content bytes.
    pub content: Vec<u8>,
    /// Read-only flag.
    pub is_readonly: bool,
    /// Last write.
    pub updated_at: Timestamp,
}

/// A workspace path without its leading `/workspace` or `/` (no other normalisation).
pub fn workspace_relative(path: &str) -> &str {
    let relative = match path.strip_prefix("/workspace") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    };
    relative.trim_start_matches('/')
}

/// Normalises a workspace path: strips a leading `/workspace/` or `/`, drops empty and `.`
/// segments. `Invalid` for an empty path, a `..` segment or a NUL character.
pub fn normalize_file_path(path: &str) -> super::PortResult<String> {
    if path.contains('\0') {
        return Err(super::PortError::Invalid("file path must not contain NUL characters".to_owned()));
    }
    let mut segments = Vec::new();
    for segment in workspace_relative(path).split('/') {
        match segment {
            "" | "." => {}
            ".." => return Err(super::PortError::Invalid(format!("file path '{path}' must not contain '..'"))),
            other => segments.push(other),
        }
    }
    if segments.is_empty() {
        return Err(super::PortError::Invalid("file path must not be empty".to_owned()));
    }
    Ok(segments.join("/"))
}

/// Session workspace files.
#[async_trait::async_trait]
pub trait FileStore: Send + Sync {
    /// Writes a file, replacing any existing one; returns whether it was created.
    /// `Conflict` if the existing file is read-only.
    async fn write_file(&self, session: SessionId, file: SessionFile) -> PortResult<bool>;
    /// Reads a file.
    async fn read_file(&self, session: SessionId, path: &str) -> PortResult<Option<SessionFile>>;
    /// Lists files whose path starts with `prefix`, by path.
    async fn list_files(&self, session: SessionId, prefix: &str) -> PortResult<Vec<SessionFile>>;
    /// Deletes a file; returns whether it existed.
    async fn delete_file(&self, session: SessionId, path: &str) -> PortResult<bool>;
}

/// Which of a session's two key-value spaces a value lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueSpace {
    /// Plain values (`kv_store`).
    Values,
    /// Secrets (`secret_store`): the store only ever sees them sealed.
    Secrets,
}

impl ValueSpace {
    /// The stored name (`kv`, `secret`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Values => "kv",
            Self::Secrets => "secret",
        }
    }
}

/// A session's key-value storage: small values by key, in two spaces; they go with the session.
#[async_trait::async_trait]
pub trait ValueStore: Send + Sync {
    /// Sets a value, replacing any existing one. `NotFound` if the session does not exist.
    async fn put_value(&self, session: SessionId, space: ValueSpace, key: &str, value: Vec<u8>) -> PortResult<()>;
    /// Reads a value.
    async fn get_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<Option<Vec<u8>>>;
    /// Deletes a value; returns whether it existed.
    async fn delete_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<bool>;
    /// The keys of a space, in byte order.
    async fn list_keys(&self, session: SessionId, space: ValueSpace) -> PortResult<Vec<String>>;
}

/// Every store, as shared handles.
#[derive(Clone)]
pub struct Stores {
    /// Agents.
    pub agents: Arc<dyn AgentStore>,
    /// Harnesses.
    pub harnesses: Arc<dyn HarnessStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// The event log.
    pub events: Arc<dyn EventStore>,
    /// Providers and models.
    pub providers: Arc<dyn ProviderStore>,
    /// Session files.
    pub files: Arc<dyn FileStore>,
    /// Session key-value storage.
    pub values: Arc<dyn ValueStore>,
    /// Organizations and API keys.
    pub auth: Arc<dyn super::AuthStore>,
    /// OAuth clients, codes and tokens.
    pub oauth: Arc<dyn super::OAuthStore>,
    /// The writes that move a session between turns (status with events, and a task).
    pub turns: Arc<dyn super::TurnLedger>,
}
