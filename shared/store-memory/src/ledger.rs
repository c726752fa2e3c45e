//! `MemoryTurnLedger`: the turn ledger over the in-memory session and event stores (and a task
//! store, when one is given). Each part of a write is applied in order — the status change first,
//! and the rest only if it applied — under the stores' own locks; in one process nothing can
//! observe the session between the parts that the stores' rules do not already allow.

use std::sync::Arc;

use everruns_core::ids::{OrgId, SessionId};
use everruns_core::ports::{
    EventStore, PortError, PortResult, SessionStore, StartedTurn, TaskStore, TurnLedger, TurnStart,
};

/// The in-memory [`TurnLedger`].
#[derive(Clone)]
pub struct MemoryTurnLedger {
    sessions: Arc<dyn SessionStore>,
    events: Arc<dyn EventStore>,
    tasks: Option<Arc<dyn TaskStore>>,
}

impl MemoryTurnLedger {
    /// A ledger over `sessions` and `events`; a start that carries a task is refused until
    /// [`with_tasks`](Self::with_tasks) names the task store.
    pub fn new(sessions: Arc<dyn SessionStore>, events: Arc<dyn EventStore>) -> Self {
        Self { sessions, events, tasks: None }
    }

    /// Queues the tasks of turn starts in `tasks`.
    pub fn with_tasks(mut self, tasks: Arc<dyn TaskStore>) -> Self {
        self.tasks = Some(tasks);
        self
    }
}

#[async_trait::async_trait]
impl TurnLedger for MemoryTurnLedger {
    async fn start_turn(&self, org: OrgId, session: SessionId, start: TurnStart) -> PortResult<Option<StartedTurn>> {
        let queue = match (&start.task, &self.tasks) {
            (Some(queued), Some(tasks)) => Some((queued, tasks)),
            (Some(_), None) => {
                return Err(PortError::Internal("this turn ledger has no task store to queue the task in".into()));
            }
            (None, _) => None,
        };
        if start.events.iter().any(|e| e.event.session_id != session)
            || start.task.as_ref().is_some_and(|q| q.task.session_id != session)
        {
            return Err(PortError::Invalid("a turn's start writes to its own session only".into()));
        }
        let Some(changed) = self.sessions.change_status(org, session, start.change.clone()).await? else {
            return Ok(None);
        };
        let stored = self.events.append_all(start.events).await?;
        if let Some((queued, tasks)) = queue {
            tasks.enqueue(&queued.task, queued.max_attempts).await?;
            if let Some(handed) = &queued.handed_to {
                tasks.claim(queued.task.task_id, &handed.owner, handed.lease).await?;
            }
        }
        Ok(Some(StartedTurn { events: stored, session: Some(changed) }))
    }
}
