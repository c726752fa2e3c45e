//! `everruns-server`: the long-lived host. Reads its configuration once (secrets given as
//! `<NAME>_SECRET_ARN` are loaded from Secrets Manager), sets up logging and OpenTelemetry
//! (`OTEL_*`; the Gen-AI span tree is built from this instance's events) and, with
//! `BRAINTRUST_API_KEY`, logging of every `llm.generation` to Braintrust, then serves.
//! `everruns-server migrate` applies the database migrations and exits (the split's one-off
//! deploy step).

use std::sync::Arc;

use everruns_server::{ServerAppBuilder, ServerConfig};
use everruns_telemetry::TelemetryConfig;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Two rustls crypto providers are linked (aws-lc-rs via the HTTP client, ring via the
    // database driver); pick one for the process before any TLS connection.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let telemetry = everruns_telemetry::init(&TelemetryConfig::from_env("everruns-server")?)?;
    let command = std::env::args().nth(1);
    let result = match command.as_deref() {
        None | Some("serve") => {
            let mut builder = ServerAppBuilder::new(ServerConfig::load().await?);
            let listener = telemetry.event_listener()?;
            if let Some(listener) = &listener {
                builder = builder.observe(Arc::new(listener.clone())).continue_traces(Arc::new(listener.clone()));
            }
            let braintrust = everruns_braintrust::BraintrustLogger::from_env()?;
            if let Some(logger) = &braintrust {
                builder = builder.observe(Arc::new(logger.clone()));
            }
            let served = builder.run().await;
            if let Some(listener) = listener {
                let _ = listener.flush().await;
            }
            if let Some(logger) = braintrust {
                let _ = logger.flush().await;
            }
            served
        }
        Some("migrate") => everruns_server::migrate_database(&ServerConfig::load().await?).await,
        Some(other) => Err(anyhow::anyhow!("unknown command '{other}' (expected `serve` or `migrate`)")),
    };
    tokio::task::spawn_blocking(move || telemetry.shutdown()).await??;
    result
}
