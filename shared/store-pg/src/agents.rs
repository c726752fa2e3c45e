//! `PgAgentStore`: agents in the `agents` table. The id is the primary key; the name is unique
//! per org among non-deleted agents (the partial index `agents_org_name_key`), so a deleted agent
//! frees its name and an archived one keeps it.

use chrono::{DateTime, Utc};
use everruns_core::domain::{Agent, AgentCapabilityConfig, InitialFile, NetworkAccessList, TokenUsage, ToolDefinition};
use everruns_core::ids::{AgentId, HarnessId, ModelId, OrgId};
use everruns_core::ports::{AgentStore, ListQuery, Page, PortError, PortResult};
use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::types::Json;
use sqlx::{PgPool, Postgres};
use uuid::Uuid;

use crate::codec::{capabilities_json, column_u32, enum_text, needle, parse_enum, u32_column};
use crate::error::{Violation, port_error, violation};

/// The columns every read returns, in [`AgentRow`] order.
macro_rules! agent_columns {
    () => {
        "id, org_id, name, display_name, description, system_prompt, harness_id, default_model_id, \
         capabilities, tools, initial_files, tags, status, max_iterations, parallel_tool_calls, \
         network_access, mcp_servers, usage, created_at, updated_at, archived_at, deleted_at"
    };
}

/// The filter of `list_agents` (`$1` org, `$2` include archived, `$3` needle).
macro_rules! agent_list_filter {
    () => {
        " FROM agents WHERE org_id = $1 AND status <> 'deleted' AND ($2 OR status <> 'archived') \
          AND ($3::text IS NULL OR strpos(lower(name), $3) > 0 OR strpos(lower(description), $3) > 0)"
    };
}

/// The Postgres [`AgentStore`].
#[derive(Debug, Clone)]
pub struct PgAgentStore {
    pool: PgPool,
}

impl PgAgentStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(sqlx::FromRow)]
struct AgentRow {
    id: Uuid,
    org_id: Uuid,
    name: String,
    display_name: Option<String>,
    description: Option<String>,
    system_prompt: String,
    harness_id: Uuid,
    default_model_id: Option<Uuid>,
    capabilities: Json<Vec<AgentCapabilityConfig>>,
    tools: Json<Vec<ToolDefinition>>,
    initial_files: Json<Vec<InitialFile>>,
    tags: Json<Vec<String>>,
    status: String,
    max_iterations: Option<i64>,
    parallel_tool_calls: Option<bool>,
    network_access: Option<Json<NetworkAccessList>>,
    mcp_servers: Option<Json<Value>>,
    usage: Option<Json<TokenUsage>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
    deleted_at: Option<DateTime<Utc>>,
}

impl AgentRow {
    fn into_agent(self) -> PortResult<Agent> {
        const OP: &str = "read agent";
        Ok(Agent {
            id: AgentId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            system_prompt: self.system_prompt,
            harness_id: HarnessId::from_uuid(self.harness_id),
            default_model_id: self.default_model_id.map(ModelId::from_uuid),
            capabilities: self.capabilities.0,
            tools: self.tools.0,
            initial_files: self.initial_files.0,
            tags: self.tags.0,
            status: parse_enum(OP, &self.status)?,
            max_iterations: column_u32(OP, self.max_iterations)?,
            parallel_tool_calls: self.parallel_tool_calls,
            network_access: self.network_access.map(|j| j.0),
            mcp_servers: self.mcp_servers.map(|j| j.0),
            usage: self.usage.map(|j| j.0),
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
            archived_at: self.archived_at.map(Into::into),
            deleted_at: self.deleted_at.map(Into::into),
        })
    }
}

/// Binds every column after `id, org_id` (`$3` onwards), in the order of the insert and update.
fn bind_fields<'q>(query: Query<'q, Postgres, PgArguments>, agent: &Agent) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(agent.name.as_str())
        .bind(agent.display_name.as_deref())
        .bind(agent.description.as_deref())
        .bind(agent.system_prompt.as_str())
        .bind(agent.harness_id.uuid())
        .bind(agent.default_model_id.map(|m| m.uuid()))
        .bind(Json(capabilities_json(&agent.capabilities)))
        .bind(Json(&agent.tools))
        .bind(Json(&agent.initial_files))
        .bind(Json(&agent.tags))
        .bind(enum_text(&agent.status))
        .bind(u32_column(agent.max_iterations))
        .bind(agent.parallel_tool_calls)
        .bind(agent.network_access.as_ref().map(Json))
        .bind(agent.mcp_servers.as_ref().map(Json))
        .bind(agent.usage.as_ref().map(Json))
        .bind(agent.created_at.as_datetime())
        .bind(agent.updated_at.as_datetime())
        .bind(agent.archived_at.map(|t| t.as_datetime()))
        .bind(agent.deleted_at.map(|t| t.as_datetime()))
}

