//! `ServerAppBuilder`: composes configuration, the platform definition, storage, the worker side
//! and custom routes into a served application with graceful shutdown.
//!
//! Two compositions, chosen by `DEV_MODE`:
//! - DEV_MODE: in-memory storage, a channel task queue drained by an in-process worker, no gRPC;
//! - durable: PostgreSQL storage, the Postgres task store (leases, PG NOTIFY wake-ups), the worker
//!   gRPC service on `WORKER_GRPC_ADDR` (bearer token, optional mTLS), and a reaper that
//!   terminalises turns whose tasks ran out of attempts.
//!
//! With `NATS_URL`, live events and task wake-ups travel through NATS instead (see
//! [`crate::fabric`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use everruns_core::PlatformDefinition;
use everruns_core::engine::EngineConfig;
use everruns_core::ids::{OrgId, TaskId};
use everruns_core::ports::{EventEmitter, SecretCipher, Stores, TaskDispatch, TaskStore};
use everruns_core::turns::TurnService;
use everruns_secrets::AesGcmSecretCipher;
use everruns_store_memory::{ChannelTaskQueue, memory_stores};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{AuthMode, ServerConfig};
use crate::dormancy::Dormancy;
use crate::fabric::Fabric;
use crate::grpc::{GrpcSettings, NotifyDispatch, TaskStoreQueue, WorkerGrpcService, serve_grpc};
use crate::platform::oss_platform_definition;
use crate::seed::seed_org;
use crate::sse::SseHub;
use crate::state::AppState;

/// Builds and runs the control plane.
pub struct ServerAppBuilder {
    config: ServerConfig,
    platform: Option<PlatformDefinition>,
    routes: Router,
    api_function: bool,
    observers: Vec<Arc<dyn EventEmitter>>,
    traces: Option<Arc<dyn everruns_core::trace_context::TraceSink>>,
}

/// A built application: the router, its state, and the handles that stop it.
pub struct ServerApp {
    /// The full router (serve it, or call it with `oneshot` in tests).
    pub router: Router,
    /// Shared state.
    pub state: AppState,
    /// The durable task store (not in DEV_MODE).
    pub tasks: Option<Arc<dyn TaskStore>>,
    shutdown: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    grpc: Option<(WorkerGrpcService, GrpcSettings)>,
}

/// Applies the database migrations and returns: `everruns-server migrate`, the one-off deploy
/// step of the serverless split (the API function never migrates; the bridge also migrates at
/// startup). Waits for the database like a starting server does.
pub async fn migrate_database(config: &ServerConfig) -> anyhow::Result<()> {
    let Some(url) = config.database_url.as_deref() else {
        anyhow::bail!("DATABASE_URL (or DATABASE_URL_SECRET_ARN) is required to migrate");
    };
    connect_database(url, None).await?.close().await;
    Ok(())
}

/// How long startup waits for the database before giving up.
const DATABASE_STARTUP_WAIT: Duration = Duration::from_secs(60);

