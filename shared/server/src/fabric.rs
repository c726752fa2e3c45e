//! How live events and task wake-ups travel between instances: through NATS JetStream when
//! `NATS_URL` is set and reachable at startup, otherwise (unset, or unreachable: a warning) the
//! documented fallback — the in-memory bus of this process and PostgreSQL NOTIFY.

use std::sync::Arc;
use std::time::Duration;

use everruns_core::ids::TaskId;
use everruns_core::ports::{EventBus, TaskStore};
use everruns_nats::{NatsError, NatsEventBus, NatsLink, NatsTaskAnnouncer};
use everruns_store_memory::MemoryEventBus;
use everruns_store_pg::PgPool;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// The live-delivery choice of one process.
pub struct Fabric {
    /// Where events are emitted and subscribed.
    pub bus: Arc<dyn EventBus>,
    nats: Option<NatsLink>,
}

impl Fabric {
    /// Connects to `nats_url` when given; falls back with a warning when it cannot be used.
    pub async fn connect(nats_url: Option<&str>, name: &str) -> Self {
        let local: Arc<dyn EventBus> = Arc::new(MemoryEventBus::new());
        let Some(url) = nats_url else {
            return Self { bus: local, nats: None };
        };
        match NatsLink::connect(url, name).await {
            Ok(link) => {
                tracing::info!("NATS JetStream connected: live events and task notifications go through NATS");
                Self { bus: Arc::new(NatsEventBus::new(link.clone(), local)), nats: Some(link) }
            }
            Err(error) => {
                tracing::warn!("{error}; falling back to PostgreSQL NOTIFY and in-memory delivery");
                Self { bus: local, nats: None }
            }
        }
    }

    /// Whether NATS carries this process's events and wake-ups.
    pub fn uses_nats(&self) -> bool {
        self.nats.is_some()
    }

    /// The task store: with NATS it does not NOTIFY (NATS announces tasks instead).
    pub fn task_store(&self, pool: &PgPool) -> Arc<dyn TaskStore> {
        match self.nats {
            Some(_) => Arc::new(everruns_store_pg::PgTaskStore::without_notify(pool.clone())),
            None => Arc::new(everruns_store_pg::PgTaskStore::new(pool.clone())),
        }
    }

    /// The stores on `pool`; with NATS their turn ledger does not NOTIFY the tasks it queues
    /// (like [`task_store`](Self::task_store)).
    pub fn stores(&self, pool: &PgPool) -> everruns_core::ports::Stores {
        let stores = everruns_store_pg::pg_stores(pool.clone());
        match self.nats {
            Some(_) => everruns_core::ports::Stores {
                turns: Arc::new(everruns_store_pg::PgTurnLedger::new(pool.clone()).without_task_notify()),
                ..stores
            },
            None => stores,
        }
    }

    /// Who tells the other instances about dispatched tasks (NATS only; NOTIFY needs nobody).
    pub fn announcer(&self) -> Option<NatsTaskAnnouncer> {
        self.nats.as_ref().map(|link| NatsTaskAnnouncer::new(link.clone()))
    }

    /// Relays the wake-ups of tasks dispatched by other instances to this instance's workers.
    /// With NATS the first subscription is made before this returns, so a task announced once
    /// the instance is built wakes its workers.
    pub async fn relay_wakeups(
        &self,
        pool: &PgPool,
        notify: broadcast::Sender<TaskId>,
        dormancy: everruns_services::dormancy::Dormancy,
    ) -> JoinHandle<()> {
        match &self.nats {
            Some(link) => {
                let first = everruns_nats::task_wakeups(link).await;
                tokio::spawn(relay_nats_wakeups(link.clone(), notify, first))
            }
            None => tokio::spawn(relay_pg_wakeups(pool.clone(), notify, dormancy)),
        }
    }
}

/// Forwards `task.available.*` announcements to the workers' streams.
async fn relay_nats_wakeups(
    link: NatsLink,
    notify: broadcast::Sender<TaskId>,
    first: Result<BoxStream<'static, TaskId>, NatsError>,
) {
    let mut subscription = Some(first);
    loop {
        let subscribed = match subscription.take() {
            Some(first) => first,
            None => everruns_nats::task_wakeups(&link).await,
        };
        match subscribed {
            Ok(mut wakeups) => {
                while let Some(id) = wakeups.next().await {
                    let _ = notify.send(id);
                }
                tracing::warn!("NATS task notifications ended; subscribing again");
            }
            Err(error) => tracing::warn!("cannot subscribe to NATS task notifications: {error}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Forwards PG NOTIFY wake-ups (tasks enqueued by any instance) to the workers' streams.
async fn relay_pg_wakeups(
    pool: PgPool,
    notify: broadcast::Sender<TaskId>,
    dormancy: everruns_services::dormancy::Dormancy,
) {
    loop {
        dormancy.awake().await;
        match everruns_store_pg::PgTaskNotifier::listen(&pool).await {
            Ok(mut listener) => loop {
                // Dormant: close the LISTEN connection (reopened on the next activity).
                let received = tokio::select! {
                    received = listener.recv() => received,
                    _ = dormancy.dormant() => break,
                };
                match received {
                    Ok(everruns_store_pg::TaskWake::Task(id)) => {
                        let _ = notify.send(id);
                    }
                    Ok(everruns_store_pg::TaskWake::Poll) => {
                        let _ = notify.send(TaskId::new());
                    }
                    Err(error) => {
                        tracing::warn!("task notifications interrupted: {error}");
                        break;
                    }
                }
            },
            Err(error) => tracing::warn!("cannot listen for task notifications: {error}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
