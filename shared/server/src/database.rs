//! The database of the durable kinds: connect, wait for it like a starting server does, migrate.

use std::time::Duration;

use everruns_services::config::ServerConfig;

/// Applies the database migrations and returns: `everruns-server migrate`, the one-off deploy
/// step of the serverless split (the API function never migrates; the bridge also migrates at
/// startup). Waits for the database like a starting server does.
pub async fn migrate_database(config: &ServerConfig) -> anyhow::Result<()> {
    if config.database_url.is_none() {
        anyhow::bail!("DATABASE_URL (or DATABASE_URL_SECRET_ARN) is required to migrate");
    }
    connect_database(config, None).await?.close().await;
    Ok(())
}

/// How long startup waits for the database before giving up.
const DATABASE_STARTUP_WAIT: Duration = Duration::from_secs(60);

/// Connects to `DATABASE_URL` and migrates, waiting for the database like a starting server does.
pub(crate) async fn connect_database(
    config: &ServerConfig,
    idle_release: Option<Duration>,
) -> anyhow::Result<everruns_store_pg::PgPool> {
    let url = config.database_url.as_deref().unwrap_or_default();
    let started = std::time::Instant::now();
    // A dormant instance must hold no connection: idle ones close after the same window.
    let options = match idle_release {
        Some(window) => everruns_store_pg::pool_options().idle_timeout(Some(window)).min_connections(0),
        None => everruns_store_pg::pool_options(),
    };
    loop {
        match everruns_store_pg::connect_with(url, options.clone()).await {
            Ok(pool) => match everruns_store_pg::migrate(&pool).await {
                Ok(()) => return Ok(pool),
                // The database went away between connecting and migrating: keep waiting.
                Err(everruns_core::ports::PortError::Unavailable(error))
                    if started.elapsed() < DATABASE_STARTUP_WAIT =>
                {
                    tracing::warn!("database not reachable while migrating ({error}); retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(error) => anyhow::bail!("database migration failed: {error}"),
            },
            Err(error) if started.elapsed() < DATABASE_STARTUP_WAIT => {
                tracing::warn!("database not reachable yet ({error}); retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => anyhow::bail!("database unreachable after {DATABASE_STARTUP_WAIT:?}: {error}"),
        }
    }
}
