//! Test support shared by the integration tests: a fresh, migrated database per test (the
//! testkit's, on `EVERRUNS_TEST_DATABASE_URL`), dropped afterwards (also when the test fails).

#![allow(dead_code, unused_imports)]

use std::future::Future;

use everruns_core::ports::Stores;
use everruns_store_pg::{PgPool, migrate, pg_stores, pool_options};
pub use everruns_testkit::db::cluster_url as server_url;

/// Runs `test` on the stores of a fresh, migrated database, then drops the database (also when
/// the test panics, whose panic is then resumed).
pub async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(Stores, PgPool) -> Fut,
    Fut: Future<Output = ()>,
{
    everruns_testkit::db::with_fresh_database(|url| async move {
        let pool = pool_options().max_connections(8).connect(&url).await.expect("connect to the test database");
        migrate(&pool).await.expect("migrations apply");
        test(pg_stores(pool.clone()), pool.clone()).await;
        pool.close().await;
    })
    .await;
}
