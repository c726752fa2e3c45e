//! # everruns-store-pg
//!
//! The PostgreSQL adapters of the store ports of `everruns-core`: [`PgAgentStore`],
//! [`PgHarnessStore`], [`PgSessionStore`], [`PgEventStore`], [`PgProviderStore`],
//! [`PgFileStore`], [`PgValueStore`], [`PgAuthStore`] and [`PgOAuthStore`], all on one
//! [`PgPool`]. Their semantics are those of the in-memory adapters (`everruns-store-memory`),
//! and both pass the one contract suite (`everruns-store-contract`): org scoping, `Conflict` on
//! a duplicate id or name, gap-free per-session event sequences under concurrency, idempotency
//! keys, atomic conditional status changes and single-use codes and tokens, cascading deletes.
//!
//! The durable iteration queue is [`PgTaskStore`] (leases on the database clock, `SKIP LOCKED`
//! claims, exactly-once terminal outcomes), with [`PgTaskNotifier`] waking workers through
//! `LISTEN`/`NOTIFY` when a task is inserted. It is not part of [`Stores`]: build it on the same
//! pool with `PgTaskStore::new(pool.clone())`.
//!
//! ```no_run
//! # async fn demo() -> everruns_core::ports::PortResult<()> {
//! let pool = everruns_store_pg::connect("postgres://postgres@127.0.0.1:25432/everruns").await?;
//! everruns_store_pg::migrate(&pool).await?;
//! let stores = everruns_store_pg::pg_stores(pool);
//! # let _ = stores;
//! # Ok(())
//! # }
//! ```
//!
//! Decisions:
//! - Runtime queries (`sqlx::query` / `query_as` with binds), never the compile-time `query!`
//!   macros: building needs no `DATABASE_URL` and no `.sqlx` cache.
//! - The schema lives in `migrations/` at the repository root (never edited once written), embedded
//!   with `sqlx::migrate!` and applied by [`migrate`]. No triggers: every rule is a constraint or
//!   a statement here, so the in-memory adapters can mirror it.
//! - Errors: connection trouble is `PortError::Unavailable` (the API answers 503), a constraint
//!   violation the port documents is `Conflict` / `NotFound` with a message naming the row, any
//!   other database error is `Internal` with the detail logged through `tracing`.

mod agents;
mod auth;
mod codec;
mod error;
mod events;
mod files;
mod generations;
mod harnesses;
mod ledger;
mod notify;
mod oauth;
mod opening;
mod providers;
mod sessions;
mod tasks;
mod values;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use everruns_core::ports::{PortError, PortResult, Stores};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use agents::PgAgentStore;
pub use auth::PgAuthStore;
pub use events::PgEventStore;
pub use files::PgFileStore;
pub use harnesses::PgHarnessStore;
pub use ledger::PgTurnLedger;
pub use notify::{Appended, EVENT_APPENDED_CHANNEL, PgEventListener, PgTaskNotifier, TASK_AVAILABLE_CHANNEL, TaskWake};
pub use oauth::PgOAuthStore;
pub use providers::PgProviderStore;
pub use sessions::PgSessionStore;
pub use sqlx::PgPool;
pub use tasks::PgTaskStore;
pub use values::PgValueStore;

/// How long a store call waits for a pooled connection before failing with `Unavailable`.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections of a pool made by [`connect`].
pub const MAX_CONNECTIONS: u32 = 10;

/// A pooled connection idle for at least this long is pinged before it is handed out; one used
/// more recently is handed out as it is.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The pool options [`connect`] uses: [`MAX_CONNECTIONS`] connections, [`ACQUIRE_TIMEOUT`],
/// idle connections closed after 10 minutes, and a ping only for a connection idle for
/// [`PING_AFTER_IDLE`] (sqlx's default pings every connection it hands out: a round trip to the
/// database before every statement, which under load cost as many messages as the statements
/// themselves). A connection that broke while it was busy fails its next statement instead.
/// Start from these to tune a pool for [`connect_with`].
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(Some(Duration::from_secs(600)))
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    sqlx::Connection::ping(connection).await?;
                }
                Ok(true)
            })
        })
}

