//! `PgSessionStore`: sessions in the `sessions` table. The conditional status change is one
//! `UPDATE … WHERE status = ANY(…) AND (current_turn_id = … OR … IS NULL) RETURNING`, so of many
//! concurrent changes with the same expectation exactly one matches (the others re-check the
//! updated row and match nothing). Deleting a session deletes its tasks, events, fences and
//! sequence counter itself (those tables have no foreign key: migrations 0002 and 0010) and
//! cascades to its files and values.

use chrono::{DateTime, Utc};
use everruns_core::domain::{
    AgentCapabilityConfig, InitialFile, NetworkAccessList, Session, SessionStatus, TokenUsage, ToolDefinition,
};
use everruns_core::events::Event;
use everruns_core::ids::{AgentId, HarnessId, ModelId, OrgId, SessionId, TurnId};
use everruns_core::ports::{EventFilter, Page, PortError, PortResult, SessionFilter, SessionStore, StatusChange};
use everruns_core::time::Timestamp;
use serde_json::Value;
use sqlx::postgres::PgArguments;
use sqlx::types::Json;
use sqlx::{Arguments, FromRow, PgPool, Row};
use uuid::Uuid;

use crate::codec::{capabilities_json, column_u32, needle, u32_column};
use crate::error::{Violation, corrupt, port_error, violation};
use crate::events::{AggregatedEvent, aggregated_events};

/// The columns every read returns, in [`SessionRow`] order.
macro_rules! session_columns {
    () => {
        "id, org_id, harness_id, agent_id, status, current_turn_id, title, locale, preview, output_preview, tags, \
         model_id, capabilities, tools, initial_files, system_prompt, hints, network_access, max_iterations, \
         parallel_tool_calls, mcp_servers, usage, started_at, finished_at, created_at, updated_at"
    };
}
pub(crate) use session_columns;

/// The filter of `list_sessions` (`$1` org, `$2` agent, `$3` needle).
macro_rules! session_list_filter {
    () => {
        " FROM sessions WHERE org_id = $1 AND ($2::uuid IS NULL OR agent_id = $2) \
          AND ($3::text IS NULL OR strpos(lower(title), $3) > 0)"
    };
}

/// The Postgres [`SessionStore`].
#[derive(Debug, Clone)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    /// A store on the given pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: Uuid,
    org_id: Uuid,
    harness_id: Uuid,
    agent_id: Option<Uuid>,
    status: String,
    current_turn_id: Option<Uuid>,
    title: Option<String>,
    locale: Option<String>,
    preview: Option<String>,
    output_preview: Option<String>,
    tags: Json<Vec<String>>,
    model_id: Option<Uuid>,
    capabilities: Json<Vec<AgentCapabilityConfig>>,
    tools: Json<Vec<ToolDefinition>>,
    initial_files: Json<Vec<InitialFile>>,
    system_prompt: Option<String>,
    hints: Option<Json<Value>>,
    network_access: Option<Json<NetworkAccessList>>,
    max_iterations: Option<i64>,
    parallel_tool_calls: Option<bool>,
    mcp_servers: Option<Json<Value>>,
    usage: Option<Json<TokenUsage>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl SessionRow {
    pub(crate) fn into_session(self) -> PortResult<Session> {
        const OP: &str = "read session";
        let status = SessionStatus::parse(&self.status)
            .ok_or_else(|| corrupt(OP, format!("unknown session status '{}'", self.status)))?;
        Ok(Session {
            id: SessionId::from_uuid(self.id),
            organization_id: OrgId::from_uuid(self.org_id),
            harness_id: HarnessId::from_uuid(self.harness_id),
            agent_id: self.agent_id.map(AgentId::from_uuid),
            status,
            current_turn_id: self.current_turn_id.map(TurnId::from_uuid),
            title: self.title,
            locale: self.locale,
            preview: self.preview,
            output_preview: self.output_preview,
            tags: self.tags.0,
            model_id: self.model_id.map(ModelId::from_uuid),
            capabilities: self.capabilities.0,
            tools: self.tools.0,
            initial_files: self.initial_files.0,
            system_prompt: self.system_prompt,
            hints: self.hints.map(|j| j.0),
            network_access: self.network_access.map(|j| j.0),
            max_iterations: column_u32(OP, self.max_iterations)?,
            parallel_tool_calls: self.parallel_tool_calls,
            mcp_servers: self.mcp_servers.map(|j| j.0),
            usage: self.usage.map(|j| j.0),
            started_at: self.started_at.map(Into::into),
            finished_at: self.finished_at.map(Into::into),
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
        })
    }
}

