//! `PgFileStore`: session workspace files in `session_files`, keyed by `(session_id, path)` with
//! the path normalised exactly as the in-memory store does (relative to `/workspace`, no leading
//! slash, no `.` or empty segments; `..`, NUL and empty paths are `Invalid`). A write is one
//! upsert that refuses to replace a read-only file; files go with their session (`ON DELETE
//! CASCADE`).

use chrono::{DateTime, Utc};
use everruns_core::ids::SessionId;
use everruns_core::ports::{FileStore, PortError, PortResult, SessionFile, normalize_file_path as normalize_path};
use sqlx::PgPool;

use crate::error::{Violation, port_error, violation};

/// Strips a leading `/workspace/` (or a bare `/workspace`) and any leading slashes.
/// The Postgres [`FileStore`].
#[derive(Debug, Clone)]
pub struct PgFileStore {
    pool: PgPool,
}

impl PgFileStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(sqlx::FromRow)]
struct FileRow {
    path: String,
    content: Vec<u8>,
    is_readonly: bool,
    updated_at: DateTime<Utc>,
}

impl From<FileRow> for SessionFile {
    fn from(row: FileRow) -> Self {
        Self { path: row.path, content: row.content, is_readonly: row.is_readonly, updated_at: row.updated_at.into() }
    }
}

#[async_trait::async_trait]
impl FileStore for PgFileStore {
    async fn write_file(&self, session: SessionId, file: SessionFile) -> PortResult<bool> {
        let path = normalize_path(&file.path)?;
        // `xmax = 0` only for a freshly inserted row; no row back means a read-only file was kept.
        let created: Option<bool> = sqlx::query_scalar(
            "INSERT INTO session_files (session_id, path, content, is_readonly, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (session_id, path) DO UPDATE \
               SET content = EXCLUDED.content, is_readonly = EXCLUDED.is_readonly, updated_at = EXCLUDED.updated_at \
               WHERE NOT session_files.is_readonly \
             RETURNING (xmax = 0)",
        )
        .bind(session.uuid())
        .bind(path.as_str())
        .bind(file.content.as_slice())
        .bind(file.is_readonly)
        .bind(file.updated_at.as_datetime())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| match violation(&err) {
            Some(Violation::ForeignKey("session_files_session_id_fkey")) => PortError::not_found("session", session),
            _ => port_error("write_file", err),
        })?;
        created.ok_or_else(|| PortError::Conflict(format!("file '{path}' is read-only")))
    }

    async fn read_file(&self, session: SessionId, path: &str) -> PortResult<Option<SessionFile>> {
        let path = normalize_path(path)?;
        let row = sqlx::query_as::<_, FileRow>(
            "SELECT path, content, is_readonly, updated_at FROM session_files WHERE session_id = $1 AND path = $2",
        )
        .bind(session.uuid())
        .bind(path.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("read_file", err))?;
        Ok(row.map(SessionFile::from))
    }

    async fn list_files(&self, session: SessionId, prefix: &str) -> PortResult<Vec<SessionFile>> {
        // Byte order of the path (COLLATE "C"): the order of the in-memory store's BTreeMap.
        let rows = sqlx::query_as::<_, FileRow>(
            "SELECT path, content, is_readonly, updated_at FROM session_files \
             WHERE session_id = $1 AND starts_with(path, $2) ORDER BY path COLLATE \"C\"",
        )
        .bind(session.uuid())
        .bind(everruns_core::ports::workspace_relative(prefix))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("list_files", err))?;
        Ok(rows.into_iter().map(SessionFile::from).collect())
    }

    async fn delete_file(&self, session: SessionId, path: &str) -> PortResult<bool> {
        let path = normalize_path(path)?;
        let done = sqlx::query("DELETE FROM session_files WHERE session_id = $1 AND path = $2")
            .bind(session.uuid())
            .bind(path.as_str())
            .execute(&self.pool)
            .await
            .map_err(|err| port_error("delete_file", err))?;
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_like_the_memory_store() {
        assert_eq!(normalize_path("/workspace/src/./main.rs").ok().as_deref(), Some("src/main.rs"));
        assert_eq!(normalize_path("//a//b/").ok().as_deref(), Some("a/b"));
        assert_eq!(normalize_path("/workspacex/a").ok().as_deref(), Some("workspacex/a"));
        for bad in ["", "/", "/workspace", "a/../b", "a\0b"] {
            assert!(normalize_path(bad).is_err(), "{bad:?}");
        }
        assert_eq!(everruns_core::ports::workspace_relative("/workspace/src/"), "src/");
        assert_eq!(everruns_core::ports::workspace_relative("/docs"), "docs");
    }
}
