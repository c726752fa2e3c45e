//! `PgHarnessStore`: harnesses in the `harnesses` table. The id is the primary key; the name is
//! unique per org among non-deleted harnesses (the partial index `harnesses_org_name_key`).
//! Built-in roles are a `text[]` of their wire names.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use everruns_core::domain::{AgentCapabilityConfig, Harness, InitialFile, NetworkAccessList};
use everruns_core::harness_templates::BuiltInHarnessRole;
use everruns_core::ids::{HarnessId, ModelId, OrgId};
use everruns_core::ports::{HarnessStore, ListQuery, Page, PortError, PortResult};
use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use crate::codec::{capabilities_json, enum_text, needle, parse_enum};
use crate::error::{Violation, port_error, violation};

/// The columns every read returns, in [`HarnessRow`] order.
macro_rules! harness_columns {
    () => {
        "id, org_id, name, display_name, description, system_prompt, parent_harness_id, default_model_id, \
         capabilities, initial_files, tags, network_access, parallel_tool_calls, mcp_servers, embedder_metadata, \
         is_built_in, roles, status, created_at, updated_at, archived_at, deleted_at"
    };
}

/// The filter of `list_harnesses` (`$1` org, `$2` include archived, `$3` needle).
macro_rules! harness_list_filter {
    () => {
        " FROM harnesses WHERE org_id = $1 AND status <> 'deleted' AND ($2 OR status <> 'archived') \
          AND ($3::text IS NULL OR strpos(lower(name), $3) > 0 OR strpos(lower(description), $3) > 0)"
    };
}

/// The Postgres [`HarnessStore`].
#[derive(Debug, Clone)]
pub struct PgHarnessStore {
    pool: PgPool,
}

impl PgHarnessStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(sqlx::FromRow)]
struct HarnessRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    display_name: Option<String>,
    description: Option<String>,
    system_prompt: Option<String>,
    parent_harness_id: Option<Uuid>,
    default_model_id: Option<Uuid>,
    capabilities: Json<Vec<AgentCapabilityConfig>>,
    initial_files: Json<Vec<InitialFile>>,
    tags: Json<Vec<String>>,
    network_access: Option<Json<NetworkAccessList>>,
    parallel_tool_calls: Option<bool>,
    mcp_servers: Option<Json<Value>>,
    embedder_metadata: Option<Json<BTreeMap<String, String>>>,
    is_built_in: bool,
    roles: Vec<String>,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

impl HarnessRow {
    fn into_harness(self) -> PortResult<Harness> {
        const OP: &str = "read harness";
        let roles =
            self.roles.iter().map(|role| parse_enum::<BuiltInHarnessRole>(OP, role)).collect::<PortResult<_>>()?;
        Ok(Harness {
            id: HarnessId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            system_prompt: self.system_prompt,
            parent_harness_id: self.parent_harness_id.map(HarnessId::from_uuid),
            default_model_id: self.default_model_id.map(ModelId::from_uuid),
            capabilities: self.capabilities.0,
            initial_files: self.initial_files.0,
            tags: self.tags.0,
            network_access: self.network_access.map(|j| j.0),
            parallel_tool_calls: self.parallel_tool_calls,
            mcp_servers: self.mcp_servers.map(|j| j.0),
            embedder_metadata: self.embedder_metadata.map(|j| j.0),
            is_built_in: self.is_built_in,
            roles,
            status: parse_enum(OP, &self.status)?,
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
            archived_at: self.archived_at.map(Into::into),
            deleted_at: self.deleted_at.map(Into::into),
        })
    }
}

/// Binds every column after `id, org_id` (`$3` onwards), in the order of the insert and update.
fn bind_fields<'q>(query: Query<'q, Postgres, PgArguments>, harness: &Harness) -> Query<'q, Postgres, PgArguments> {
    let roles: Vec<String> = harness.roles.iter().map(enum_text).collect();
    query
        .bind(harness.name.as_str())
        .bind(harness.display_name.as_deref())
        .bind(harness.description.as_deref())
        .bind(harness.system_prompt.as_deref())
        .bind(harness.parent_harness_id.map(|h| h.uuid()))
        .bind(harness.default_model_id.map(|m| m.uuid()))
        .bind(Json(capabilities_json(&harness.capabilities)))
        .bind(Json(&harness.initial_files))
        .bind(Json(&harness.tags))
        .bind(harness.network_access.as_ref().map(Json))
        .bind(harness.parallel_tool_calls)
        .bind(harness.mcp_servers.as_ref().map(Json))
        .bind(harness.embedder_metadata.as_ref().map(Json))
        .bind(harness.is_built_in)
        .bind(roles)
        .bind(enum_text(&harness.status))
        .bind(harness.created_at.as_datetime())
        .bind(harness.updated_at.as_datetime())
        .bind(harness.archived_at.map(|t| t.as_datetime()))
        .bind(harness.deleted_at.map(|t| t.as_datetime()))
}

