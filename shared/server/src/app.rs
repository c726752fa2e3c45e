//! `ServerAppBuilder`: composes configuration, the platform definition, storage, the in-process
//! worker (DEV_MODE) and custom routes into a served application with graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use everruns_core::PlatformDefinition;
use everruns_core::engine::EngineConfig;
use everruns_core::ids::OrgId;
use everruns_core::ports::{EventBus, SecretCipher, Stores};
use everruns_core::turns::TurnService;
use everruns_secrets::AesGcmSecretCipher;
use everruns_store_memory::{ChannelTaskQueue, MemoryEventBus, memory_stores};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::platform::oss_platform_definition;
use crate::seed::seed_org;
use crate::sse::SseHub;
use crate::state::AppState;

/// Builds and runs the control plane.
pub struct ServerAppBuilder {
    config: ServerConfig,
    platform: Option<PlatformDefinition>,
    routes: Router,
}

/// A built application: the router, its state, and the handles that stop it.
pub struct ServerApp {
    /// The full router (serve it, or call it with `oneshot` in tests).
    pub router: Router,
    /// Shared state.
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    worker: Option<JoinHandle<()>>,
}

impl ServerAppBuilder {
    /// A builder over `config` with the OSS platform preset and no custom routes.
    pub fn new(config: ServerConfig) -> Self {
        Self { config, platform: None, routes: Router::new() }
    }

    /// The platform surface.
    pub fn platform_definition(mut self, platform: PlatformDefinition) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Routes merged into the REST API (paths like `/v1/ping`, served under `API_PREFIX`).
    pub fn routes(mut self, routes: Router) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// Builds the application: validates configuration, prepares storage, seeds, and starts the
    /// in-process worker.
    pub async fn build(self) -> anyhow::Result<ServerApp> {
        self.config.validate()?;
        if !self.config.dev_mode {
            anyhow::bail!(
                "only DEV_MODE=true (in-memory storage) is available in this build; PostgreSQL storage (DATABASE_URL) is not wired yet"
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
        let stores: Stores = memory_stores();
        let bus: Arc<dyn EventBus> = Arc::new(MemoryEventBus::new());
        let keyed: Vec<_> = self.config.default_keys.by_driver().into_iter().map(|(driver, _)| driver).collect();
        let default_model = seed_org(&stores, OrgId::DEFAULT, &platform, self.config.grade, &keyed).await?;
        let (queue, mut tasks) = ChannelTaskQueue::new();
        let engine = EngineConfig { grade: self.config.grade, ..EngineConfig::default() };
        let turns = TurnService::new(&platform, stores.clone(), bus, engine)
            .with_queue(Arc::new(queue))
            .with_default_model(default_model)
            .with_cipher(cipher.clone())
            .with_fallback_keys(self.config.default_keys.by_driver());
        let worker_turns = turns.clone();
        let worker = tokio::spawn(async move {
            while let Some(task) = tasks.recv().await {
                let turns = worker_turns.clone();
                tokio::spawn(async move {
                    if let Err(error) = turns.process_task(&task).await {
                        tracing::error!(turn = %task.turn_id, iteration = task.iteration, "iteration failed: {error}");
                    }
                });
            }
        });
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
        };
        let router = crate::http::router(state.clone(), self.routes);
        Ok(ServerApp { router, state, shutdown, worker: Some(worker) })
    }

    /// Builds, binds `HTTP_ADDR` and serves until Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        let addr = self.config.http_addr;
        let app = self.build().await?;
        let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        tracing::info!("everruns-server listening on http://{}", listener.local_addr()?);
        app.serve(listener, shutdown_signal()).await
    }
}

impl ServerApp {
    /// Serves on `listener` until `shutdown` resolves; SSE streams then say goodbye
    /// (`disconnecting {reason: "shutdown"}`) and in-flight requests finish.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let trigger = self.shutdown.clone();
        let service = self.router.clone().into_make_service_with_connect_info::<crate::front::ClientAddr>();
        let listener = crate::front::front(listener, self.state.clone())?;
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down");
                let _ = trigger.send(true);
            })
            .await?;
        if let Some(worker) = self.worker.take() {
            worker.abort();
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
