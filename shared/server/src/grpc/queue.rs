//! `TaskStoreQueue`: the durable `TaskQueue` — publishing a task enqueues it in the task store
//! and wakes subscribed workers.

use std::sync::Arc;

use everruns_core::ids::TaskId;
use everruns_core::ports::{IterationTask, PortResult, TaskQueue, TaskStore};
use tokio::sync::broadcast;

/// Attempts a task gets before it is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Publishes into the task store and notifies workers.
#[derive(Clone)]
pub struct TaskStoreQueue {
    store: Arc<dyn TaskStore>,
    notify: broadcast::Sender<TaskId>,
    max_attempts: u32,
}

impl TaskStoreQueue {
    /// A queue over `store`; `notify` reaches the workers' notification streams.
    pub fn new(store: Arc<dyn TaskStore>, notify: broadcast::Sender<TaskId>) -> Self {
        Self { store, notify, max_attempts: DEFAULT_MAX_ATTEMPTS }
    }
}

#[async_trait::async_trait]
impl TaskQueue for TaskStoreQueue {
    async fn publish(&self, task: IterationTask) -> PortResult<()> {
        self.store.enqueue(&task, self.max_attempts).await?;
        self.store.mark_published(task.task_id).await?;
        let _ = self.notify.send(task.task_id);
        Ok(())
    }
}
