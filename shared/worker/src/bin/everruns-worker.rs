//! `everruns-worker`: the stock durable worker process.

use everruns_worker::{DurableWorkerConfig, WorkerAppBuilder};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    WorkerAppBuilder::new(DurableWorkerConfig::from_env())
        .platform_definition(everruns_platform::oss_platform_definition())
        .run()
        .await
}
