//! The session workspace: what a tool may touch of its session — the files under `/workspace`
//! and the session's key-value storage, secrets in plain text on this side only. In-process it is
//! [`StoreWorkspace`] (the stores, secrets sealed with the deployment's cipher); a remote worker
//! reaches the same thing through its control plane.

use std::sync::Arc;

use super::{FileStore, PortError, PortResult, SecretCipher, SessionFile, ValueSpace, ValueStore};
use crate::ids::SessionId;

/// The largest file a tool may write (it travels in one control-plane message).
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;
/// The longest key of a stored value.
pub const MAX_KEY_CHARS: usize = 256;
/// The largest stored value.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// A session's files and storage, as the tools see them. Every call names its session.
#[async_trait::async_trait]
pub trait SessionWorkspace: Send + Sync {
    /// Reads a file.
    async fn read_file(&self, session: SessionId, path: &str) -> PortResult<Option<SessionFile>>;
    /// Writes a file (replacing one that is not read-only); returns whether it was created.
    async fn write_file(&self, session: SessionId, file: SessionFile) -> PortResult<bool>;
    /// Files whose path starts with `prefix`, by path.
    async fn list_files(&self, session: SessionId, prefix: &str) -> PortResult<Vec<SessionFile>>;
    /// Deletes a file; returns whether it existed.
    async fn delete_file(&self, session: SessionId, path: &str) -> PortResult<bool>;
    /// Sets a value (a secret is sealed before it is stored).
    async fn put_value(&self, session: SessionId, space: ValueSpace, key: &str, value: &str) -> PortResult<()>;
    /// Reads a value (a secret is opened).
    async fn get_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<Option<String>>;
    /// Deletes a value; returns whether it existed.
    async fn delete_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<bool>;
    /// The keys of a space.
    async fn list_keys(&self, session: SessionId, space: ValueSpace) -> PortResult<Vec<String>>;
}

/// Checks a value's key and size (the same rules wherever the workspace lives).
pub fn check_value(key: &str, value: Option<&str>) -> PortResult<()> {
    if key.trim().is_empty() {
        return Err(PortError::Invalid("key must not be empty".into()));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(PortError::Invalid(format!("key must be at most {MAX_KEY_CHARS} characters")));
    }
    if key.chars().any(char::is_control) {
        return Err(PortError::Invalid("key must not contain control characters".into()));
    }
    if value.is_some_and(|v| v.len() > MAX_VALUE_BYTES) {
        return Err(PortError::Invalid(format!("value must be at most {MAX_VALUE_BYTES} bytes")));
    }
    Ok(())
}

/// The workspace over this process's stores.
#[derive(Clone)]
pub struct StoreWorkspace {
    files: Arc<dyn FileStore>,
    values: Arc<dyn ValueStore>,
    cipher: Option<Arc<dyn SecretCipher>>,
}

impl StoreWorkspace {
    /// A workspace on the given stores; without a cipher, secrets are refused.
    pub fn new(files: Arc<dyn FileStore>, values: Arc<dyn ValueStore>, cipher: Option<Arc<dyn SecretCipher>>) -> Self {
        Self { files, values, cipher }
    }

    fn cipher(&self) -> PortResult<&dyn SecretCipher> {
        self.cipher.as_deref().ok_or_else(|| PortError::Invalid("no secret cipher is configured for secrets".into()))
    }
}

#[async_trait::async_trait]
impl SessionWorkspace for StoreWorkspace {
    async fn read_file(&self, session: SessionId, path: &str) -> PortResult<Option<SessionFile>> {
        self.files.read_file(session, path).await
    }

    async fn write_file(&self, session: SessionId, file: SessionFile) -> PortResult<bool> {
        if file.content.len() > MAX_FILE_BYTES {
            return Err(PortError::Invalid(format!("a file must be at most {MAX_FILE_BYTES} bytes")));
        }
        self.files.write_file(session, file).await
    }

    async fn list_files(&self, session: SessionId, prefix: &str) -> PortResult<Vec<SessionFile>> {
        self.files.list_files(session, prefix).await
    }

    async fn delete_file(&self, session: SessionId, path: &str) -> PortResult<bool> {
        if self.files.read_file(session, path).await?.is_some_and(|f| f.is_readonly) {
            return Err(PortError::Conflict(format!("file '{}' is read-only", super::workspace_relative(path))));
        }
        self.files.delete_file(session, path).await
    }

    async fn put_value(&self, session: SessionId, space: ValueSpace, key: &str, value: &str) -> PortResult<()> {
        check_value(key, Some(value))?;
        let bytes = match space {
            ValueSpace::Values => value.as_bytes().to_vec(),
            ValueSpace::Secrets => self.cipher()?.seal(value).map_err(|e| PortError::Internal(e.to_string()))?,
        };
        self.values.put_value(session, space, key, bytes).await
    }

    async fn get_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<Option<String>> {
        check_value(key, None)?;
        let Some(bytes) = self.values.get_value(session, space, key).await? else {
            return Ok(None);
        };
        match space {
            ValueSpace::Values => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| PortError::Internal(format!("value '{key}' is not text"))),
            ValueSpace::Secrets => {
                self.cipher()?.open(&bytes).map(Some).map_err(|e| PortError::Internal(e.to_string()))
            }
        }
    }

    async fn delete_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<bool> {
        check_value(key, None)?;
        self.values.delete_value(session, space, key).await
    }

    async fn list_keys(&self, session: SessionId, space: ValueSpace) -> PortResult<Vec<String>> {
        self.values.list_keys(session, space).await
    }
}

/// A workspace that has nothing: every call is refused (tools run outside a session, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoWorkspace;

#[async_trait::async_trait]
impl SessionWorkspace for NoWorkspace {
    async fn read_file(&self, _: SessionId, _: &str) -> PortResult<Option<SessionFile>> {
        Err(no_workspace())
    }

    async fn write_file(&self, _: SessionId, _: SessionFile) -> PortResult<bool> {
        Err(no_workspace())
    }

    async fn list_files(&self, _: SessionId, _: &str) -> PortResult<Vec<SessionFile>> {
        Err(no_workspace())
    }

    async fn delete_file(&self, _: SessionId, _: &str) -> PortResult<bool> {
        Err(no_workspace())
    }

    async fn put_value(&self, _: SessionId, _: ValueSpace, _: &str, _: &str) -> PortResult<()> {
        Err(no_workspace())
    }

    async fn get_value(&self, _: SessionId, _: ValueSpace, _: &str) -> PortResult<Option<String>> {
        Err(no_workspace())
    }

    async fn delete_value(&self, _: SessionId, _: ValueSpace, _: &str) -> PortResult<bool> {
        Err(no_workspace())
    }

    async fn list_keys(&self, _: SessionId, _: ValueSpace) -> PortResult<Vec<String>> {
        Err(no_workspace())
    }
}

fn no_workspace() -> PortError {
    PortError::Invalid("this tool run has no session workspace".into())
}
