//! `TableTaskDelivery`: task delivery in the container deployment, where the task table is the
//! queue. A task is committed to the [`TaskStore`] (PostgreSQL NOTIFYs the other instances from
//! within the inserting transaction, unless NATS carries the news), then this instance's
//! subscribed workers are woken and, with NATS, the other instances are told. Wake-ups are hints:
//! workers also poll the table, so nothing is marked published and no sweeper is needed. A new
//! turn's first task skips all that when a subscribed worker has room: it is committed leased to
//! that worker and handed to it ([`WorkerSlots`]).

use std::sync::Arc;
use std::time::Duration;

use everruns_core::ids::TaskId;
use everruns_core::ports::{DEFAULT_MAX_ATTEMPTS, IterationTask, PortResult, Reservation, TaskDelivery, TaskStore};
use everruns_grpc::WorkerSlots;
use everruns_nats::NatsTaskAnnouncer;
use tokio::sync::broadcast;

/// The container deployment's [`TaskDelivery`].
#[derive(Clone)]
pub struct TableTaskDelivery {
    store: Arc<dyn TaskStore>,
    wake: broadcast::Sender<TaskId>,
    announcer: Option<NatsTaskAnnouncer>,
    slots: Option<Arc<WorkerSlots>>,
}

impl TableTaskDelivery {
    /// Commits tasks to `store` and wakes this instance's workers on `wake`.
    pub fn new(store: Arc<dyn TaskStore>, wake: broadcast::Sender<TaskId>) -> Self {
        Self { store, wake, announcer: None, slots: None }
    }

    /// Hands new turns' first tasks to subscribed workers with room in `slots`.
    pub fn with_slots(mut self, slots: Option<Arc<WorkerSlots>>) -> Self {
        self.slots = slots;
        self
    }

    /// Also announces every committed task to the other instances over NATS.
    pub fn with_announcer(mut self, announcer: Option<NatsTaskAnnouncer>) -> Self {
        self.announcer = announcer;
        self
    }

    fn wake(&self, task: TaskId) {
        let _ = self.wake.send(task);
        if let Some(announcer) = &self.announcer {
            announcer.announce(task);
        }
    }
}

#[async_trait::async_trait]
impl TaskDelivery for TableTaskDelivery {
    async fn deliver(&self, task: IterationTask) -> PortResult<()> {
        self.store.enqueue(&task, DEFAULT_MAX_ATTEMPTS).await?;
        self.wake(task.task_id);
        Ok(())
    }

    async fn complete(&self, task_id: TaskId, owner: &str, next: Option<&IterationTask>) -> PortResult<bool> {
        let completed = self.store.complete(task_id, owner, next).await?;
        if completed && let Some(next) = next {
            self.wake(next.task_id);
        }
        Ok(completed)
    }

    fn retry_later(&self, task_id: TaskId, _delay: Duration) {
        // An idle worker looks now; the task becomes claimable once its delay has passed.
        let _ = self.wake.send(task_id);
    }

    fn queues_with_turn(&self) -> bool {
        true
    }

    async fn announce(&self, task: IterationTask) -> PortResult<()> {
        self.wake(task.task_id);
        Ok(())
    }

    fn reserve(&self) -> Option<Box<dyn Reservation>> {
        self.slots.as_ref()?.reserve()
    }
}
