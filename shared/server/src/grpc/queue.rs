//! The durable `TaskQueue`: publishing a task enqueues it in the task store (committed), then
//! hands it to a [`TaskDispatch`] — [`NotifyDispatch`] wakes the workers' notification streams in
//! the container deployment; the serverless split sends an SQS message instead.

use std::sync::Arc;
use std::time::Duration;

use everruns_core::ids::TaskId;
use everruns_core::ports::{IterationTask, PortResult, TaskAnnouncer, TaskDispatch, TaskQueue, TaskStore};
use tokio::sync::broadcast;

/// Attempts a task gets before it is dead.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Wakes subscribed workers (their `SubscribeTaskNotifications` streams) of this instance, and
/// those of the other instances through an announcer when one is set (NATS; without it the task
/// store's NOTIFY reaches them).
///
/// Nothing is marked published: in the container deployment the task table is the delivery
/// (workers claim from it, and poll it when no wake-up comes), so no sweeper re-publishes and the
/// outbox column would be a write per turn that nothing reads.
#[derive(Clone)]
pub struct NotifyDispatch {
    notify: broadcast::Sender<TaskId>,
    announcer: Option<Arc<dyn TaskAnnouncer>>,
}

impl NotifyDispatch {
    /// A dispatcher that announces tasks on `notify`.
    pub fn new(notify: broadcast::Sender<TaskId>) -> Self {
        Self { notify, announcer: None }
    }

    /// Also announces every dispatched task to the other instances.
    pub fn with_announcer(mut self, announcer: Option<Arc<dyn TaskAnnouncer>>) -> Self {
        self.announcer = announcer;
        self
    }
}

#[async_trait::async_trait]
impl TaskDispatch for NotifyDispatch {
    async fn dispatch(&self, task: &IterationTask) -> PortResult<()> {
        let _ = self.notify.send(task.task_id);
        if let Some(announcer) = &self.announcer {
            announcer.announce(task.task_id);
        }
        Ok(())
    }

    fn retry_later(&self, task_id: TaskId, _delay: Duration) {
        // Workers poll as a fallback; the wake-up makes an idle one look now (the task becomes
        // claimable once its delay has passed).
        let _ = self.notify.send(task_id);
    }
}

/// Publishes into the task store, then dispatches.
#[derive(Clone)]
pub struct TaskStoreQueue {
    store: Arc<dyn TaskStore>,
    dispatch: Arc<dyn TaskDispatch>,
    max_attempts: u32,
}

impl TaskStoreQueue {
    /// A queue over `store` delivering through `dispatch`.
    pub fn new(store: Arc<dyn TaskStore>, dispatch: Arc<dyn TaskDispatch>) -> Self {
        Self { store, dispatch, max_attempts: DEFAULT_MAX_ATTEMPTS }
    }
}

#[async_trait::async_trait]
impl TaskQueue for TaskStoreQueue {
    async fn publish(&self, task: IterationTask) -> PortResult<()> {
        self.store.enqueue(&task, self.max_attempts).await?;
        self.dispatch.dispatch(&task).await
    }
}

/// Re-dispatches tasks committed but never published (a crash between commit and publish), every
/// `every`, for tasks older than `grace`.
pub async fn sweep_unpublished(
    store: Arc<dyn TaskStore>,
    dispatch: Arc<dyn TaskDispatch>,
    every: Duration,
    grace: Duration,
    dormancy: crate::dormancy::Dormancy,
) {
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        dormancy.awake().await;
        match store.unpublished(grace).await {
            Ok(stranded) => {
                for task in stranded {
                    tracing::warn!(task = %task.task_id, "re-publishing a task stranded between commit and publish");
                    if let Err(error) = dispatch.dispatch(&task).await {
                        tracing::warn!(task = %task.task_id, "sweeper could not publish: {error}");
                    }
                }
            }
            Err(error) => tracing::warn!("sweeper: {error}"),
        }
    }
}