/// Adds `$6` (a `TokenUsage` as JSON, or NULL) to the stored usage with the rules of
/// `TokenUsage::add`: the token counts add up; a cache count stays absent only if both are.
macro_rules! add_usage {
    () => {
        "CASE WHEN $6::jsonb IS NULL THEN usage ELSE jsonb_strip_nulls(jsonb_build_object( \
           'input_tokens', COALESCE((usage->>'input_tokens')::numeric, 0) + ($6->>'input_tokens')::numeric, \
           'output_tokens', COALESCE((usage->>'output_tokens')::numeric, 0) + ($6->>'output_tokens')::numeric, \
           'cache_read_tokens', CASE WHEN usage->>'cache_read_tokens' IS NULL AND $6->>'cache_read_tokens' IS NULL \
             THEN NULL ELSE COALESCE((usage->>'cache_read_tokens')::numeric, 0) \
             + COALESCE(($6->>'cache_read_tokens')::numeric, 0) END, \
           'cache_creation_tokens', CASE WHEN usage->>'cache_creation_tokens' IS NULL \
             AND $6->>'cache_creation_tokens' IS NULL \
             THEN NULL ELSE COALESCE((usage->>'cache_creation_tokens')::numeric, 0) \
             + COALESCE(($6->>'cache_creation_tokens')::numeric, 0) END)) END"
    };
}

/// The conditional status change (parameters `$1`–`$10`, see [`change_arguments`]), without
/// its `RETURNING`: `change_status` returns the row, a turn's start goes on in the same statement.
macro_rules! status_update {
    () => {
        concat!(
            "UPDATE sessions SET status = $3, current_turn_id = $4, \
             started_at = CASE WHEN $3 = 'active' AND started_at IS NULL THEN $5 ELSE started_at END, \
             finished_at = CASE WHEN $3 = 'idle' THEN $5 ELSE finished_at END, \
             usage = ",
            add_usage!(),
            ", preview = COALESCE(preview, $7), output_preview = COALESCE($8, output_preview), updated_at = $5 \
             WHERE id = $1 AND org_id = $2 \
             AND (cardinality($9::text[]) = 0 OR status = ANY($9)) \
             AND ($10::uuid IS NULL OR current_turn_id = $10)"
        )
    };
}
pub(crate) use {add_usage, status_update};

/// A session's row, `$1`–`$26` (see [`session_arguments`]).
macro_rules! insert_session {
    () => {
        concat!(
            "INSERT INTO sessions (",
            $crate::sessions::session_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
             $21, $22, $23, $24, $25, $26)"
        )
    };
}
pub(crate) use insert_session;

/// The arguments `$1`–`$26` of `insert_session!`.
pub(crate) fn session_arguments(session: &Session) -> PortResult<PgArguments> {
    let mut arguments = PgArguments::default();
    let add = |result: Result<(), sqlx::error::BoxDynError>| {
        result.map_err(|err| PortError::Internal(format!("encode a session: {err}")))
    };
    add(arguments.add(session.id.uuid()))?;
    add(arguments.add(session.organization_id.uuid()))?;
    add(arguments.add(session.harness_id.uuid()))?;
    add(arguments.add(session.agent_id.map(|a| a.uuid())))?;
    add(arguments.add(session.status.as_str()))?;
    add(arguments.add(session.current_turn_id.map(|t| t.uuid())))?;
    add(arguments.add(session.title.as_deref()))?;
    add(arguments.add(session.locale.as_deref()))?;
    add(arguments.add(session.preview.as_deref()))?;
    add(arguments.add(session.output_preview.as_deref()))?;
    add(arguments.add(Json(&session.tags)))?;
    add(arguments.add(session.model_id.map(|m| m.uuid())))?;
    add(arguments.add(Json(capabilities_json(&session.capabilities))))?;
    add(arguments.add(Json(&session.tools)))?;
    add(arguments.add(Json(&session.initial_files)))?;
    add(arguments.add(session.system_prompt.as_deref()))?;
    add(arguments.add(session.hints.as_ref().map(Json)))?;
    add(arguments.add(session.network_access.as_ref().map(Json)))?;
    add(arguments.add(u32_column(session.max_iterations)))?;
    add(arguments.add(session.parallel_tool_calls))?;
    add(arguments.add(session.mcp_servers.as_ref().map(Json)))?;
    add(arguments.add(session.usage.as_ref().map(Json)))?;
    add(arguments.add(session.started_at.map(|t| t.as_datetime())))?;
    add(arguments.add(session.finished_at.map(|t| t.as_datetime())))?;
    add(arguments.add(session.created_at.as_datetime()))?;
    add(arguments.add(session.updated_at.as_datetime()))?;
    Ok(arguments)
}