/// Connects a pool to `database_url` with [`pool_options`]. `Invalid` if the URL cannot be
/// parsed (the URL is not echoed: it may hold a password), `Unavailable` if the server cannot be
/// reached.
pub async fn connect(database_url: &str) -> PortResult<PgPool> {
    connect_with(database_url, pool_options()).await
}

/// Connections of a function's pool ([`connect_lazy`]): a Lambda environment serves one request
/// at a time, and without a proxy every environment's connections count against the database.
pub const FUNCTION_MAX_CONNECTIONS: u32 = 3;

/// How long a function's idle connection is kept: short, so an environment that saw no request
/// for a minute reconnects rather than holding the database awake (Aurora pauses only when no
/// connection is open; frozen environments are reaped by the server's TCP keepalives).
pub const FUNCTION_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A function's pool: opens connections on first use (a Lambda cold start must not wait for the
/// database), at most [`FUNCTION_MAX_CONNECTIONS`], idle ones closed after
/// [`FUNCTION_IDLE_TIMEOUT`]. `Invalid` if the URL cannot be parsed.
pub fn connect_lazy(database_url: &str) -> PortResult<PgPool> {
    let connect_options = PgConnectOptions::from_str(database_url)
        .map_err(|_| PortError::Invalid("the database URL cannot be parsed".to_owned()))?
        .application_name("everruns");
    let options = pool_options()
        .max_connections(FUNCTION_MAX_CONNECTIONS)
        .idle_timeout(Some(FUNCTION_IDLE_TIMEOUT))
        .min_connections(0);
    Ok(options.connect_lazy_with(connect_options))
}

/// Connects a pool to `database_url` with the given options (see [`connect`]).
pub async fn connect_with(database_url: &str, options: PgPoolOptions) -> PortResult<PgPool> {
    let connect_options = PgConnectOptions::from_str(database_url)
        .map_err(|_| PortError::Invalid("the database URL cannot be parsed".to_owned()))?
        .application_name("everruns");
    options.connect_with(connect_options).await.map_err(|err| error::port_error("connect", err))
}

/// Applies the migrations of `migrations/` that the database has not run yet (safe to call from
/// several processes at once: sqlx takes an advisory lock).
pub async fn migrate(pool: &PgPool) -> PortResult<()> {
    sqlx::migrate!("../../migrations").run(pool).await.map_err(|err| match err {
        sqlx::migrate::MigrateError::Execute(err) => error::port_error("migrate", err),
        other => {
            tracing::error!(error = %other, "database migration failed");
            PortError::Internal(format!("database migration failed: {other}"))
        }
    })
}

/// [`pg_stores`] whose event store announces appended events (see [`PgEventStore::notifying`]).
pub fn pg_stores_notifying(pool: PgPool) -> Stores {
    Stores {
        events: Arc::new(PgEventStore::notifying(pool.clone())),
        turns: Arc::new(PgTurnLedger::new(pool.clone()).notifying_events()),
        ..pg_stores(pool)
    }
}

/// One Postgres store of each kind, sharing `pool`.
pub fn pg_stores(pool: PgPool) -> Stores {
    Stores {
        agents: Arc::new(PgAgentStore::new(pool.clone())),
        harnesses: Arc::new(PgHarnessStore::new(pool.clone())),
        sessions: Arc::new(PgSessionStore::new(pool.clone())),
        events: Arc::new(PgEventStore::new(pool.clone())),
        providers: Arc::new(PgProviderStore::new(pool.clone())),
        files: Arc::new(PgFileStore::new(pool.clone())),
        values: Arc::new(PgValueStore::new(pool.clone())),
        auth: Arc::new(PgAuthStore::new(pool.clone())),
        oauth: Arc::new(PgOAuthStore::new(pool.clone())),
        turns: Arc::new(PgTurnLedger::new(pool)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_functions_pool_is_tiny_and_lets_the_database_sleep() {
        let pool = connect_lazy("postgres://everruns@127.0.0.1:1/everruns").unwrap();
        assert_eq!(pool.options().get_max_connections(), FUNCTION_MAX_CONNECTIONS);
        assert_eq!(pool.options().get_min_connections(), 0);
        assert_eq!(pool.options().get_idle_timeout(), Some(FUNCTION_IDLE_TIMEOUT));
        assert_eq!(pool.size(), 0, "nothing is opened before the first query");
        assert!(matches!(connect_lazy("not a url"), Err(PortError::Invalid(_))));
    }
}
