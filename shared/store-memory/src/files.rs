//! `MemoryFileStore`: the workspace files of every session, keyed by normalised path (relative to
//! `/workspace`, no leading slash). Read-only files cannot be overwritten.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use everruns_core::ids::SessionId;
use everruns_core::ports::{FileStore, PortError, PortResult, SessionFile, normalize_file_path as normalize_path};

use crate::support::{read, write};

/// Strips a leading `/workspace/` (or a bare `/workspace`) and any leading slashes.
type SessionFiles = BTreeMap<String, SessionFile>;

/// The in-memory [`FileStore`]. Cloning shares the same files (the session store holds a clone to
/// delete a session's files with it).
#[derive(Debug, Clone, Default)]
pub struct MemoryFileStore {
    sessions: Arc<RwLock<HashMap<SessionId, SessionFiles>>>,
}

impl MemoryFileStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes every file of a session (part of deleting the session).
    pub(crate) fn delete_session_files(&self, session: SessionId) -> PortResult<()> {
        write(&self.sessions)?.remove(&session);
        Ok(())
    }
}

#[async_trait::async_trait]
impl FileStore for MemoryFileStore {
    async fn write_file(&self, session: SessionId, mut file: SessionFile) -> PortResult<bool> {
        file.path = normalize_path(&file.path)?;
        let mut sessions = write(&self.sessions)?;
        let files = sessions.entry(session).or_default();
        if files.get(&file.path).is_some_and(|existing| existing.is_readonly) {
            return Err(PortError::Conflict(format!("file '{}' is read-only", file.path)));
        }
        Ok(files.insert(file.path.clone(), file).is_none())
    }

    async fn read_file(&self, session: SessionId, path: &str) -> PortResult<Option<SessionFile>> {
        let path = normalize_path(path)?;
        Ok(read(&self.sessions)?.get(&session).and_then(|files| files.get(&path)).cloned())
    }

    async fn list_files(&self, session: SessionId, prefix: &str) -> PortResult<Vec<SessionFile>> {
        let prefix = everruns_core::ports::workspace_relative(prefix);
        let sessions = read(&self.sessions)?;
        Ok(sessions
            .get(&session)
            .map(|files| files.values().filter(|f| f.path.starts_with(prefix)).cloned().collect())
            .unwrap_or_default())
    }

    async fn delete_file(&self, session: SessionId, path: &str) -> PortResult<bool> {
        let path = normalize_path(path)?;
        let mut sessions = write(&self.sessions)?;
        Ok(sessions.get_mut(&session).is_some_and(|files| files.remove(&path).is_some()))
    }
}