/// An insert's failure: `Conflict` for a known id, `NotFound` for a missing harness.
pub(crate) fn insert_error(session: &Session, err: sqlx::Error) -> PortError {
    match violation(&err) {
        Some(Violation::Unique("sessions_pkey")) => {
            PortError::Conflict(format!("session '{}' already exists", session.id))
        }
        Some(Violation::ForeignKey("sessions_harness_id_fkey")) => PortError::not_found("harness", session.harness_id),
        _ => port_error("insert_session", err),
    }
}

/// The arguments `$1`–`$10` of [`status_update`].
pub(crate) fn change_arguments(org: OrgId, id: SessionId, change: &StatusChange) -> PortResult<PgArguments> {
    let expect: Vec<&str> = change.expect.iter().map(|s| s.as_str()).collect();
    let mut arguments = PgArguments::default();
    let add = |result: Result<(), sqlx::error::BoxDynError>| {
        result.map_err(|err| PortError::Internal(format!("encode a status change: {err}")))
    };
    add(arguments.add(id.uuid()))?;
    add(arguments.add(org.uuid()))?;
    add(arguments.add(change.to.as_str()))?;
    add(arguments.add(change.turn.map(|t| t.uuid())))?;
    add(arguments.add(Timestamp::now().as_datetime()))?;
    add(arguments.add(change.add_usage.as_ref().map(Json)))?;
    add(arguments.add(change.preview.as_deref()))?;
    add(arguments.add(change.output_preview.as_deref()))?;
    add(arguments.add(expect))?;
    add(arguments.add(change.expect_turn.map(|t| t.uuid())))?;
    Ok(arguments)
}

/// Why a conditional change matched no row: `NotFound` when the session does not exist, else
/// `Ok` (its expectations did not hold).
pub(crate) async fn unchanged(pool: &PgPool, org: OrgId, id: SessionId) -> PortResult<()> {
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND org_id = $2)")
        .bind(id.uuid())
        .bind(org.uuid())
        .fetch_one(pool)
        .await
        .map_err(|err| port_error("change_status", err))?;
    if exists { Ok(()) } else { Err(PortError::not_found("session", id)) }
}

#[async_trait::async_trait]
impl SessionStore for PgSessionStore {
    async fn insert_session(&self, session: &Session) -> PortResult<()> {
        sqlx::query_with(insert_session!(), session_arguments(session)?)
            .execute(&self.pool)
            .await
            .map_err(|err| insert_error(session, err))?;
        Ok(())
    }

