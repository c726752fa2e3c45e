//! `PgTaskStore`: the durable iteration queue in the `iteration_tasks` table, with the semantics
//! of `MemoryTaskStore` (the reference) shared between any number of processes.
//!
//! - Every lease, visibility and age check uses the database clock (`now()`), so processes with
//!   skewed clocks agree on when a lease lapses. Durations are bound as whole milliseconds, like
//!   the in-memory adapter, and returned timestamps are truncated to milliseconds.
//! - `claim_next` is one statement: a `SELECT … FOR UPDATE SKIP LOCKED` picks the claimable rows
//!   and an `UPDATE` leases them, so concurrent claimers (in any process) never share a task.
//! - `claim` locks the one row (`FOR UPDATE`) in a transaction, decides like the in-memory adapter
//!   and updates it; `fail` and `reap_exhausted` are single conditional `UPDATE … RETURNING`s. Row
//!   locks make each terminal outcome (`Exhausted`, `Terminal`, a reaped task) happen exactly once:
//!   a second writer re-checks the condition against the committed row and no longer matches.
//! - Inserting a task (`enqueue`, `complete` with a next task) also runs
//!   `pg_notify('everruns_task_available', '<task id>')` in the same transaction, delivered on
//!   commit to [`crate::PgTaskNotifier`]s; nothing is notified when the task already existed,
//!   nor by a store built [`PgTaskStore::without_notify`] (another transport announces tasks).
//! - The schema's `failed` status is never written; a row holding it reads as corrupt.

use std::time::Duration;

use chrono::{DateTime, Utc};
use everruns_core::ids::{MessageId, OrgId, SessionId, TaskId, TurnId};
use everruns_core::ports::{
    ClaimOutcome, FailOutcome, IterationTask, PortError, PortResult, TaskLease, TaskStatus, TaskStore,
};
use everruns_core::time::Timestamp;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::{corrupt, port_error};
use crate::notify::TASK_AVAILABLE_CHANNEL;

/// The columns every read returns, in [`TaskRow`] order.
macro_rules! task_columns {
    () => {
        "id, org_id, session_id, turn_id, input_message_id, iteration, attempts, max_attempts, lease_owner, \
         lease_expires_at, visible_at, created_at"
    };
}

/// The assignments that lease a row to `$2` for `$3` milliseconds (a new attempt).
macro_rules! lease_assignments {
    () => {
        " SET status = 'claimed', lease_owner = $2, lease_expires_at = now() + $3 * interval '1 millisecond', \
          attempts = attempts + 1, updated_at = now() "
    };
}

/// The longest lease, retry delay or age bound honoured (longer ones are capped): 100 years.
const MAX_MILLIS: u128 = 100 * 365 * 24 * 3600 * 1000;

/// The longest `last_error` kept, in characters (as the in-memory adapter).
const MAX_ERROR_CHARS: usize = 2000;

/// The Postgres [`TaskStore`].
#[derive(Debug, Clone)]
pub struct PgTaskStore {
    pool: PgPool,
    notify: bool,
}

impl PgTaskStore {
    /// A store on the given pool that notifies [`TASK_AVAILABLE_CHANNEL`] on insert.
    pub fn new(pool: PgPool) -> Self {
        Self { pool, notify: true }
    }

    /// A store that does not use PostgreSQL NOTIFY (tasks are announced another way, e.g. NATS).
    pub fn without_notify(pool: PgPool) -> Self {
        Self { pool, notify: false }
    }
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: Uuid,
    org_id: Uuid,
    session_id: Uuid,
    turn_id: Uuid,
    input_message_id: Uuid,
    iteration: i32,
    attempts: i32,
    max_attempts: i32,
    lease_owner: Option<String>,
    lease_expires_at: Option<DateTime<Utc>>,
    visible_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl TaskRow {
    fn task(&self, operation: &'static str) -> PortResult<IterationTask> {
        Ok(IterationTask {
            task_id: TaskId::from_uuid(self.id),
            org_id: OrgId::from_uuid(self.org_id),
            session_id: SessionId::from_uuid(self.session_id),
            turn_id: TurnId::from_uuid(self.turn_id),
            input_message_id: MessageId::from_uuid(self.input_message_id),
            iteration: u32::try_from(self.iteration).map_err(|err| corrupt(operation, err))?,
        })
    }

    /// The lease of a row just claimed.
    fn lease(&self, operation: &'static str) -> PortResult<TaskLease> {
        let (Some(owner), Some(expires_at)) = (&self.lease_owner, self.lease_expires_at) else {
            return Err(corrupt(operation, "a claimed task without a lease"));
        };
        Ok(TaskLease {
            task: self.task(operation)?,
            attempt: u32::try_from(self.attempts).map_err(|err| corrupt(operation, err))?,
            max_attempts: u32::try_from(self.max_attempts).map_err(|err| corrupt(operation, err))?,
            owner: owner.clone(),
            expires_at: millis_timestamp(expires_at),
        })
    }
}

/// A row locked by `claim`, with what the decision needs.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    status: String,
    lapsed: bool,
    #[sqlx(flatten)]
    row: TaskRow,
}

