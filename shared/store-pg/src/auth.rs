//! `PgAuthStore`: organizations (`organizations`) and API keys (`api_keys`). A key row holds the
//! SHA-256 digest of the secret (`key_hash`, unique), never the secret; a key's organization must
//! exist (foreign key) and deleting an organization deletes its keys.

use chrono::{DateTime, Utc};
use everruns_core::domain::{ApiKey, KeyDigest, Organization};
use everruns_core::ids::{ApiKeyId, OrgId};
use everruns_core::ports::{AuthStore, PortError, PortResult};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::{Violation, port_error, violation};

/// The key columns every read returns, in [`KeyRow`] order.
macro_rules! key_columns {
    () => {
        "id, org_id, name, key_prefix, scopes, expires_at, last_used_at, created_at"
    };
}

/// The Postgres [`AuthStore`].
#[derive(Debug, Clone)]
pub struct PgAuthStore {
    pool: PgPool,
}

impl PgAuthStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    key_prefix: String,
    scopes: Json<Vec<String>>,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<KeyRow> for ApiKey {
    fn from(row: KeyRow) -> Self {
        Self {
            id: ApiKeyId::from_uuid(row.id),
            organization_id: OrgId::from_uuid(row.org_id),
            name: row.name,
            key_prefix: row.key_prefix,
            scopes: row.scopes.0,
            expires_at: row.expires_at.map(Into::into),
            last_used_at: row.last_used_at.map(Into::into),
            created_at: row.created_at.into(),
        }
    }
}

#[async_trait::async_trait]
impl AuthStore for PgAuthStore {
    async fn insert_organization(&self, org: &Organization) -> PortResult<()> {
        sqlx::query("INSERT INTO organizations (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)")
            .bind(org.id.uuid())
            .bind(org.name.as_str())
            .bind(org.created_at.as_datetime())
            .execute(&self.pool)
            .await
            .map_err(|err| match violation(&err) {
                Some(Violation::Unique("organizations_pkey")) => {
                    PortError::Conflict(format!("organization '{}' already exists", org.id))
                }
                _ => port_error("insert_organization", err),
            })?;
        Ok(())
    }

    async fn get_organization(&self, id: OrgId) -> PortResult<Option<Organization>> {
        let row: Option<(Uuid, String, DateTime<Utc>)> =
            sqlx::query_as("SELECT id, name, created_at FROM organizations WHERE id = $1")
                .bind(id.uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| port_error("get_organization", err))?;
        Ok(row.map(|(id, name, created_at)| Organization {
            id: OrgId::from_uuid(id),
            name,
            created_at: created_at.into(),
        }))
    }

    async fn insert_api_key(&self, key: &ApiKey, digest: &KeyDigest) -> PortResult<()> {
        sqlx::query(concat!(
            "INSERT INTO api_keys (",
            key_columns!(),
            ", key_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(key.id.uuid())
        .bind(key.organization_id.uuid())
        .bind(key.name.as_str())
        .bind(key.key_prefix.as_str())
        .bind(Json(&key.scopes))
        .bind(key.expires_at.map(|t| t.as_datetime()))
        .bind(key.last_used_at.map(|t| t.as_datetime()))
        .bind(key.created_at.as_datetime())
        .bind(&digest.0[..])
        .execute(&self.pool)
        .await
        .map_err(|err| match violation(&err) {
            Some(Violation::Unique(_)) => PortError::Conflict(format!("api key '{}' already exists", key.id)),
            Some(Violation::ForeignKey(_)) => PortError::not_found("organization", key.organization_id),
            _ => port_error("insert_api_key", err),
        })?;
        Ok(())
    }

    async fn find_api_key(&self, digest: &KeyDigest) -> PortResult<Option<ApiKey>> {
        sqlx::query_as::<_, KeyRow>(concat!("SELECT ", key_columns!(), " FROM api_keys WHERE key_hash = $1"))
            .bind(&digest.0[..])
            .fetch_optional(&self.pool)
            .await
            .map(|row| row.map(ApiKey::from))
            .map_err(|err| port_error("find_api_key", err))
    }

    async fn list_api_keys(&self, org: OrgId) -> PortResult<Vec<ApiKey>> {
        sqlx::query_as::<_, KeyRow>(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(org.uuid())
        .fetch_all(&self.pool)
        .await
        .map(|rows| rows.into_iter().map(ApiKey::from).collect())
        .map_err(|err| port_error("list_api_keys", err))
    }

    async fn delete_api_key(&self, org: OrgId, id: ApiKeyId) -> PortResult<bool> {
        let done = sqlx::query("DELETE FROM api_keys WHERE id = $1 AND org_id = $2")
            .bind(id.uuid())
            .bind(org.uuid())
            .execute(&self.pool)
            .await
            .map_err(|err| port_error("delete_api_key", err))?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: everruns_core::time::Timestamp) -> PortResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .bind(id.uuid())
            .bind(at.as_datetime())
            .execute(&self.pool)
            .await
            .map_err(|err| port_error("touch_api_key", err))?;
        Ok(())
    }
}