    async fn get_session(&self, org: OrgId, id: SessionId) -> PortResult<Option<Session>> {
        sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            " FROM sessions WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.uuid())
        .bind(org.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_session", err))?
        .map(SessionRow::into_session)
        .transpose()
    }

    /// One statement when `events` selects what the turn loader reads (the events after a
    /// sequence, some types left out): the session row with its events as one JSON array.
    async fn get_session_with_events(
        &self,
        org: OrgId,
        id: SessionId,
        events: &EventFilter,
    ) -> PortResult<Option<(Session, Option<Vec<Event>>)>> {
        let Some(after) = events.after_sequence.filter(|_| {
            let EventFilter { after_sequence: _, before_sequence, after_id, turn_id, types, exclude: _, limit } =
                events;
            before_sequence.is_none() && after_id.is_none() && turn_id.is_none() && types.is_empty() && limit.is_none()
        }) else {
            return Ok(self.get_session(org, id).await?.map(|session| (session, None)));
        };
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            ", (SELECT coalesce(json_agg(e ORDER BY e.sequence), '[]') FROM (SELECT ",
            crate::events::event_columns!(),
            " FROM events WHERE session_id = $1 AND sequence > $3 AND NOT (event_type = ANY($4))) e) AS events \
             FROM sessions WHERE id = $1 AND org_id = $2"
        ))
        .bind(id.uuid())
        .bind(org.uuid())
        .bind(after)
        .bind(&events.exclude)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("get_session_with_events", err))?;
        let Some(row) = row else { return Ok(None) };
        let session = SessionRow::from_row(&row).map_err(|err| port_error("get_session_with_events", err))?;
        let Json(stored): Json<Vec<AggregatedEvent>> =
            row.try_get("events").map_err(|err| port_error("get_session_with_events", err))?;
        let stored = aggregated_events(&self.pool, id, stored).await?;
        Ok(Some((session.into_session()?, Some(stored))))
    }

    async fn update_session(&self, session: &Session) -> PortResult<()> {
        let done = sqlx::query(
            "UPDATE sessions SET title = $3, locale = $4, tags = $5, model_id = $6, capabilities = $7, tools = $8, \
             initial_files = $9, system_prompt = $10, hints = $11, network_access = $12, max_iterations = $13, \
             parallel_tool_calls = $14, mcp_servers = $15, updated_at = $16 WHERE id = $1 AND org_id = $2",
        )
        .bind(session.id.uuid())
        .bind(session.organization_id.uuid())
        .bind(session.title.as_deref())
        .bind(session.locale.as_deref())
        .bind(Json(&session.tags))
        .bind(session.model_id.map(|m| m.uuid()))
        .bind(Json(capabilities_json(&session.capabilities)))
        .bind(Json(&session.tools))
        .bind(Json(&session.initial_files))
        .bind(session.system_prompt.as_deref())
        .bind(session.hints.as_ref().map(Json))
        .bind(session.network_access.as_ref().map(Json))
        .bind(u32_column(session.max_iterations))
        .bind(session.parallel_tool_calls)
        .bind(session.mcp_servers.as_ref().map(Json))
        .bind(Timestamp::now().as_datetime())
        .execute(&self.pool)
        .await
        .map_err(|err| port_error("update_session", err))?;
        if done.rows_affected() == 0 {
            return Err(PortError::not_found("session", session.id));
        }
        Ok(())
    }

    async fn delete_session(&self, org: OrgId, id: SessionId) -> PortResult<bool> {
        delete(&self.pool, org, id, false).await
    }

    async fn delete_settled_session(&self, org: OrgId, id: SessionId) -> PortResult<bool> {
        delete(&self.pool, org, id, true).await
    }

    async fn list_sessions(&self, org: OrgId, filter: &SessionFilter) -> PortResult<Page<Session>> {
        let needle = needle(filter.search.as_deref());
        let agent = filter.agent_id.map(|a| a.uuid());
        let limit = if filter.limit == 0 { 100 } else { filter.limit };
        let total: i64 = sqlx::query_scalar(concat!("SELECT count(*)", session_list_filter!()))
            .bind(org.uuid())
            .bind(agent)
            .bind(needle.as_deref())
            .fetch_one(&self.pool)
            .await
            .map_err(|err| port_error("list_sessions", err))?;
        let rows = sqlx::query_as::<_, SessionRow>(concat!(
            "SELECT ",
            session_columns!(),
            session_list_filter!(),
            " ORDER BY created_at DESC, id DESC OFFSET $4 LIMIT $5"
        ))
        .bind(org.uuid())
        .bind(agent)
        .bind(needle.as_deref())
        .bind(i64::from(filter.offset))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("list_sessions", err))?;
        let items = rows.into_iter().map(SessionRow::into_session).collect::<PortResult<Vec<_>>>()?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    async fn change_status(&self, org: OrgId, id: SessionId, change: StatusChange) -> PortResult<Option<Session>> {
        let row = sqlx::query_as_with::<_, SessionRow, _>(
            concat!(status_update!(), " RETURNING ", session_columns!()),
            change_arguments(org, id, &change)?,
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("change_status", err))?;
        if let Some(row) = row {
            return row.into_session().map(Some);
        }
        unchanged(&self.pool, org, id).await.map(|()| None)
    }
}

/// Deletes a session (with `settled`, only while its status is not busy) and its rows: its tasks
/// in the same statement (iteration_tasks has no foreign key), then its events, fences and
/// sequence counter (no foreign key since migration 0010) in a second statement of the same
/// transaction. That one's snapshot is taken once the session row is locked for the delete: an
/// append holds its `FOR KEY SHARE` lock until it commits, so every append the delete waited
/// for is seen and removed, and every later one finds no session. Files and values cascade.
async fn delete(pool: &PgPool, org: OrgId, id: SessionId, settled: bool) -> PortResult<bool> {
    let failed = |err| port_error("delete_session", err);
    let mut tx = pool.begin().await.map_err(failed)?;
    let deleted: i64 = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM sessions WHERE id = $1 AND org_id = $2 \
           AND NOT ($3 AND status IN ('active', 'waitingfortoolresults')) RETURNING id), \
         tasks AS (DELETE FROM iteration_tasks WHERE session_id IN (SELECT id FROM gone)) \
         SELECT count(*) FROM gone",
    )
    .bind(id.uuid())
    .bind(org.uuid())
    .bind(settled)
    .fetch_one(&mut *tx)
    .await
    .map_err(failed)?;
    if deleted == 0 {
        return Ok(false);
    }
    sqlx::query(
        "WITH events AS (DELETE FROM events WHERE session_id = $1), \
         fences AS (DELETE FROM turn_fences WHERE session_id = $1) \
         DELETE FROM event_sequences WHERE session_id = $1",
    )
    .bind(id.uuid())
    .execute(&mut *tx)
    .await
    .map_err(failed)?;
    tx.commit().await.map_err(failed)?;
    Ok(true)
}
