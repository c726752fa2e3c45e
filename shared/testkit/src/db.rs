//! Fresh databases on the test cluster named by `EVERRUNS_TEST_DATABASE_URL`: one per test, so
//! tests run in parallel without seeing each other's rows.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::env::required;

/// The cluster's administrative URL (`EVERRUNS_TEST_DATABASE_URL`).
pub fn cluster_url() -> String {
    required("EVERRUNS_TEST_DATABASE_URL")
}

async fn admin() -> PgConnection {
    PgConnection::connect(&cluster_url())
        .await
        .unwrap_or_else(|error| panic!("cannot connect to EVERRUNS_TEST_DATABASE_URL: {error}"))
}

/// The URL of `name` on the cluster.
fn url_of(name: &str) -> String {
    let cluster = cluster_url();
    let (base, rest) = cluster.rsplit_once('/').expect("EVERRUNS_TEST_DATABASE_URL names a database");
    let query = rest.split_once('?').map(|(_, query)| format!("?{query}")).unwrap_or_default();
    format!("{base}/{name}{query}")
}

/// Creates an empty database and answers its URL (the server under test migrates it).
pub async fn fresh_database() -> String {
    let name = format!("everruns_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin().await)
        .await
        .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
    url_of(&name)
}

/// Drops the database at `url` (connections still open are closed).
pub async fn drop_database(url: &str) {
    let name = url.rsplit_once('/').map(|(_, rest)| rest.split('?').next().unwrap_or(rest)).unwrap_or_default();
    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
        .execute(&mut admin().await)
        .await
        .unwrap_or_else(|error| panic!("cannot drop the test database {name}: {error}"));
}

/// Runs `test` with a fresh database's URL, then drops the database — also when the test
/// panics, whose panic is then resumed.
pub async fn with_fresh_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let url = fresh_database().await;
    let outcome = AssertUnwindSafe(test(url.clone())).catch_unwind().await;
    drop_database(&url).await;
    if let Err(payload) = outcome {
        std::panic::resume_unwind(payload);
    }
}
