//! `ServerAppBuilder`: the configuration, the platform definition, the embedder's observers and
//! custom routes, composed by deployment kind ([`crate::compose`]) into a served application
//! with graceful shutdown: HTTP (the REST router and SSE) and, where the kind hosts workers, the
//! worker gRPC service on `WORKER_GRPC_ADDR`.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use everruns_core::PlatformDefinition;
use everruns_core::ports::{EventEmitter, SecretCipher, TaskStore};
use everruns_http::AppState;
use everruns_http::sse::SseHub;
use everruns_secrets::AesGcmSecretCipher;
use everruns_services::App;
use everruns_services::config::ServerConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::compose::{Base, Composed, DeploymentKind, compose};
use crate::platform::oss_platform_definition;

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
    /// What this process composed.
    pub kind: DeploymentKind,
    /// The full router (serve it, or call it with `oneshot` in tests).
    pub router: Router,
    /// Shared state.
    pub state: AppState,
    /// The durable task store (not in DEV_MODE).
    pub tasks: Option<Arc<dyn TaskStore>>,
    shutdown: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    #[cfg(feature = "long-lived")]
    grpc: Option<(everruns_grpc::WorkerGrpcService, everruns_grpc::GrpcSettings)>,
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

    /// Builds the application: validates configuration, then composes the deployment kind the
    /// configuration describes (see [`DeploymentKind`]).
    pub async fn build(self) -> anyhow::Result<ServerApp> {
        self.config.validate()?;
        // Turns run by this process reach only what the deployment allows.
        everruns_driver_common::outbound::install(self.config.outbound);
        let kind = DeploymentKind::of(&self.config, self.api_function);
        let platform = self.platform.unwrap_or_else(oss_platform_definition);
        let cipher: Arc<dyn SecretCipher> = match &self.config.secrets_encryption_key {
            Some(key) => Arc::new(
                AesGcmSecretCipher::from_env_values(key, self.config.secrets_encryption_key_previous.as_deref())
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
            None => Arc::new(AesGcmSecretCipher::ephemeral()),
        };
        let base = Base {
            config: &self.config,
            platform: &platform,
            cipher: cipher.clone(),
            observers: self.observers,
            traces: self.traces,
        };
        let composed: Composed = compose(kind, base).await?;
        let Composed { stores, tasks, turns, dormancy, .. } = composed;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let config = Arc::new(self.config);
        let state = AppState {
            sse: Arc::new(SseHub::new(config.sse.clone())),
            app: Arc::new(App { config, platform: Arc::new(platform), stores, turns, cipher, dormancy }),
            shutdown: shutdown_rx,
        };
        let router = everruns_http::router(state.clone(), self.routes);
        Ok(ServerApp {
            kind,
            router,
            state,
            tasks,
            shutdown,
            background: composed.background,
            #[cfg(feature = "long-lived")]
            grpc: composed.grpc,
        })
    }

    /// Builds, binds `HTTP_ADDR` (and `WORKER_GRPC_ADDR` outside DEV_MODE) and serves until
    /// Ctrl-C or SIGTERM.
    pub async fn run(self) -> anyhow::Result<()> {
        let addr = self.config.http_addr;
        let grpc_addr = self.config.worker_grpc_addr;
        let app = Box::pin(self.build()).await?;
        let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        tracing::info!("everruns-server listening on http://{}", listener.local_addr()?);
        let grpc = match app.hosts_workers() {
            true => {
                let grpc = TcpListener::bind(grpc_addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {grpc_addr}: {e}"))?;
                tracing::info!("worker gRPC service listening on {}", grpc.local_addr()?);
                Some(grpc)
            }
            false => None,
        };
        app.serve_all(listener, grpc, shutdown_signal()).await
    }
}

impl ServerApp {
    /// Whether this application serves the worker gRPC service (the long-lived durable kinds).
    pub fn hosts_workers(&self) -> bool {
        #[cfg(feature = "long-lived")]
        return self.grpc.is_some();
        #[cfg(not(feature = "long-lived"))]
        false
    }

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
        #[cfg(feature = "long-lived")]
        if let (Some(grpc), Some((service, settings))) = (grpc, self.grpc.take()) {
            let mut down = self.shutdown.subscribe();
            self.background.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = down.wait_for(|d| *d).await;
                };
                if let Err(error) = everruns_grpc::serve_grpc(grpc, settings, service, stop).await {
                    tracing::error!("worker gRPC service stopped: {error}");
                }
            }));
        }
        #[cfg(not(feature = "long-lived"))]
        drop(grpc);
        let service = self.router.clone().into_make_service_with_connect_info::<everruns_http::ClientAddr>();
        let listener = everruns_http::front(listener, self.state.clone())?;
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
