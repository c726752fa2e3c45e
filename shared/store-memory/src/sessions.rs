//! `MemorySessionStore`: sessions of every organization, with the atomic conditional status change
//! the turn services rely on. Deleting a session also deletes its events and files.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::RwLock;

use everruns_core::domain::{Session, SessionStatus};
use everruns_core::ids::{OrgId, SessionId};
use everruns_core::ports::{Page, PortError, PortResult, SessionFilter, SessionStore, StatusChange};
use everruns_core::time::Timestamp;

use crate::events::MemoryEventStore;
use crate::files::MemoryFileStore;
use crate::support::{matches, needle, paginate, read, write};
use crate::values::MemoryValueStore;

/// The in-memory [`SessionStore`]. It holds handles to the event and file stores whose rows
/// belong to its sessions, so `delete_session` cascades like a foreign key would.
#[derive(Debug)]
pub struct MemorySessionStore {
    rows: RwLock<HashMap<SessionId, Session>>,
    events: MemoryEventStore,
    files: MemoryFileStore,
    values: MemoryValueStore,
}

impl MemorySessionStore {
    /// An empty store whose deletes cascade to `events` and `files` (pass clones of the stores
    /// the rest of the platform uses).
    pub fn new(events: MemoryEventStore, files: MemoryFileStore) -> Self {
        Self { rows: RwLock::default(), events, files, values: MemoryValueStore::new() }
    }

    /// Deletes cascade to `values` too.
    pub fn with_values(mut self, values: MemoryValueStore) -> Self {
        self.values = values;
        self
    }

    /// Deletes a session of `org` (with `settled`, only while no turn of it runs) and its children.
    fn delete(&self, org: OrgId, id: SessionId, settled: bool) -> PortResult<bool> {
        // The session lock is held while the children go, so nothing sees a half-deleted session.
        let mut rows = write(&self.rows)?;
        if rows.get(&id).is_none_or(|s| s.organization_id != org || (settled && s.status.is_busy())) {
            return Ok(false);
        }
        self.events.delete_session_events(id)?;
        self.files.delete_session_files(id)?;
        self.values.delete_session_values(id)?;
        rows.remove(&id);
        Ok(true)
    }
}

/// Copies the fields `update_session` may change (title, locale, tags and the overrides).
fn apply_editable(stored: &mut Session, from: &Session) {
    stored.title.clone_from(&from.title);
    stored.locale.clone_from(&from.locale);
    stored.tags.clone_from(&from.tags);
    stored.model_id = from.model_id;
    stored.capabilities.clone_from(&from.capabilities);
    stored.tools.clone_from(&from.tools);
    stored.initial_files.clone_from(&from.initial_files);
    stored.system_prompt.clone_from(&from.system_prompt);
    stored.hints.clone_from(&from.hints);
    stored.network_access.clone_from(&from.network_access);
    stored.max_iterations = from.max_iterations;
    stored.parallel_tool_calls = from.parallel_tool_calls;
    stored.mcp_servers.clone_from(&from.mcp_servers);
    stored.updated_at = Timestamp::now();
}

/// Applies a status change whose expectations hold.
fn apply_change(session: &mut Session, change: StatusChange) {
    let now = Timestamp::now();
    if change.to == SessionStatus::Active && session.started_at.is_none() {
        session.started_at = Some(now);
    }
    if change.to == SessionStatus::Idle {
        session.finished_at = Some(now);
    }
    session.status = change.to;
    session.current_turn_id = change.turn;
    if let Some(usage) = change.add_usage {
        session.usage.get_or_insert_with(Default::default).add(&usage);
    }
    if session.preview.is_none() {
        session.preview = change.preview;
    }
    if change.output_preview.is_some() {
        session.output_preview = change.output_preview;
    }
    session.updated_at = now;
}

#[async_trait::async_trait]
impl SessionStore for MemorySessionStore {
    async fn insert_session(&self, session: &Session) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        if rows.contains_key(&session.id) {
            return Err(PortError::Conflict(format!("session '{}' already exists", session.id)));
        }
        rows.insert(session.id, session.clone());
        Ok(())
    }

    async fn get_session(&self, org: OrgId, id: SessionId) -> PortResult<Option<Session>> {
        Ok(read(&self.rows)?.get(&id).filter(|s| s.organization_id == org).cloned())
    }

    async fn update_session(&self, session: &Session) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        match rows.get_mut(&session.id).filter(|s| s.organization_id == session.organization_id) {
            Some(stored) => {
                apply_editable(stored, session);
                Ok(())
            }
            None => Err(PortError::not_found("session", session.id)),
        }
    }

    async fn delete_session(&self, org: OrgId, id: SessionId) -> PortResult<bool> {
        self.delete(org, id, false)
    }

    async fn delete_settled_session(&self, org: OrgId, id: SessionId) -> PortResult<bool> {
        self.delete(org, id, true)
    }

    async fn list_sessions(&self, org: OrgId, filter: &SessionFilter) -> PortResult<Page<Session>> {
        let rows = read(&self.rows)?;
        let needle = needle(filter.search.as_deref());
        let mut found: Vec<&Session> = rows
            .values()
            .filter(|s| {
                s.organization_id == org
                    && filter.agent_id.is_none_or(|agent| s.agent_id == Some(agent))
                    && matches(needle.as_deref(), &[s.title.as_deref()])
            })
            .collect();
        found.sort_by_key(|s| Reverse((s.created_at, s.id)));
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        Ok(paginate(&found, filter.offset, limit))
    }

    async fn change_status(&self, org: OrgId, id: SessionId, change: StatusChange) -> PortResult<Option<Session>> {
        let mut rows = write(&self.rows)?;
        let Some(session) = rows.get_mut(&id).filter(|s| s.organization_id == org) else {
            return Err(PortError::not_found("session", id));
        };
        let status_ok = change.expect.is_empty() || change.expect.contains(&session.status);
        let turn_ok = change.expect_turn.is_none_or(|turn| session.current_turn_id == Some(turn));
        if !(status_ok && turn_ok) {
            return Ok(None);
        }
        apply_change(session, change);
        Ok(Some(session.clone()))
    }
}