/// Maps a failed insert or update of `harness`.
fn write_error(operation: &'static str, harness: &Harness, err: sqlx::Error) -> PortError {
    match violation(&err) {
        Some(Violation::Unique("harnesses_pkey")) => {
            PortError::Conflict(format!("harness '{}' already exists", harness.id))
        }
        Some(Violation::Unique("harnesses_org_name_key")) => {
            PortError::Conflict(format!("harness name '{}' already exists", harness.name))
        }
        _ => port_error(operation, err),
    }
}

#[async_trait::async_trait]
impl HarnessStore for PgHarnessStore {
    async fn insert_harness(&self, harness: &Harness) -> PortResult<()> {
        let query = sqlx::query(concat!(
            "INSERT INTO harnesses (",
            harness_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
             $21, $22)"
        ))
        .bind(harness.id.uuid())
        .bind(harness.org_id.uuid());
        bind_fields(query, harness)
            .execute(&self.pool)
            .await
            .map_err(|err| write_error("insert_harness", harness, err))?;
        Ok(())
    }

    async fn get_harness(&self, org: OrgId, id: HarnessId) -> PortResult<Option<Harness>> {
        sqlx::query_as::<_, HarnessRow>(concat!(
            "SELECT ",
            harness_columns!(),
            " FROM harnesses WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.uuid())
        .bind(org.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_harness", err))?
        .map(HarnessRow::into_harness)
        .transpose()
    }

    async fn get_harness_by_name(&self, org: OrgId, name: &str) -> PortResult<Option<Harness>> {
        sqlx::query_as::<_, HarnessRow>(concat!(
            "SELECT ",
            harness_columns!(),
            " FROM harnesses WHERE org_id = $1 AND name = $2 AND status <> 'deleted'"
        ))
        .bind(org.uuid())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_harness_by_name", err))?
        .map(HarnessRow::into_harness)
        .transpose()
    }

    async fn update_harness(&self, harness: &Harness) -> PortResult<()> {
        let query = sqlx::query(
            "UPDATE harnesses SET name = $3, display_name = $4, description = $5, system_prompt = $6, \
             parent_harness_id = $7, default_model_id = $8, capabilities = $9, initial_files = $10, tags = $11, \
             network_access = $12, parallel_tool_calls = $13, mcp_servers = $14, embedder_metadata = $15, \
             is_built_in = $16, roles = $17, status = $18, created_at = $19, updated_at = $20, archived_at = $21, \
             deleted_at = $22 WHERE id = $1 AND org_id = $2",
        )
        .bind(harness.id.uuid())
        .bind(harness.org_id.uuid());
        let done = bind_fields(query, harness)
            .execute(&self.pool)
            .await
            .map_err(|err| write_error("update_harness", harness, err))?;
        if done.rows_affected() == 0 {
            return Err(PortError::not_found("harness", harness.id));
        }
        Ok(())
    }

    async fn list_harnesses(&self, org: OrgId, query: &ListQuery) -> PortResult<Page<Harness>> {
        let needle = needle(query.search.as_deref());
        let total: i64 = sqlx::query_scalar(concat!("SELECT count(*)", harness_list_filter!()))
            .bind(org.uuid())
            .bind(query.include_archived)
            .bind(needle.as_deref())
            .fetch_one(&self.pool)
            .await
            .map_err(|err| port_error("list_harnesses", err))?;
        // Byte order of the name (COLLATE "C"), then id: the order of the in-memory store.
        let rows = sqlx::query_as::<_, HarnessRow>(concat!(
            "SELECT ",
            harness_columns!(),
            harness_list_filter!(),
            " ORDER BY name COLLATE \"C\", id OFFSET $4 LIMIT $5"
        ))
        .bind(org.uuid())
        .bind(query.include_archived)
        .bind(needle.as_deref())
        .bind(i64::from(query.offset))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("list_harnesses", err))?;
        let items = rows.into_iter().map(HarnessRow::into_harness).collect::<PortResult<Vec<_>>>()?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }
}
