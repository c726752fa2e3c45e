//! `everruns-server`: the long-lived host. Reads its configuration once (secrets given as
//! `<NAME>_SECRET_ARN` are loaded from Secrets Manager), then serves.

use everruns_server::{ServerAppBuilder, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Two rustls crypto providers are linked (aws-lc-rs via the HTTP client, ring via the
    // database driver); pick one for the process before any TLS connection.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    ServerAppBuilder::new(ServerConfig::load().await?).run().await
}
