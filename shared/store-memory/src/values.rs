//! `MemoryValueStore`: every session's key-value storage (plain values and sealed secrets), by
//! session, space and key. Part of the honest in-memory adapter set (DEV_MODE and the in-process
//! runtime; one process only, not for multi-instance use).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use everruns_core::ids::SessionId;
use everruns_core::ports::{PortResult, ValueSpace, ValueStore};

use crate::support::{read, write};

type SessionValues = HashMap<ValueSpace, BTreeMap<String, Vec<u8>>>;

/// The in-memory [`ValueStore`]. Cloning shares the same values (the session store holds a clone
/// to delete a session's values with it).
#[derive(Debug, Clone, Default)]
pub struct MemoryValueStore {
    sessions: Arc<RwLock<HashMap<SessionId, SessionValues>>>,
}

impl MemoryValueStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes every value of a session (part of deleting the session).
    pub(crate) fn delete_session_values(&self, session: SessionId) -> PortResult<()> {
        write(&self.sessions)?.remove(&session);
        Ok(())
    }
}

#[async_trait::async_trait]
impl ValueStore for MemoryValueStore {
    async fn put_value(&self, session: SessionId, space: ValueSpace, key: &str, value: Vec<u8>) -> PortResult<()> {
        write(&self.sessions)?.entry(session).or_default().entry(space).or_default().insert(key.to_owned(), value);
        Ok(())
    }

    async fn get_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<Option<Vec<u8>>> {
        let sessions = read(&self.sessions)?;
        Ok(sessions.get(&session).and_then(|s| s.get(&space)).and_then(|values| values.get(key)).cloned())
    }

    async fn delete_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<bool> {
        let mut sessions = write(&self.sessions)?;
        Ok(sessions.get_mut(&session).and_then(|s| s.get_mut(&space)).is_some_and(|v| v.remove(key).is_some()))
    }

    async fn list_keys(&self, session: SessionId, space: ValueSpace) -> PortResult<Vec<String>> {
        let sessions = read(&self.sessions)?;
        Ok(sessions.get(&session).and_then(|s| s.get(&space)).map(|v| v.keys().cloned().collect()).unwrap_or_default())
    }
}
