//! `MemoryTaskStore`: durable-queue semantics (leases, attempts, outbox flag) in memory.
//! Part of the honest in-memory adapter set (one process only, not for multi-instance use).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use everruns_core::ids::{TaskId, TurnId};
use everruns_core::ports::{ClaimOutcome, FailOutcome, IterationTask, PortResult, TaskLease, TaskStatus, TaskStore};
use everruns_core::time::Timestamp;

use crate::support::lock;

#[derive(Debug, Clone)]
struct Row {
    task: IterationTask,
    status: TaskStatus,
    attempts: u32,
    max_attempts: u32,
    owner: Option<String>,
    expires_at: Timestamp,
    visible_at: Timestamp,
    created_at: Timestamp,
    published: bool,
    last_error: Option<String>,
}

impl Row {
    fn lapsed(&self, now: Timestamp) -> bool {
        self.status == TaskStatus::Claimed && self.expires_at <= now
    }

    fn lease(&mut self, owner: &str, lease: Duration, now: Timestamp) -> TaskLease {
        self.status = TaskStatus::Claimed;
        self.attempts += 1;
        self.owner = Some(owner.to_owned());
        self.expires_at = now.after(lease);
        TaskLease {
            task: self.task.clone(),
            attempt: self.attempts,
            max_attempts: self.max_attempts,
            owner: owner.to_owned(),
            expires_at: self.expires_at,
        }
    }

    fn owned_by(&self, owner: &str) -> bool {
        self.status == TaskStatus::Claimed && self.owner.as_deref() == Some(owner)
    }
}

#[derive(Default)]
struct Tables {
    rows: HashMap<TaskId, Row>,
    by_iteration: HashMap<(TurnId, u32), TaskId>,
}

impl Tables {
    fn insert(&mut self, task: &IterationTask, max_attempts: u32, now: Timestamp) -> bool {
        if self.by_iteration.contains_key(&(task.turn_id, task.iteration)) || self.rows.contains_key(&task.task_id) {
            return false;
        }
        self.by_iteration.insert((task.turn_id, task.iteration), task.task_id);
        let row = Row {
            task: task.clone(),
            status: TaskStatus::Pending,
            attempts: 0,
            max_attempts: max_attempts.max(1),
            owner: None,
            expires_at: now,
            visible_at: now,
            created_at: now,
            published: false,
            last_error: None,
        };
        self.rows.insert(task.task_id, row);
        true
    }
}

/// Iteration tasks in memory.
#[derive(Clone, Default)]
pub struct MemoryTaskStore {
    tables: Arc<Mutex<Tables>>,
}

impl MemoryTaskStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl TaskStore for MemoryTaskStore {
    async fn enqueue(&self, task: &IterationTask, max_attempts: u32) -> PortResult<bool> {
        Ok(lock(&self.tables)?.insert(task, max_attempts, Timestamp::now()))
    }

    async fn claim_next(&self, owner: &str, lease: Duration, max: usize) -> PortResult<Vec<TaskLease>> {
        let now = Timestamp::now();
        let mut tables = lock(&self.tables)?;
        let mut candidates: Vec<(Timestamp, Timestamp, TaskId)> = tables
            .rows
            .values()
            .filter(|r| {
                (r.status == TaskStatus::Pending && r.visible_at <= now)
                    || (r.lapsed(now) && r.attempts < r.max_attempts)
            })
            .map(|r| (r.visible_at, r.created_at, r.task.task_id))
            .collect();
        candidates.sort();
        let mut leases = Vec::new();
        for (_, _, id) in candidates.into_iter().take(max) {
            if let Some(row) = tables.rows.get_mut(&id) {
                leases.push(row.lease(owner, lease, now));
            }
        }
        Ok(leases)
    }