/// Maps a failed insert or update of `agent`.
fn write_error(operation: &'static str, agent: &Agent, err: sqlx::Error) -> PortError {
    match violation(&err) {
        Some(Violation::Unique("agents_pkey")) => PortError::Conflict(format!("agent '{}' already exists", agent.id)),
        Some(Violation::Unique("agents_org_name_key")) => {
            PortError::Conflict(format!("agent name '{}' already exists", agent.name))
        }
        Some(Violation::ForeignKey("agents_harness_id_fkey")) => PortError::not_found("harness", agent.harness_id),
        _ => port_error(operation, err),
    }
}

#[async_trait::async_trait]
impl AgentStore for PgAgentStore {
    async fn insert_agent(&self, agent: &Agent) -> PortResult<()> {
        let query = sqlx::query(concat!(
            "INSERT INTO agents (",
            agent_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
             $21, $22)"
        ))
        .bind(agent.id.uuid())
        .bind(agent.org_id.uuid());
        bind_fields(query, agent).execute(&self.pool).await.map_err(|err| write_error("insert_agent", agent, err))?;
        Ok(())
    }

    async fn get_agent(&self, org: OrgId, id: AgentId) -> PortResult<Option<Agent>> {
        sqlx::query_as::<_, AgentRow>(concat!(
            "SELECT ",
            agent_columns!(),
            " FROM agents WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.uuid())
        .bind(org.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_agent", err))?
        .map(AgentRow::into_agent)
        .transpose()
    }

    async fn get_agent_by_name(&self, org: OrgId, name: &str) -> PortResult<Option<Agent>> {
        sqlx::query_as::<_, AgentRow>(concat!(
            "SELECT ",
            agent_columns!(),
            " FROM agents WHERE org_id = $1 AND name = $2 AND status <> 'deleted'"
        ))
        .bind(org.uuid())
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_agent_by_name", err))?
        .map(AgentRow::into_agent)
        .transpose()
    }

    async fn update_agent(&self, agent: &Agent) -> PortResult<()> {
        let query = sqlx::query(
            "UPDATE agents SET name = $3, display_name = $4, description = $5, system_prompt = $6, harness_id = $7, \
             default_model_id = $8, capabilities = $9, tools = $10, initial_files = $11, tags = $12, status = $13, \
             max_iterations = $14, parallel_tool_calls = $15, network_access = $16, mcp_servers = $17, usage = $18, \
             created_at = $19, updated_at = $20, archived_at = $21, deleted_at = $22 \
             WHERE id = $1 AND org_id = $2",
        )
        .bind(agent.id.uuid())
        .bind(agent.org_id.uuid());
        let done = bind_fields(query, agent)
            .execute(&self.pool)
            .await
            .map_err(|err| write_error("update_agent", agent, err))?;
        if done.rows_affected() == 0 {
            return Err(PortError::not_found("agent", agent.id));
        }
        Ok(())
    }

    async fn list_agents(&self, org: OrgId, query: &ListQuery) -> PortResult<Page<Agent>> {
        let needle = needle(query.search.as_deref());
        let total: i64 = sqlx::query_scalar(concat!("SELECT count(*)", agent_list_filter!()))
            .bind(org.uuid())
            .bind(query.include_archived)
            .bind(needle.as_deref())
            .fetch_one(&self.pool)
            .await
            .map_err(|err| port_error("list_agents", err))?;
        let rows = sqlx::query_as::<_, AgentRow>(concat!(
            "SELECT ",
            agent_columns!(),
            agent_list_filter!(),
            " ORDER BY created_at DESC, id DESC OFFSET $4 LIMIT $5"
        ))
        .bind(org.uuid())
        .bind(query.include_archived)
        .bind(needle.as_deref())
        .bind(i64::from(query.offset))
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("list_agents", err))?;
        let items = rows.into_iter().map(AgentRow::into_agent).collect::<PortResult<Vec<_>>>()?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }
}