fn millis_timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp::from_millis(at.timestamp_millis())
}

/// A duration as the milliseconds bound into `$n * interval '1 millisecond'` (capped).
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis().min(MAX_MILLIS)).unwrap_or(i64::MAX)
}

fn parse_status(operation: &'static str, text: &str) -> PortResult<TaskStatus> {
    match text {
        "pending" => Ok(TaskStatus::Pending),
        "claimed" => Ok(TaskStatus::Claimed),
        "completed" => Ok(TaskStatus::Completed),
        "dead" => Ok(TaskStatus::Dead),
        other => Err(corrupt(operation, format_args!("unknown task status '{other}'"))),
    }
}

/// Leases the task to `owner` if it is pending, or claimed with a lapsed lease, with attempts left.
async fn lease_if_claimable(
    conn: impl PgExecutor<'_>,
    task_id: TaskId,
    owner: &str,
    lease: Duration,
) -> PortResult<Option<TaskRow>> {
    sqlx::query_as(concat!(
        "UPDATE iteration_tasks",
        lease_assignments!(),
        "WHERE id = $1 AND attempts < max_attempts \
           AND (status = 'pending' OR (status = 'claimed' AND lease_expires_at <= now())) RETURNING ",
        task_columns!()
    ))
    .bind(task_id.uuid())
    .bind(owner)
    .bind(millis(lease))
    .fetch_optional(conn)
    .await
    .map_err(|err| port_error("claim", err))
}

/// Inserts a pending task unless its id or `(turn, iteration)` exists, and notifies
/// [`TASK_AVAILABLE_CHANNEL`] when it was inserted and `notify` is on (one statement, so within
/// the caller's transaction if there is one). Returns whether it was new.
async fn insert_task(
    conn: impl PgExecutor<'_>,
    task: &IterationTask,
    max_attempts: i32,
    notify: bool,
    operation: &'static str,
) -> PortResult<bool> {
    let iteration = i32::try_from(task.iteration)
        .ok()
        .filter(|i| *i >= 1)
        .ok_or_else(|| PortError::Invalid(format!("task iteration {} is out of range", task.iteration)))?;
    let done = sqlx::query(
        "WITH inserted AS ( \
           INSERT INTO iteration_tasks \
             (id, org_id, session_id, turn_id, input_message_id, iteration, max_attempts, idempotency_key) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING id) \
         SELECT CASE WHEN $11 THEN pg_notify($9, $10) END FROM inserted",
    )
    .bind(task.task_id.uuid())
    .bind(task.org_id.uuid())
    .bind(task.session_id.uuid())
    .bind(task.turn_id.uuid())
    .bind(task.input_message_id.uuid())
    .bind(iteration)
    .bind(max_attempts.max(1))
    .bind(format!("{}/{}", task.turn_id, task.iteration))
    .bind(TASK_AVAILABLE_CHANNEL)
    .bind(task.task_id.to_string())
    .bind(notify)
    .execute(conn)
    .await
    .map_err(|err| port_error(operation, err))?;
    Ok(done.rows_affected() > 0)
}

fn tasks_of(rows: &[TaskRow], operation: &'static str) -> PortResult<Vec<IterationTask>> {
    rows.iter().map(|r| r.task(operation)).collect()
}

#[async_trait::async_trait]
impl TaskStore for PgTaskStore {
    async fn enqueue(&self, task: &IterationTask, max_attempts: u32) -> PortResult<bool> {
        insert_task(&self.pool, task, i32::try_from(max_attempts).unwrap_or(i32::MAX), self.notify, "enqueue").await
    }

