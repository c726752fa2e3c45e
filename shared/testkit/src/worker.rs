//! An in-process `everruns-worker` connected to a served control plane, with a readiness signal.

use std::collections::HashMap;
use std::time::Duration;

use everruns_worker::{DurableWorkerConfig, WorkerAppBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::server::TOKEN;

/// A running worker; dropping it stops it.
pub struct Worker {
    task: JoinHandle<()>,
    ready: watch::Receiver<bool>,
}

impl Worker {
    /// Runs a worker against the gRPC service at `grpc` (authenticated with [`TOKEN`]), polling
    /// every `poll` when no notification wakes it.
    pub fn spawn(grpc: &str, poll: Duration) -> Self {
        let millis = poll.as_millis().to_string();
        let vars: HashMap<&str, String> = HashMap::from([
            ("WORKER_GRPC_ADDRESS", grpc.to_owned()),
            ("WORKER_GRPC_AUTH_TOKEN", TOKEN.to_owned()),
            ("DEPLOYMENT_GRADE", "dev".to_owned()),
            ("WORKER_POLL_INTERVAL_MS", millis.clone()),
            ("WORKER_POLL_BACKOFF_MAX_MS", millis),
        ]);
        let config = DurableWorkerConfig::from_lookup(|name| vars.get(name).cloned());
        let (signal, ready) = watch::channel(false);
        let task = tokio::spawn(async move {
            if let Err(error) = WorkerAppBuilder::new(config).signal_ready(signal).run().await {
                panic!("worker stopped: {error}");
            }
        });
        Self { task, ready }
    }

    /// Waits (up to 10 s) until the worker is subscribed to task notifications: a task delivered
    /// from now on wakes it.
    pub async fn ready(&mut self) {
        let subscribed =
            tokio::time::timeout(Duration::from_secs(10), self.ready.wait_for(|ready| *ready)).await.map(|r| r.is_ok());
        assert_eq!(subscribed, Ok(true), "the worker did not subscribe to task notifications within 10 s");
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}
