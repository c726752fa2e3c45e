//! `everruns-server`: the long-lived host. Reads its configuration once (secrets given as
//! `<NAME>_SECRET_ARN` are loaded from Secrets Manager), then serves. `everruns-server migrate`
//! applies the database migrations and exits (the split's one-off deploy step).

use everruns_server::{ServerAppBuilder, ServerConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Two rustls crypto providers are linked (aws-lc-rs via the HTTP client, ring via the
    // database driver); pick one for the process before any TLS connection.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt().with_env_filter(filter).init();
    let command = std::env::args().nth(1);
    match command.as_deref() {
        None | Some("serve") => ServerAppBuilder::new(ServerConfig::load().await?).run().await,
        Some("migrate") => everruns_server::migrate_database(&ServerConfig::load().await?).await,
        Some(other) => anyhow::bail!("unknown command '{other}' (expected `serve` or `migrate`)"),
    }
}
