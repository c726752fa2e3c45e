//! The task-delivery port: how an iteration task reaches a worker. One port; its adapters own
//! publish-after-commit (see [`TaskDelivery`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{PortResult, TaskLease};
use crate::ids::{MessageId, OrgId, SessionId, TaskId, TurnId};

/// One iteration of one turn: the unit of work a worker runs. Identified by `(turn_id, iteration)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IterationTask {
    /// The task id.
    pub task_id: TaskId,
    /// The organization.
    pub org_id: OrgId,
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The user message that started the turn.
    pub input_message_id: MessageId,
    /// 1-based iteration number.
    pub iteration: u32,
}

impl IterationTask {
    /// The task of the following iteration.
    pub fn next(&self) -> Self {
        Self { task_id: TaskId::new(), iteration: self.iteration + 1, ..self.clone() }
    }
}

/// Hands iteration tasks to workers. Where tasks are durable, an adapter commits a task (or the
/// completion that creates the next one) before it tells any worker, so no worker hears of a task
/// that does not exist; a crash in between leaves the committed task to whatever the adapter's
/// transport uses to find it again (workers' polling, a sweeper). Delivery is at least once: a
/// task may reach more than one worker, and the claim decides.
#[async_trait::async_trait]
pub trait TaskDelivery: Send + Sync {
    /// Makes a new task available to a worker.
    async fn deliver(&self, task: IterationTask) -> PortResult<()>;

    /// Settles a claimed task: its completion is committed together with `next` (the following
    /// iteration, if any), then `next` is delivered. `Ok(false)` when `owner` no longer holds
    /// the task (nothing changed, nothing delivered).
    async fn complete(&self, task_id: TaskId, owner: &str, next: Option<&IterationTask>) -> PortResult<bool>;

    /// A failed attempt of `task_id` will be retried after `delay`. Transports that redeliver by
    /// themselves ignore it.
    fn retry_later(&self, task_id: TaskId, delay: Duration);

    /// Whether a new turn's first task is a row of the stores' task table, so the turn's start
    /// commits it (see [`TurnLedger::start_turn`](super::TurnLedger::start_turn)) and
    /// [`announce`](Self::announce) then tells the workers. `false`: the task is
    /// [`deliver`](Self::deliver)ed after the start.
    fn queues_with_turn(&self) -> bool {
        false
    }

    /// Tells the workers of a task committed with the write that created it.
    async fn announce(&self, task: IterationTask) -> PortResult<()> {
        self.deliver(task).await
    }

    /// A worker with room to run a new turn's first task the moment it is committed. The start
    /// then commits the task already leased to it (see [`QueuedTask::handed_to`](super::QueuedTask))
    /// and [`Reservation::hand`]s it the lease: no claim, no wake-up. `None` (the default): the
    /// task is committed pending and [`announce`](Self::announce)d.
    fn reserve(&self) -> Option<Box<dyn Reservation>> {
        None
    }
}

/// A worker's room for one task, held between a turn's start and its commit. Dropped unused (the
/// start did not apply, or failed), the room is free again.
pub trait Reservation: Send + Sync {
    /// The worker the task is leased to.
    fn owner(&self) -> &str;

    /// How long the lease lasts before another worker may reclaim the task.
    fn lease(&self) -> Duration;

    /// Gives the worker the lease of the task committed for it. A worker that has gone meanwhile
    /// does not strand the task: the adapter puts it back for any worker to claim.
    fn hand(self: Box<Self>, lease: TaskLease);
}
