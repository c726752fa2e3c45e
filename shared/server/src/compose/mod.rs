//! Composition by deployment kind: [`DeploymentKind::of`] reads what this process is from the
//! configuration, and one composing function per kind puts its parts together — storage, the
//! live-event fabric, seeding, the turn services with their task delivery, the worker gRPC
//! service and the background loops. What a kind does not list, it does not start.
//!
//! The long-lived kinds (`long_lived`) need the `long-lived` feature (on by default): the worker
//! gRPC service, NATS and the in-memory worker. The API function's build turns it off, so its
//! binary links none of them.

mod api_function;
#[cfg(feature = "long-lived")]
mod long_lived;

use std::sync::Arc;

use everruns_core::PlatformDefinition;
use everruns_core::ResolvedModel;
use everruns_core::engine::EngineConfig;
use everruns_core::ports::{EventBus, EventEmitter, SecretCipher, Stores, TaskStore};
use everruns_core::trace_context::TraceSink;
use everruns_core::turns::TurnService;
use everruns_services::config::ServerConfig;
use everruns_services::dormancy::Dormancy;
use tokio::task::JoinHandle;

use crate::observe::ObservedBus;

/// What this process is, and so what it composes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentKind {
    /// `DEV_MODE`: the whole system in one process on in-memory storage; an in-process worker
    /// drains a channel of tasks.
    Embedded,
    /// The container deployment: PostgreSQL, the worker gRPC service, tasks in the task table
    /// with wake-ups (PostgreSQL NOTIFY, or NATS), and the reaper of tasks out of attempts.
    Containers,
    /// The serverless split's long-lived host (`TASK_QUEUE_URL` set): SSE and the worker gRPC
    /// service as in [`Containers`](Self::Containers), tasks sent to SQS, plus the sweeper, the
    /// dead-letter drain and the relay of events appended by API functions.
    Bridge,
    /// The serverless split's API function: the REST router only, on PostgreSQL connected
    /// lazily (the bridge migrates and seeds), tasks sent to SQS, nothing in the background.
    ApiFunction,
}

impl DeploymentKind {
    /// The kind `config` describes; `api_function` is the API function's request (ignored in
    /// `DEV_MODE`, which is always [`Embedded`](Self::Embedded)).
    pub fn of(config: &ServerConfig, api_function: bool) -> Self {
        match (config.dev_mode, api_function, config.task_queue_url.is_some()) {
            (true, _, _) => Self::Embedded,
            (false, true, _) => Self::ApiFunction,
            (false, false, true) => Self::Bridge,
            (false, false, false) => Self::Containers,
        }
    }
}

/// What every kind starts from: settings read once and the parts chosen by the embedder.
pub(crate) struct Base<'a> {
    pub config: &'a ServerConfig,
    pub platform: &'a PlatformDefinition,
    pub cipher: Arc<dyn SecretCipher>,
    pub observers: Vec<Arc<dyn EventEmitter>>,
    /// Read by the worker service only.
    #[cfg_attr(not(feature = "long-lived"), allow(dead_code))]
    pub traces: Option<Arc<dyn TraceSink>>,
}

/// What a kind composed.
pub(crate) struct Composed {
    pub stores: Stores,
    pub tasks: Option<Arc<dyn TaskStore>>,
    pub turns: TurnService,
    pub dormancy: Dormancy,
    pub background: Vec<JoinHandle<()>>,
    #[cfg(feature = "long-lived")]
    pub grpc: Option<(everruns_grpc::WorkerGrpcService, everruns_grpc::GrpcSettings)>,
}

/// Composes `kind`.
pub(crate) async fn compose(kind: DeploymentKind, base: Base<'_>) -> anyhow::Result<Composed> {
    #[cfg(feature = "long-lived")]
    return match kind {
        DeploymentKind::Embedded => long_lived::embedded(base).await,
        DeploymentKind::Containers => long_lived::containers(base).await,
        DeploymentKind::Bridge => long_lived::bridge(base).await,
        DeploymentKind::ApiFunction => api_function::compose(base).await,
    };
    #[cfg(not(feature = "long-lived"))]
    match kind {
        DeploymentKind::ApiFunction => api_function::compose(base).await,
        other => anyhow::bail!(
            "this build composes only the API function; {other:?} needs everruns-server's `long-lived` feature"
        ),
    }
}

/// The turn services over `stores` and `bus` (their task delivery is the kind's to add).
pub(crate) fn turn_service(
    base: &Base<'_>,
    stores: &Stores,
    bus: Arc<dyn EventBus>,
    default_model: Option<ResolvedModel>,
) -> TurnService {
    let engine = EngineConfig { grade: base.config.grade, ..EngineConfig::default() };
    TurnService::new(base.platform, stores.clone(), bus, engine)
        .with_default_model(default_model)
        .with_cipher(base.cipher.clone())
        .with_fallback_keys(base.config.default_keys.by_driver())
}

/// `bus`, with the embedder's observers.
pub(crate) fn observed(bus: Arc<dyn EventBus>, base: &Base<'_>) -> Arc<dyn EventBus> {
    ObservedBus::wrap(bus, base.observers.clone())
}
