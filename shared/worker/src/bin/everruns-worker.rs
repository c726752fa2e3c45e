//! `everruns-worker`: the stock durable worker process (logging and OpenTelemetry from `OTEL_*`,
//! service name `everruns-worker` by default).

use everruns_telemetry::TelemetryConfig;
use everruns_worker::{DurableWorkerConfig, WorkerAppBuilder};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let telemetry = everruns_telemetry::init(&TelemetryConfig::from_env("everruns-worker")?)?;
    let result = WorkerAppBuilder::new(DurableWorkerConfig::from_env())
        .platform_definition(everruns_platform::oss_platform_definition())
        .run()
        .await;
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await??;
    result
}