    async fn claim_next(&self, owner: &str, lease: Duration, max: usize) -> PortResult<Vec<TaskLease>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut rows: Vec<TaskRow> = sqlx::query_as(concat!(
            "WITH picked AS MATERIALIZED ( \
               SELECT id FROM iteration_tasks \
               WHERE (status = 'pending' AND visible_at <= now()) \
                  OR (status = 'claimed' AND lease_expires_at <= now() AND attempts < max_attempts) \
               ORDER BY visible_at, created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) \
             UPDATE iteration_tasks",
            lease_assignments!(),
            "WHERE id IN (SELECT id FROM picked) RETURNING ",
            task_columns!()
        ))
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .bind(owner)
        .bind(millis(lease))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("claim_next", err))?;
        rows.sort_by_key(|r| (r.visible_at, r.created_at, r.id));
        rows.iter().map(|r| r.lease("claim_next")).collect()
    }

    async fn claim(&self, task_id: TaskId, owner: &str, lease: Duration) -> PortResult<ClaimOutcome> {
        // The common case in one statement: a pending task, or a lapsed lease, with attempts left.
        if let Some(leased) = lease_if_claimable(&self.pool, task_id, owner, lease).await? {
            return Ok(ClaimOutcome::Claimed(leased.lease("claim")?));
        }
        // Otherwise say why, under the row lock (the task may also have become claimable since).
        let mut tx = self.pool.begin().await.map_err(|err| port_error("claim", err))?;
        let found: Option<ClaimRow> = sqlx::query_as(concat!(
            "SELECT status, (status = 'claimed' AND lease_expires_at <= now()) IS TRUE AS lapsed, ",
            task_columns!(),
            " FROM iteration_tasks WHERE id = $1 FOR UPDATE"
        ))
        .bind(task_id.uuid())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|err| port_error("claim", err))?;
        let Some(found) = found else { return Ok(ClaimOutcome::NotFound) };
        let outcome = match parse_status("claim", &found.status)? {
            TaskStatus::Completed | TaskStatus::Dead => ClaimOutcome::Finished,
            TaskStatus::Claimed if !found.lapsed => ClaimOutcome::LeasedElsewhere,
            _ if found.row.attempts >= found.row.max_attempts => {
                sqlx::query(
                    "UPDATE iteration_tasks SET status = 'dead', lease_owner = NULL, updated_at = now() WHERE id = $1",
                )
                .bind(task_id.uuid())
                .execute(&mut *tx)
                .await
                .map_err(|err| port_error("claim", err))?;
                ClaimOutcome::Exhausted(found.row.task("claim")?)
            }
            // Claimable (it became so after the statement above): the row lock holds it so.
            _ => match lease_if_claimable(&mut *tx, task_id, owner, lease).await? {
                Some(leased) => ClaimOutcome::Claimed(leased.lease("claim")?),
                None => return Err(PortError::Internal(format!("task {task_id} is claimable but was not leased"))),
            },
        };
        // Committing also releases the row lock when nothing changed.
        tx.commit().await.map_err(|err| port_error("claim", err))?;
        Ok(outcome)
    }

    async fn heartbeat(&self, task_id: TaskId, owner: &str, lease: Duration) -> PortResult<bool> {
        let done = sqlx::query(
            "UPDATE iteration_tasks SET lease_expires_at = now() + $3 * interval '1 millisecond', updated_at = now() \
             WHERE id = $1 AND status = 'claimed' AND lease_owner = $2",
        )
        .bind(task_id.uuid())
        .bind(owner)
        .bind(millis(lease))
        .execute(&self.pool)
        .await
        .map_err(|err| port_error("heartbeat", err))?;
        Ok(done.rows_affected() > 0)
    }

    async fn complete(&self, task_id: TaskId, owner: &str, next: Option<&IterationTask>) -> PortResult<bool> {
        let query = sqlx::query_scalar(
            "UPDATE iteration_tasks SET status = 'completed', lease_owner = NULL, updated_at = now() \
             WHERE id = $1 AND status = 'claimed' AND lease_owner = $2 RETURNING max_attempts",
        )
        .bind(task_id.uuid())
        .bind(owner);
        let Some(next) = next else {
            // Nothing to enqueue: one statement is its own transaction.
            let completed: Option<i32> =
                query.fetch_optional(&self.pool).await.map_err(|err| port_error("complete", err))?;
            return Ok(completed.is_some());
        };
        let mut tx = self.pool.begin().await.map_err(|err| port_error("complete", err))?;
        let completed: Option<i32> = query.fetch_optional(&mut *tx).await.map_err(|err| port_error("complete", err))?;
        let Some(max_attempts) = completed else { return Ok(false) };
        insert_task(&mut *tx, next, max_attempts, self.notify, "complete").await?;
        tx.commit().await.map_err(|err| port_error("complete", err))?;
        Ok(true)
    }

    async fn fail(&self, task_id: TaskId, owner: &str, error: &str, retry_after: Duration) -> PortResult<FailOutcome> {
        // PostgreSQL text cannot hold NUL; the message is diagnostic, so NULs are dropped.
        let error: String = error.chars().filter(|c| *c != '\0').take(MAX_ERROR_CHARS).collect();
        let status: Option<String> = sqlx::query_scalar(
            "UPDATE iteration_tasks SET \
               status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END, \
               visible_at = CASE WHEN attempts >= max_attempts THEN visible_at \
                                 ELSE now() + $3 * interval '1 millisecond' END, \
               lease_owner = NULL, last_error = $4, updated_at = now() \
             WHERE id = $1 AND status = 'claimed' AND lease_owner = $2 RETURNING status",
        )
        .bind(task_id.uuid())
        .bind(owner)
        .bind(millis(retry_after))
        .bind(error)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("fail", err))?;
        Ok(match status.as_deref() {
            None => FailOutcome::NotOwned,
            Some("dead") => FailOutcome::Terminal,
            Some(_) => FailOutcome::WillRetry,
        })
    }

    async fn reap_exhausted(&self) -> PortResult<Vec<IterationTask>> {
        let mut rows: Vec<TaskRow> = sqlx::query_as(concat!(
            "UPDATE iteration_tasks SET status = 'dead', lease_owner = NULL, updated_at = now() \
             WHERE status = 'claimed' AND lease_expires_at <= now() AND attempts >= max_attempts RETURNING ",
            task_columns!()
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("reap_exhausted", err))?;
        rows.sort_by_key(|r| (r.created_at, r.id));
        tasks_of(&rows, "reap_exhausted")
    }

    async fn abandon(&self, task_id: TaskId) -> PortResult<Option<IterationTask>> {
        let row: Option<TaskRow> = sqlx::query_as(concat!(
            "UPDATE iteration_tasks SET status = 'dead', lease_owner = NULL, updated_at = now() \
             WHERE id = $1 AND status IN ('pending', 'claimed') RETURNING ",
            task_columns!()
        ))
        .bind(task_id.uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| port_error("abandon", err))?;
        Ok(tasks_of(&row.into_iter().collect::<Vec<_>>(), "abandon")?.pop())
    }

    async fn unpublished(&self, older_than: Duration) -> PortResult<Vec<IterationTask>> {
        let rows: Vec<TaskRow> = sqlx::query_as(concat!(
            "SELECT ",
            task_columns!(),
            " FROM iteration_tasks WHERE status = 'pending' AND published_at IS NULL \
              AND created_at <= now() - $1 * interval '1 millisecond' ORDER BY created_at, id"
        ))
        .bind(millis(older_than))
        .fetch_all(&self.pool)
        .await
        .map_err(|err| port_error("unpublished", err))?;
        tasks_of(&rows, "unpublished")
    }

    async fn mark_published(&self, task_id: TaskId) -> PortResult<()> {
        sqlx::query(
            "UPDATE iteration_tasks SET published_at = now(), updated_at = now() \
             WHERE id = $1 AND published_at IS NULL",
        )
        .bind(task_id.uuid())
        .execute(&self.pool)
        .await
        .map_err(|err| port_error("mark_published", err))?;
        Ok(())
    }

    async fn status(&self, task_id: TaskId) -> PortResult<Option<TaskStatus>> {
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM iteration_tasks WHERE id = $1")
            .bind(task_id.uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| port_error("status", err))?;
        status.map(|s| parse_status("status", &s)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_capped_milliseconds() {
        assert_eq!(millis(Duration::from_micros(30_999)), 30);
        assert_eq!(millis(Duration::ZERO), 0);
        assert_eq!(millis(Duration::MAX), 3_153_600_000_000);
    }

    #[test]
    fn only_the_port_statuses_parse() {
        assert_eq!(parse_status("test", "dead").ok(), Some(TaskStatus::Dead));
        assert!(parse_status("test", "failed").is_err());
    }
}
