//! Test support shared by the integration tests: the server from `EVERRUNS_TEST_DATABASE_URL`
//! and a fresh, migrated database per test, dropped afterwards (also when the test fails).

#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;

use everruns_core::ports::Stores;
use everruns_store_pg::{PgPool, migrate, pg_stores, pool_options};
use futures::FutureExt;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The server URL the tests create their databases on.
pub fn server_url() -> String {
    match std::env::var("EVERRUNS_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "EVERRUNS_TEST_DATABASE_URL is not set: the Postgres store tests need a PostgreSQL server. \
             Run scripts/test, or `source scripts/lib/postgres.sh && ensure_postgres` first \
             (it starts a private cluster on 127.0.0.1:25432 and exports the variable)."
        ),
    }
}

async fn admin_connection(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap_or_else(|err| panic!("cannot connect to EVERRUNS_TEST_DATABASE_URL: {err}"))
}

/// Runs `test` on the stores of a fresh, migrated database, then drops the database (also when
/// the test panics, whose panic is then resumed).
pub async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(Stores, PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    let url = server_url();
    let name = format!("everruns_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = admin_connection(&url).await;
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|err| panic!("cannot create the test database {name}: {err}"));

    let options = PgConnectOptions::from_str(&url).expect("EVERRUNS_TEST_DATABASE_URL parses").database(&name);
    let outcome = AssertUnwindSafe(async {
        let pool = pool_options().max_connections(8).connect_with(options).await.expect("connect to the test database");
        migrate(&pool).await.expect("migrations apply");
        test(pg_stores(pool.clone()), pool.clone()).await;
        pool.close().await;
    })
    .catch_unwind()
    .await;

    let dropped = sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
        .execute(&mut admin)
        .await;
    if let Err(payload) = outcome {
        std::panic::resume_unwind(payload);
    }
    dropped.unwrap_or_else(|err| panic!("cannot drop the test database {name}: {err}"));
}
