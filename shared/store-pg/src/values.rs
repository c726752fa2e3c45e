//! `PgValueStore`: a session's key-value storage in `session_values`, keyed by
//! `(session_id, space, key)`; a write is one upsert, values go with their session
//! (`ON DELETE CASCADE`).

use everruns_core::ids::SessionId;
use everruns_core::ports::{PortError, PortResult, ValueSpace, ValueStore};
use sqlx::PgPool;

use crate::error::{Violation, port_error, violation};

/// The Postgres [`ValueStore`].
#[derive(Debug, Clone)]
pub struct PgValueStore {
    pool: PgPool,
}

impl PgValueStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait::async_trait]
impl ValueStore for PgValueStore {
    async fn put_value(&self, session: SessionId, space: ValueSpace, key: &str, value: Vec<u8>) -> PortResult<()> {
        sqlx::query(
            "INSERT INTO session_values (session_id, space, key, value, updated_at) VALUES ($1, $2, $3, $4, now()) \
             ON CONFLICT (session_id, space, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
        )
        .bind(session.uuid())
        .bind(space.as_str())
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(|err| match violation(&err) {
            Some(Violation::ForeignKey("session_values_session_id_fkey")) => PortError::not_found("session", session),
            _ => port_error("put_value", err),
        })?;
        Ok(())
    }

    async fn get_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT value FROM session_values WHERE session_id = $1 AND space = $2 AND key = $3")
            .bind(session.uuid())
            .bind(space.as_str())
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| port_error("get_value", err))
    }

    async fn delete_value(&self, session: SessionId, space: ValueSpace, key: &str) -> PortResult<bool> {
        let done = sqlx::query("DELETE FROM session_values WHERE session_id = $1 AND space = $2 AND key = $3")
            .bind(session.uuid())
            .bind(space.as_str())
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(|err| port_error("delete_value", err))?;
        Ok(done.rows_affected() > 0)
    }

    async fn list_keys(&self, session: SessionId, space: ValueSpace) -> PortResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT key FROM session_values WHERE session_id = $1 AND space = $2 ORDER BY key COLLATE \"C\"",
        )
        .bind(session.uuid())
        .bind(space.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("list_keys", err))
    }
}
