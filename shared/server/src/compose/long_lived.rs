//! The long-lived kinds: `Embedded` (DEV_MODE), `Containers` and the split's `Bridge`. Each
//! hosts workers — in process, or over the worker gRPC service — and runs background loops.

use std::sync::Arc;
use std::time::Duration;

use everruns_core::ResolvedModel;
use everruns_core::ids::{OrgId, TaskId};
use everruns_core::ports::{Stores, TaskDelivery, TaskStore};
use everruns_core::turns::TurnService;
use everruns_grpc::{GrpcSettings, WorkerGrpcService, WorkerSlots};
use everruns_services::config::{AuthMode, ServerConfig};
use everruns_services::dormancy::Dormancy;
use everruns_store_memory::{ChannelTaskDelivery, memory_stores};
use everruns_store_pg::PgPool;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::{Base, Composed, observed, turn_service};
use crate::delivery::TableTaskDelivery;
use crate::fabric::Fabric;

pub(super) async fn embedded(base: Base<'_>) -> anyhow::Result<Composed> {
    let fabric = Fabric::connect(base.config.nats_url.as_deref(), "everruns-server").await;
    let stores = memory_stores();
    let default_model = seed(&base, &stores).await?;
    let (delivery, mut receiver) = ChannelTaskDelivery::new();
    let turns = turn_service(&base, &stores, observed(fabric.bus.clone(), &base), default_model)
        .with_delivery(Arc::new(delivery));
    let worker = turns.clone();
    let in_process_worker = tokio::spawn(async move {
        while let Some(task) = receiver.recv().await {
            let turns = worker.clone();
            tokio::spawn(async move {
                if let Err(error) = turns.process_task(&task).await {
                    tracing::error!(turn = %task.turn_id, iteration = task.iteration, "iteration failed: {error}");
                }
            });
        }
    });
    Ok(Composed {
        stores,
        tasks: None,
        turns,
        dormancy: Dormancy::after(None),
        background: vec![in_process_worker],
        grpc: None,
    })
}

pub(super) async fn containers(base: Base<'_>) -> anyhow::Result<Composed> {
    let durable = Durable::start(&base).await?;
    let slots = WorkerSlots::new(durable.tasks.clone(), durable.wake.clone());
    let delivery = TableTaskDelivery::new(durable.tasks.clone(), durable.wake.clone())
        .with_announcer(durable.fabric.announcer())
        .with_slots(Some(slots.clone()));
    durable.compose(&base, Arc::new(delivery), Some(slots), |_| Vec::new()).await
}

pub(super) async fn bridge(base: Base<'_>) -> anyhow::Result<Composed> {
    let durable = Durable::start(&base).await?;
    let sqs = crate::split::sqs_client().await;
    let delivery = crate::split::sqs_delivery(base.config, &sqs, durable.tasks.clone())?;
    let (pool, tasks, dormancy) = (durable.pool.clone(), durable.tasks.clone(), durable.dormancy.clone());
    // The queue carries every task here (Lambda workers); none is handed over a subscription.
    durable
        .compose(&base, delivery.clone(), None, |turns| {
            crate::split::bridge_tasks(base.config, &sqs, &pool, &tasks, &delivery, turns, &dormancy)
        })
        .await
}

/// What both durable kinds start from: the fabric, the migrated database with its stores and
/// task table, the seeded default model, and the wake-up channel of this instance's workers.
struct Durable {
    fabric: Fabric,
    dormancy: Dormancy,
    pool: PgPool,
    tasks: Arc<dyn TaskStore>,
    stores: Stores,
    default_model: Option<ResolvedModel>,
    wake: broadcast::Sender<TaskId>,
}

impl Durable {
    async fn start(base: &Base<'_>) -> anyhow::Result<Self> {
        require_worker_token(base.config)?;
        let fabric = Fabric::connect(base.config.nats_url.as_deref(), "everruns-server").await;
        let dormancy = Dormancy::after(base.config.database_idle_release);
        let pool = crate::database::connect_database(base.config, base.config.database_idle_release).await?;
        let tasks = fabric.task_store(&pool);
        let stores = fabric.stores(&pool);
        let default_model = seed(base, &stores).await?;
        let (wake, _) = broadcast::channel::<TaskId>(1024);
        Ok(Self { fabric, dormancy, pool, tasks, stores, default_model, wake })
    }

