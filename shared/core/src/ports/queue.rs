//! The task queue port: where iteration tasks are published for a worker to pick up.

use serde::{Deserialize, Serialize};

use super::PortResult;
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

/// Publishes iteration tasks to workers.
#[async_trait::async_trait]
pub trait TaskQueue: Send + Sync {
    /// Makes the task available to a worker. At-least-once: a task may be delivered more than once.
    async fn publish(&self, task: IterationTask) -> PortResult<()>;
}
