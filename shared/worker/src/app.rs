//! `WorkerAppBuilder`: a long-running worker that claims tasks over gRPC — woken by the
//! service's task notifications, with polling as the fallback — and runs up to
//! `MAX_CONCURRENT_TASKS` at once. It declares that room when it subscribes: a new turn's first
//! task then usually arrives on the subscription already leased to it, and runs at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use everruns_core::PlatformDefinition;
use everruns_core::engine::{EngineConfig, IterationEngine};
use everruns_internal_protocol::v1::task_notification::Kind;
use everruns_internal_protocol::v1::{ClaimNextTasksRequest, Lease, SubscribeTaskNotificationsRequest};
use futures::StreamExt;
use tokio::sync::{Notify, Semaphore, mpsc, watch};

use crate::client::connect;
use crate::config::DurableWorkerConfig;
use crate::runner::{AbortOnDrop, TaskRunner};

/// Builds and runs a worker.
pub struct WorkerAppBuilder {
    config: DurableWorkerConfig,
    platform: Option<PlatformDefinition>,
    ready: Option<watch::Sender<bool>>,
}

impl WorkerAppBuilder {
    /// A worker with `config`; without a platform definition it runs the stock one
    /// (`oss_platform_definition`: the toolbox, the real drivers and llmsim), like the binaries.
    pub fn new(config: DurableWorkerConfig) -> Self {
        Self { config, platform: None, ready: None }
    }

    /// The runtime surface (the same one the server was given).
    pub fn platform_definition(mut self, platform: PlatformDefinition) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Sets `ready` to `true` once the worker is connected and subscribed to the service's task
    /// notifications — from then on a delivered task wakes it (supervisors and tests wait on it
    /// instead of sleeping). It goes back to `false` while the subscription is lost.
    pub fn signal_ready(mut self, ready: watch::Sender<bool>) -> Self {
        self.ready = Some(ready);
        self
    }

    /// Connects and runs until the process stops.
    pub async fn run(self) -> anyhow::Result<()> {
        let platform = self.platform.unwrap_or_else(everruns_platform::oss_platform_definition);
        let config = Arc::new(self.config);
        everruns_driver_common::outbound::install(config.outbound);
        let client = connect(&config).await?;
        tracing::info!(worker = %config.worker_id, address = %config.grpc_address, "worker connected");
        let capabilities = Arc::new(platform.capability_registry().clone());
        let engine = IterationEngine::new(
            Arc::new(platform.driver_registry().clone()),
            capabilities.clone(),
            EngineConfig { grade: config.grade, ..EngineConfig::default() },
        );
        let runner = TaskRunner {
            client: client.clone(),
            engine,
            capabilities,
            config: config.clone(),
            known: Default::default(),
        };
        let wake = Arc::new(Notify::new());
        let (handed, leases) = mpsc::unbounded_channel();
        // Both stop with this loop (a host that drops the worker must not leave it subscribed,
        // taking handed tasks).
        let _listen =
            AbortOnDrop(tokio::spawn(listen(client.clone(), config.clone(), (wake.clone(), handed), self.ready)));
        let slots = Arc::new(Semaphore::new(config.max_concurrent_tasks));
        let _handed = AbortOnDrop(tokio::spawn(run_handed(leases, runner.clone(), slots.clone())));
        let mut idle = config.poll_interval;
        loop {
            let free = slots.available_permits();
            if free == 0 {
                let permit = slots.clone().acquire_owned().await?;
                drop(permit);
                continue;
            }
            let request = ClaimNextTasksRequest {
                owner: config.worker_id.clone(),
                lease_ms: u32::try_from(config.lease.as_millis()).unwrap_or(u32::MAX),
                max: u32::try_from(free).unwrap_or(u32::MAX),
            };
            let leases = match client.clone().claim_next_tasks(request).await {
                Ok(response) => response.into_inner().leases,
                // A rejected token will not fix itself: stop loudly.
                Err(error) if error.code() == tonic::Code::Unauthenticated => {
                    anyhow::bail!("the control plane rejected this worker: {}", error.message());
                }
                Err(error) => {
                    tracing::warn!("claiming tasks failed: {error}");
                    Vec::new()
                }
            };
            if leases.is_empty() {
                // Wait for a wake-up, or poll again after a growing interval.
                let _ = tokio::time::timeout(idle, wake.notified()).await;
                idle = (idle * 2).min(config.poll_backoff_max);
                continue;
            }
            idle = config.poll_interval;
            // Fewer than asked for: the queue is drained, so the next claim waits for a wake-up
            // (a notification that came meanwhile is kept by `Notify`) instead of asking at once.
            let drained = leases.len() < free;
            for lease in leases {
                let permit = slots.clone().acquire_owned().await?;
                let runner = runner.clone();
                tokio::spawn(async move {
                    if let Err(error) = runner.run(lease).await {
                        tracing::error!("task run failed: {error}");
                    }
                    drop(permit);
                });
            }
            if drained {
                let _ = tokio::time::timeout(idle, wake.notified()).await;
            }
        }
    }
}