    /// The turn services delivering through `delivery`, the wake-up relay, the reaper, the worker
    /// service (handing tasks through `slots`, the delivery's), and the loops `own` starts for the
    /// kind.
    async fn compose(
        self,
        base: &Base<'_>,
        delivery: Arc<dyn TaskDelivery>,
        slots: Option<Arc<WorkerSlots>>,
        own: impl FnOnce(&TurnService) -> Vec<JoinHandle<()>>,
    ) -> anyhow::Result<Composed> {
        let Self { fabric, dormancy, pool, tasks, stores, default_model, wake } = self;
        let turns = turn_service(base, &stores, observed(fabric.bus.clone(), base), default_model)
            .with_delivery(delivery.clone());
        let mut background = own(&turns);
        background.push(fabric.relay_wakeups(&pool, wake.clone(), dormancy.clone()).await);
        background.push(tokio::spawn(reap(tasks.clone(), turns.clone(), dormancy.clone())));
        let grpc = worker_service(base, &turns, &tasks, (wake, slots), delivery, &dormancy)?;
        Ok(Composed { stores, tasks: Some(tasks), turns, dormancy, background, grpc: Some(grpc) })
    }
}

/// Workers authenticate with `WORKER_GRPC_AUTH_TOKEN` wherever the worker service runs.
fn require_worker_token(config: &ServerConfig) -> anyhow::Result<()> {
    if config.worker_grpc_auth_token.is_none() {
        anyhow::bail!(
            "WORKER_GRPC_AUTH_TOKEN must be set outside DEV_MODE: workers authenticate to the control plane with it (set the same value on the server and every worker)"
        );
    }
    Ok(())
}

/// The worker gRPC service (waking workers on `wake`, handing tasks through `slots`) and its
/// serving settings.
fn worker_service(
    base: &Base<'_>,
    turns: &TurnService,
    tasks: &Arc<dyn TaskStore>,
    (wake, slots): (broadcast::Sender<TaskId>, Option<Arc<WorkerSlots>>),
    delivery: Arc<dyn TaskDelivery>,
    dormancy: &Dormancy,
) -> anyhow::Result<(WorkerGrpcService, GrpcSettings)> {
    let config = base.config;
    let settings = GrpcSettings {
        auth_token: config.worker_grpc_auth_token.clone(),
        tls_cert: config.worker_grpc_tls_cert.clone(),
        tls_key: config.worker_grpc_tls_key.clone(),
        tls_ca_cert: config.worker_grpc_tls_ca_cert.clone(),
        keepalive: Some(config.timeouts.grpc_keepalive),
        idle: Some(config.timeouts.grpc_idle),
        activity: dormancy.clone(),
    };
    settings.check()?;
    let service = WorkerGrpcService::new(turns.clone(), tasks.clone(), wake, delivery)
        .with_traces(base.traces.clone())
        .with_slots(slots);
    Ok((service, settings))
}

/// Every 10 s: tasks whose last attempt's lease lapsed become dead and their turns end with the
/// friendly message (exactly once: the store hands each dead task to one reaper).
async fn reap(tasks: Arc<dyn TaskStore>, turns: TurnService, dormancy: Dormancy) {
    let mut ticks = tokio::time::interval(Duration::from_secs(10));
    loop {
        ticks.tick().await;
        dormancy.awake().await;
        match tasks.reap_exhausted().await {
            Ok(dead) => {
                for task in dead {
                    tracing::warn!(turn = %task.turn_id, "task out of attempts; failing the turn");
                    if let Err(error) = turns.terminalise(&task).await {
                        tracing::error!(turn = %task.turn_id, "terminalising failed: {error}");
                    }
                }
            }
            Err(error) => tracing::warn!("reaper: {error}"),
        }
    }
}

/// Seeds the default organization and registers the bootstrap key; answers the default model.
async fn seed(base: &Base<'_>, stores: &Stores) -> anyhow::Result<Option<ResolvedModel>> {
    let config = base.config;
    let keyed: Vec<_> = config.default_keys.by_driver().into_iter().map(|(driver, _)| driver).collect();
    let default_model = everruns_services::seed::seed_org(
        stores,
        OrgId::DEFAULT,
        base.platform,
        config.grade,
        &keyed,
        config.llmsim_pacing,
    )
    .await?;
    everruns_services::seed::apply_default_base_urls(stores, OrgId::DEFAULT, &config.default_keys.base_urls()).await?;
    if let Some(secret) = &config.auth_bootstrap_api_key {
        everruns_services::auth::bootstrap(stores, secret).await?;
    } else if config.auth_mode == AuthMode::ApiKey && !config.auth_signup_enabled {
        tracing::info!(
            "AUTH_MODE=api_key without AUTH_BOOTSTRAP_API_KEY or AUTH_SIGNUP_ENABLED: only keys already stored can authenticate"
        );
    }
    Ok(default_model)
}