async fn connect_database(url: &str, idle_release: Option<Duration>) -> anyhow::Result<everruns_store_pg::PgPool> {
    let started = std::time::Instant::now();
    // A dormant instance must hold no connection: idle ones close after the same window.
    let options = match idle_release {
        Some(window) => everruns_store_pg::pool_options().idle_timeout(Some(window)).min_connections(0),
        None => everruns_store_pg::pool_options(),
    };
    loop {
        match everruns_store_pg::connect_with(url, options.clone()).await {
            Ok(pool) => match everruns_store_pg::migrate(&pool).await {
                Ok(()) => return Ok(pool),
                // The database went away between connecting and migrating: keep waiting.
                Err(everruns_core::ports::PortError::Unavailable(error))
                    if started.elapsed() < DATABASE_STARTUP_WAIT =>
                {
                    tracing::warn!("database not reachable while migrating ({error}); retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => anyhow::bail!("database migration failed: {error}"),
            },
            Err(error) if started.elapsed() < DATABASE_STARTUP_WAIT => {
                tracing::warn!("database not reachable yet ({error}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => anyhow::bail!("database unreachable after {DATABASE_STARTUP_WAIT:?}: {error}"),
        }
    }
}

impl ServerAppBuilder {
    /// A builder over `config` with the OSS platform preset and no custom routes.
    pub fn new(config: ServerConfig) -> Self {
        Self { config, platform: None, routes: Router::new(), api_function: false, observers: Vec::new(), traces: None }
    }

    /// The API function's composition (serverless split): the REST router only, on PostgreSQL
    /// connected lazily (the bridge migrates and seeds), tasks sent to `TASK_QUEUE_URL`, appended
    /// events announced to the bridge through PostgreSQL, and nothing running in the background.
    pub fn api_function(mut self) -> Self {
        self.api_function = true;
        self
    }

    /// The platform surface.
    pub fn platform_definition(mut self, platform: PlatformDefinition) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Hands every event this instance emits to `observer` as well (tracing, Braintrust).
    pub fn observe(mut self, observer: Arc<dyn EventEmitter>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Continues each turn's trace from the context its worker brings (the span builder).
    pub fn continue_traces(mut self, sink: Arc<dyn everruns_core::trace_context::TraceSink>) -> Self {
        self.traces = Some(sink);
        self
    }

    /// Routes merged into the REST API (paths like `/v1/ping`, served under `API_PREFIX`).
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Builds the application: validates configuration, prepares storage, seeds, and starts the
    /// worker side (the in-process worker in DEV_MODE; the reaper and wake-ups otherwise).
    pub async fn build(self) -> anyhow::Result<ServerApp> {
        self.config.validate()?;
        // Turns run by this process reach only what the deployment allows.
        everruns_driver_common::outbound::install(self.config.outbound);
        let api_function = self.api_function && !self.config.dev_mode;
        if api_function && self.config.task_queue_url.is_none() {
            anyhow::bail!("the API function needs TASK_QUEUE_URL (the SQS queue of iteration tasks)");
        }
        if !self.config.dev_mode && !api_function && self.config.worker_grpc_auth_token.is_none() {
            panic!(
                "WORKER_GRPC_AUTH_TOKEN must be set outside DEV_MODE: workers authenticate to the control plane with it (set the same value on the server and every worker)"
            );
        }
        let platform = self.platform.unwrap_or_else(oss_platform_definition);
        let cipher: Arc<dyn SecretCipher> = match &self.config.secrets_encryption_key {
            Some(key) => Arc::new(
                AesGcmSecretCipher::from_env_values(key, self.config.secrets_encryption_key_previous.as_deref())
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
            None => Arc::new(AesGcmSecretCipher::ephemeral()),
        };
        let fabric = match api_function {
            true => Fabric::local(),
            false => Fabric::connect(self.config.nats_url.as_deref(), "everruns-server").await,
        };
        let bus = crate::fabric::ObservedBus::wrap(fabric.bus.clone(), self.observers);
        let idle_release = self.config.database_idle_release.filter(|_| !self.config.dev_mode && !api_function);
        let dormancy = Dormancy::after(idle_release);
        let engine = EngineConfig { grade: self.config.grade, ..EngineConfig::default() };
        let mut background = Vec::new();
        let (notify, _) = broadcast::channel::<TaskId>(1024);

        let (stores, tasks, pool): (Stores, Option<Arc<dyn TaskStore>>, _) = if self.config.dev_mode {
            (memory_stores(), None, None)
        } else if api_function {
            let url = self.config.database_url.clone().unwrap_or_default();
            let pool = everruns_store_pg::connect_lazy(&url)?;
            let tasks: Arc<dyn TaskStore> = Arc::new(everruns_store_pg::PgTaskStore::new(pool.clone()));
            (everruns_store_pg::pg_stores_notifying(pool.clone()), Some(tasks), Some(pool))
        } else {
            let url = self.config.database_url.clone().unwrap_or_default();
            let pool = connect_database(&url, idle_release).await?;
            let tasks = fabric.task_store(&pool);
            (everruns_store_pg::pg_stores(pool.clone()), Some(tasks), Some(pool))
        };
        let keyed: Vec<_> = self.config.default_keys.by_driver().into_iter().map(|(driver, _)| driver).collect();
        let default_model = if api_function {
            crate::seed::default_model(&platform, self.config.grade)
        } else {
            seed_org(&stores, OrgId::DEFAULT, &platform, self.config.grade, &keyed).await?
        };
        if api_function {
            // The bridge registers the bootstrap key.
        } else if let Some(secret) = &self.config.auth_bootstrap_api_key {
            crate::auth::bootstrap(&stores, secret).await?;
        } else if self.config.auth_mode == AuthMode::ApiKey && !self.config.auth_signup_enabled {
            tracing::info!(
                "AUTH_MODE=api_key without AUTH_BOOTSTRAP_API_KEY or AUTH_SIGNUP_ENABLED: only keys already stored can authenticate"
            );
        }
        let mut turns = TurnService::new(&platform, stores.clone(), bus.clone(), engine)
            .with_default_model(default_model)
            .with_cipher(cipher.clone())
            .with_fallback_keys(self.config.default_keys.by_driver());

        let grpc = match (&tasks, &pool) {
            (Some(tasks), Some(_)) if api_function => {
                let sqs = crate::split::sqs_client().await;
                let dispatch = crate::split::sqs_dispatch(&self.config, &sqs, tasks.clone())?;
                turns = turns.with_queue(Arc::new(TaskStoreQueue::new(tasks.clone(), dispatch)));
                None
            }
            (Some(tasks), Some(pool)) => {
                let dispatch: Arc<dyn TaskDispatch> = match &self.config.task_queue_url {
                    Some(_) => {
                        let sqs = crate::split::sqs_client().await;
                        let dispatch = crate::split::sqs_dispatch(&self.config, &sqs, tasks.clone())?;
                        background.extend(crate::split::bridge_tasks(
                            &self.config,
                            &sqs,
                            pool,
                            tasks,
                            &dispatch,
                            &turns,
                            &dormancy,
                        ));
                        dispatch
                    }
                    None => Arc::new(NotifyDispatch::new(notify.clone()).with_announcer(fabric.announcer())),
                };
                turns = turns.with_queue(Arc::new(TaskStoreQueue::new(tasks.clone(), dispatch.clone())));
                background.push(fabric.relay_wakeups(pool, notify.clone(), dormancy.clone()));
                background.push(tokio::spawn(reap(tasks.clone(), turns.clone(), dormancy.clone())));
                let settings = GrpcSettings {
                    auth_token: self.config.worker_grpc_auth_token.clone(),
                    tls_cert: self.config.worker_grpc_tls_cert.clone(),
                    tls_key: self.config.worker_grpc_tls_key.clone(),
                    tls_ca_cert: self.config.worker_grpc_tls_ca_cert.clone(),
                    keepalive: Some(self.config.timeouts.grpc_keepalive),
                    idle: Some(self.config.timeouts.grpc_idle),
                    activity: dormancy.clone(),
                };
                settings.check()?;
                let service = WorkerGrpcService::new(turns.clone(), tasks.clone(), notify.clone(), dispatch)
                    .with_traces(self.traces.clone());
                Some((service, settings))
            }
            _ => {
                let (queue, mut receiver) = ChannelTaskQueue::new();
                turns = turns.with_queue(Arc::new(queue));
                let worker_turns = turns.clone();
                background.push(tokio::spawn(async move {
                    while let Some(task) = receiver.recv().await {
                        let turns = worker_turns.clone();
                        tokio::spawn(async move {
                            if let Err(error) = turns.process_task(&task).await {
                                tracing::error!(turn = %task.turn_id, iteration = task.iteration, "iteration failed: {error}");
                            }
                        });
                    }
                }));
                None
            }
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let config = Arc::new(self.config);
        let state = AppState {
            sse: Arc::new(SseHub::new(config.sse.clone())),
            config,
            platform: Arc::new(platform),
            stores,
            turns,
            cipher,
            shutdown: shutdown_rx,
            dormancy,
        };
        let router = crate::http::router(state.clone(), self.routes);
        Ok(ServerApp { router, state, tasks, shutdown, background, grpc })
    }

    /// Builds, binds `HTTP_ADDR` (and `WORKER_GRPC_ADDR` outside DEV_MODE) and serves until
    /// Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        let addr = self.config.http_addr;
        let grpc_addr = self.config.worker_grpc_addr;
        let app = Box::pin(self.build()).await?;
        let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        tracing::info!("everruns-server listening on http://{}", listener.local_addr()?);
        let grpc = match app.grpc.is_some() {
            true => {
                let grpc = TcpListener::bind(grpc_addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {grpc_addr}: {e}"))?;
                tracing::info!("worker gRPC service listening on {}", grpc.local_addr()?);
                Some(grpc)
            }
            false => None,
        };
        app.serve_all(listener, grpc, crate::app::shutdown_signal()).await
    }
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

impl ServerApp {
    /// Serves HTTP on `listener` until `shutdown` resolves; SSE streams then say goodbye
    /// (`disconnecting {reason: "shutdown"}`) and in-flight requests finish.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        self.serve_all(listener, None, shutdown).await
    }

    /// Serves HTTP, and the worker gRPC service on `grpc` when given (durable mode).
    pub async fn serve_all(
        mut self,
        listener: TcpListener,
        grpc: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let trigger = self.shutdown.clone();
        if let (Some(grpc), Some((service, settings))) = (grpc, self.grpc.take()) {
            let mut down = self.shutdown.subscribe();
            self.background.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = down.wait_for(|d| *d).await;
                };
                if let Err(error) = serve_grpc(grpc, settings, service, stop).await {
                    tracing::error!("worker gRPC service stopped: {error}");
                }
            }));
        }
        let service = self.router.clone().into_make_service_with_connect_info::<crate::front::ClientAddr>();
        let listener = crate::front::front(listener, self.state.clone())?;
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down");
                let _ = trigger.send(true);
            })
            .await?;
        for task in self.background.drain(..) {
            task.abort();
        }
        Ok(())
    }

    /// Signals shutdown to SSE streams (for tests that do not serve).
    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