/// Runs the tasks handed to this worker, each at once: with a slot when one is free (the claim
/// loop then claims less). The service hands no more than the room declared, but the worker's own
/// claims may have taken it meanwhile; a lease must not wait, so the run starts regardless.
async fn run_handed(mut leases: mpsc::UnboundedReceiver<Lease>, runner: TaskRunner, slots: Arc<Semaphore>) {
    while let Some(lease) = leases.recv().await {
        let permit = slots.clone().try_acquire_owned().ok();
        let runner = runner.clone();
        tokio::spawn(async move {
            if let Err(error) = runner.run(lease).await {
                tracing::error!("handed task run failed: {error}");
            }
            drop(permit);
        });
    }
}

/// Relays the service's task notifications: wake-ups to the claim loop, handed leases to
/// [`run_handed`]. Reconnects after errors.
async fn listen(
    client: crate::client::WorkerClient,
    config: Arc<DurableWorkerConfig>,
    (wake, handed): (Arc<Notify>, mpsc::UnboundedSender<Lease>),
    ready: Option<watch::Sender<bool>>,
) {
    let signal = |value: bool| {
        if let Some(ready) = &ready {
            ready.send_replace(value);
        }
    };
    loop {
        let request = SubscribeTaskNotificationsRequest {
            owner: config.worker_id.clone(),
            capacity: u32::try_from(config.max_concurrent_tasks).unwrap_or(u32::MAX),
            lease_ms: u32::try_from(config.lease.as_millis()).unwrap_or(u32::MAX),
        };
        match client.clone().subscribe_task_notifications(request).await {
            Ok(response) => {
                // The service registered the subscription before it answered.
                signal(true);
                let mut stream = response.into_inner();
                let mut recent = RecentWakeups::default();
                while let Some(Ok(notification)) = stream.next().await {
                    if notification.kind == Kind::TaskHanded as i32
                        && let Some(lease) = notification.lease
                    {
                        // A later wake-up for it would only cost an empty claim.
                        recent.is_new(notification.task_id);
                        let _ = handed.send(lease);
                    } else if notification.kind == Kind::TaskAvailable as i32 && recent.is_new(notification.task_id) {
                        wake.notify_one();
                    }
                }
                signal(false);
            }
            Err(error) => tracing::warn!("task notifications unavailable: {error}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The task ids this worker was woken for in the last second. A task can be announced twice —
/// in containers mode by the server that committed it and again by its PostgreSQL NOTIFY — and
/// the second wake-up would only cost an empty claim. After a second the same id wakes again
/// (a task put back for a retry).
#[derive(Default)]
struct RecentWakeups {
    seen: VecDeque<(String, Instant)>,
}

impl RecentWakeups {
    const WINDOW: Duration = Duration::from_secs(1);
    const CAPACITY: usize = 256;

    /// Whether a wake-up for `task` should wake the claim loop (an empty id always does: the
    /// service lost count and covers several tasks with it).
    fn is_new(&mut self, task: String) -> bool {
        while self.seen.front().is_some_and(|(_, at)| at.elapsed() >= Self::WINDOW) || self.seen.len() >= Self::CAPACITY
        {
            self.seen.pop_front();
        }
        if task.is_empty() {
            return true;
        }
        if self.seen.iter().any(|(id, _)| *id == task) {
            return false;
        }
        self.seen.push_back((task, Instant::now()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::RecentWakeups;

    #[test]
    fn a_task_wakes_once_within_the_window_and_an_unnamed_wakeup_always() {
        let mut recent = RecentWakeups::default();
        assert!(recent.is_new("task_a".into()));
        assert!(!recent.is_new("task_a".into()), "the second announcement of a task");
        assert!(recent.is_new("task_b".into()));
        assert!(recent.is_new(String::new()));
        assert!(recent.is_new(String::new()));
        recent.seen[0].1 -= RecentWakeups::WINDOW;
        assert!(recent.is_new("task_a".into()), "after the window the same task wakes again");
    }
}
