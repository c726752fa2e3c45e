//! The durable task store: iteration tasks with leases, attempts and an outbox flag. Workers
//! claim a task (a lease), heartbeat it, and complete it — enqueuing the next iteration in the
//! same transaction — or fail it. A task whose attempts run out becomes `dead` exactly once, so
//! exactly one caller terminalises its turn.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{IterationTask, PortResult};
use crate::ids::TaskId;
use crate::time::Timestamp;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for a worker (possibly not visible yet after a failure).
    Pending,
    /// Leased by a worker.
    Claimed,
    /// Done.
    Completed,
    /// Out of attempts; its turn was (or is being) terminalised.
    Dead,
}

/// A claimed task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLease {
    /// The task.
    pub task: IterationTask,
    /// This attempt's number (1 for the first).
    pub attempt: u32,
    /// The attempts allowed.
    pub max_attempts: u32,
    /// Who holds the lease.
    pub owner: String,
    /// When the lease lapses unless extended.
    pub expires_at: Timestamp,
}

/// The result of claiming one specific task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The lease is yours.
    Claimed(TaskLease),
    /// The task is completed or dead: acknowledge the delivery without work.
    Finished,
    /// Another worker holds a live lease: acknowledge without work (it will finish or lapse).
    LeasedElsewhere,
    /// No such task.
    NotFound,
    /// The lease lapsed and no attempt is left: the task is now dead; terminalise its turn.
    Exhausted(IterationTask),
}

/// The result of failing an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailOutcome {
    /// Back to pending; it becomes visible again after the delay.
    WillRetry,
    /// No attempt is left: the task is dead and the caller must terminalise the turn (exactly
    /// one caller ever gets this for a task).
    Terminal,
    /// The caller does not hold the lease (it lapsed and was reclaimed): nothing changed.
    NotOwned,
}

/// Attempts a task gets before it is dead (the control plane's deliveries enqueue with it).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Durable iteration tasks.
#[async_trait::async_trait]
pub trait TaskStore: Send + Sync {
    /// Creates a pending task; idempotent on `(turn_id, iteration)`. Returns whether it was new.
    async fn enqueue(&self, task: &IterationTask, max_attempts: u32) -> PortResult<bool>;

    /// Claims up to `max` visible tasks, oldest first: pending ones, and claimed ones whose lease
    /// lapsed (reclaimed; the attempt counter goes up). Lapsed tasks with no attempt left are not
    /// claimed; see [`TaskStore::reap_exhausted`].
    async fn claim_next(&self, owner: &str, lease: Duration, max: usize) -> PortResult<Vec<TaskLease>>;

    /// Claims one specific task (a queue delivered its id).
    async fn claim(&self, task_id: TaskId, owner: &str, lease: Duration) -> PortResult<ClaimOutcome>;

    /// Extends a lease. `Ok(false)` means the caller no longer owns the task and must stop.
    async fn heartbeat(&self, task_id: TaskId, owner: &str, lease: Duration) -> PortResult<bool>;

    /// Completes an owned task and enqueues `next` in the same transaction. `Ok(false)` when not owned.
    async fn complete(&self, task_id: TaskId, owner: &str, next: Option<&IterationTask>) -> PortResult<bool>;

    /// Records a failed attempt of an owned task.
    async fn fail(&self, task_id: TaskId, owner: &str, error: &str, retry_after: Duration) -> PortResult<FailOutcome>;

    /// Marks lapsed tasks with no attempt left as dead and returns them, each exactly once.
    async fn reap_exhausted(&self) -> PortResult<Vec<IterationTask>>;

    /// Gives up on a task the queue could not deliver (a dead-letter queue holds it): a task not
    /// yet completed or dead becomes dead and is returned — exactly once, so exactly one caller
    /// terminalises its turn. `None` when it is already finished (or unknown).
    async fn abandon(&self, task_id: TaskId) -> PortResult<Option<IterationTask>>;
    /// Pending tasks created more than `older_than` ago and never marked published (the outbox
    /// the sweeper re-publishes).
    async fn unpublished(&self, older_than: Duration) -> PortResult<Vec<IterationTask>>;

    /// Records that a task was handed to the queue.
    async fn mark_published(&self, task_id: TaskId) -> PortResult<()>;

    /// The status of a task.
    async fn status(&self, task_id: TaskId) -> PortResult<Option<TaskStatus>>;
}
