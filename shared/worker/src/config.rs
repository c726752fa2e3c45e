//! `DurableWorkerConfig`: the worker's environment, read once.

use std::path::PathBuf;
use std::time::Duration;

use everruns_core::DeploymentGrade;

/// How a worker reaches the control plane and paces itself.
#[derive(Clone)]
pub struct DurableWorkerConfig {
    /// `WORKER_GRPC_ADDRESS` (`127.0.0.1:9001`).
    pub grpc_address: String,
    /// `WORKER_GRPC_AUTH_TOKEN`.
    pub auth_token: Option<String>,
    /// `WORKER_GRPC_CONNECT_TIMEOUT` seconds (30).
    pub connect_timeout: Duration,
    /// `WORKER_GRPC_TLS_CERT` (client certificate for mTLS).
    pub tls_cert: Option<PathBuf>,
    /// `WORKER_GRPC_TLS_KEY`.
    pub tls_key: Option<PathBuf>,
    /// `WORKER_GRPC_TLS_CA_CERT` (verifies the server; switches to https).
    pub tls_ca_cert: Option<PathBuf>,
    /// `WORKER_GRPC_TLS_DOMAIN` (expected server name; default: the address's host).
    pub tls_domain: Option<String>,
    /// `MAX_CONCURRENT_TASKS` (50).
    pub max_concurrent_tasks: usize,
    /// `WORKER_POLL_INTERVAL_MS` (100): first poll delay when idle.
    pub poll_interval: Duration,
    /// `WORKER_POLL_BACKOFF_MAX_MS` (5000): idle polling backs off up to this.
    pub poll_backoff_max: Duration,
    /// `WORKER_TASK_LEASE_SECS` (30): a task not heartbeated for this long is reclaimed.
    pub lease: Duration,
    /// `WORKER_HEARTBEAT_INTERVAL_MS` (5000).
    pub heartbeat_interval: Duration,
    /// `DEPLOYMENT_GRADE` (decides which capabilities run).
    pub grade: DeploymentGrade,
    /// `WORKER_ID` (default: a random id).
    pub worker_id: String,
    /// `OUTBOUND_ALLOW_LOOPBACK` / `OUTBOUND_ALLOW_PRIVATE_NETWORKS`: what the drivers may reach.
    pub outbound: everruns_driver_common::outbound::OutboundPolicy,
}

impl std::fmt::Debug for DurableWorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableWorkerConfig")
            .field("grpc_address", &self.grpc_address)
            .field("auth_token", &self.auth_token.as_ref().map(|_| "<set>"))
            .field("tls", &self.tls_ca_cert.is_some())
            .field("max_concurrent_tasks", &self.max_concurrent_tasks)
            .field("lease", &self.lease)
            .field("worker_id", &self.worker_id)
            .finish_non_exhaustive()
    }
}

impl DurableWorkerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let number = |name: &str, default: u64| get(name).and_then(|v| v.parse().ok()).unwrap_or(default);
        let grade = get("DEPLOYMENT_GRADE").and_then(|g| DeploymentGrade::parse(&g)).unwrap_or(
            if get("DEV_MODE").is_some_and(|v| v == "true" || v == "1") {
                DeploymentGrade::Dev
            } else {
                DeploymentGrade::Prod
            },
        );
        Self {
            grpc_address: get("WORKER_GRPC_ADDRESS").unwrap_or_else(|| "127.0.0.1:9001".to_owned()),
            auth_token: get("WORKER_GRPC_AUTH_TOKEN"),
            connect_timeout: Duration::from_secs(number("WORKER_GRPC_CONNECT_TIMEOUT", 30)),
            tls_cert: get("WORKER_GRPC_TLS_CERT").map(PathBuf::from),
            tls_key: get("WORKER_GRPC_TLS_KEY").map(PathBuf::from),
            tls_ca_cert: get("WORKER_GRPC_TLS_CA_CERT").map(PathBuf::from),
            tls_domain: get("WORKER_GRPC_TLS_DOMAIN"),
            max_concurrent_tasks: number("MAX_CONCURRENT_TASKS", 50).max(1) as usize,
            poll_interval: Duration::from_millis(number("WORKER_POLL_INTERVAL_MS", 100).max(1)),
            poll_backoff_max: Duration::from_millis(number("WORKER_POLL_BACKOFF_MAX_MS", 5000).max(1)),
            lease: Duration::from_secs(number("WORKER_TASK_LEASE_SECS", 30).max(1)),
            heartbeat_interval: Duration::from_millis(number("WORKER_HEARTBEAT_INTERVAL_MS", 5000).max(100)),
            grade,
            worker_id: get("WORKER_ID").unwrap_or_else(|| format!("worker-{}", uuid::Uuid::new_v4().simple())),
            outbound: everruns_driver_common::outbound::from_lookup(
                get("DEV_MODE").is_some_and(|v| v == "true" || v == "1"),
                get,
            ),
        }
    }
}