    async fn claim(&self, task_id: TaskId, owner: &str, lease: Duration) -> PortResult<ClaimOutcome> {
        let now = Timestamp::now();
        let mut tables = lock(&self.tables)?;
        let Some(row) = tables.rows.get_mut(&task_id) else { return Ok(ClaimOutcome::NotFound) };
        Ok(match row.status {
            TaskStatus::Completed | TaskStatus::Dead => ClaimOutcome::Finished,
            TaskStatus::Claimed if !row.lapsed(now) => ClaimOutcome::LeasedElsewhere,
            _ if row.attempts >= row.max_attempts => {
                row.status = TaskStatus::Dead;
                row.owner = None;
                ClaimOutcome::Exhausted(row.task.clone())
            }
            _ => ClaimOutcome::Claimed(row.lease(owner, lease, now)),
        })
    }

    async fn heartbeat(&self, task_id: TaskId, owner: &str, lease: Duration) -> PortResult<bool> {
        let mut tables = lock(&self.tables)?;
        match tables.rows.get_mut(&task_id) {
            Some(row) if row.owned_by(owner) => {
                row.expires_at = Timestamp::now().after(lease);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(&self, task_id: TaskId, owner: &str, next: Option<&IterationTask>) -> PortResult<bool> {
        let now = Timestamp::now();
        let mut tables = lock(&self.tables)?;
        let max_attempts = match tables.rows.get_mut(&task_id) {
            Some(row) if row.owned_by(owner) => {
                row.status = TaskStatus::Completed;
                row.owner = None;
                row.max_attempts
            }
            _ => return Ok(false),
        };
        if let Some(next) = next {
            tables.insert(next, max_attempts, now);
        }
        Ok(true)
    }

    async fn fail(&self, task_id: TaskId, owner: &str, error: &str, retry_after: Duration) -> PortResult<FailOutcome> {
        let now = Timestamp::now();
        let mut tables = lock(&self.tables)?;
        let Some(row) = tables.rows.get_mut(&task_id).filter(|r| r.owned_by(owner)) else {
            return Ok(FailOutcome::NotOwned);
        };
        row.owner = None;
        row.last_error = Some(error.chars().take(2000).collect());
        if row.attempts >= row.max_attempts {
            row.status = TaskStatus::Dead;
            Ok(FailOutcome::Terminal)
        } else {
            row.status = TaskStatus::Pending;
            row.visible_at = now.after(retry_after);
            Ok(FailOutcome::WillRetry)
        }
    }

    async fn reap_exhausted(&self) -> PortResult<Vec<IterationTask>> {
        let now = Timestamp::now();
        let mut tables = lock(&self.tables)?;
        let mut dead = Vec::new();
        for row in tables.rows.values_mut() {
            if row.lapsed(now) && row.attempts >= row.max_attempts {
                row.status = TaskStatus::Dead;
                row.owner = None;
                dead.push(row.task.clone());
            }
        }
        Ok(dead)
    }

    async fn abandon(&self, task_id: TaskId) -> PortResult<Option<IterationTask>> {
        let mut tables = lock(&self.tables)?;
        match tables.rows.get_mut(&task_id) {
            Some(row) if matches!(row.status, TaskStatus::Pending | TaskStatus::Claimed) => {
                row.status = TaskStatus::Dead;
                row.owner = None;
                Ok(Some(row.task.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn unpublished(&self, older_than: Duration) -> PortResult<Vec<IterationTask>> {
        let cutoff =
            Timestamp::from_millis(Timestamp::now().millis() - i64::try_from(older_than.as_millis()).unwrap_or(0));
        let tables = lock(&self.tables)?;
        let mut rows: Vec<&Row> = tables
            .rows
            .values()
            .filter(|r| r.status == TaskStatus::Pending && !r.published && r.created_at <= cutoff)
            .collect();
        rows.sort_by_key(|r| r.created_at);
        Ok(rows.into_iter().map(|r| r.task.clone()).collect())
    }

    async fn mark_published(&self, task_id: TaskId) -> PortResult<()> {
        if let Some(row) = lock(&self.tables)?.rows.get_mut(&task_id) {
            row.published = true;
        }
        Ok(())
    }

    async fn status(&self, task_id: TaskId) -> PortResult<Option<TaskStatus>> {
        Ok(lock(&self.tables)?.rows.get(&task_id).map(|r| r.status))
    }
}
