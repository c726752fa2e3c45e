//! Runs the `everruns-store-contract` suite against the Postgres adapters: one test per store, the
//! concurrency checks on a multi-threaded runtime, and the whole suite twice on one shared set.
//!
//! The server comes from `EVERRUNS_TEST_DATABASE_URL` (`scripts/test` starts a private cluster
//! and sets it; see `scripts/lib/postgres.sh`). Without it every test fails: a store adapter
//! whose tests silently pass without a database would be untested. Each test creates a fresh
//! database named `everruns_test_<uuid>` on that server, migrates it, and drops it afterwards,
//! also when the test fails.

mod support;

use std::time::Duration;

use everruns_core::ids::OrgId;
use everruns_core::ports::PortError;
use everruns_store_contract as contract;
use everruns_store_pg::{connect, connect_with, migrate, pool_options};
use support::{server_url, with_database};

#[tokio::test]
async fn agent_store() {
    with_database(|stores, _| async move { contract::agent_store_contract(&stores).await }).await;
}

#[tokio::test]
async fn harness_store() {
    with_database(|stores, _| async move { contract::harness_store_contract(stores.harnesses.as_ref()).await }).await;
}

#[tokio::test]
async fn session_store() {
    with_database(|stores, _| async move { contract::session_store_contract(&stores).await }).await;
}

#[tokio::test]
async fn event_store() {
    with_database(|stores, _| async move { contract::event_store_contract(&stores).await }).await;
}

#[tokio::test]
async fn generation_store() {
    with_database(|stores, pool| async move {
        contract::generation_store_contract(&stores).await;
        // The conversation is kept by reference: a stored row holds only the system message.
        let rows: Vec<(i32, bool)> = sqlx::query_as(
            "SELECT jsonb_array_length(data->'messages'), data ? 'conversation' FROM events \
             WHERE event_type = 'llm.generation' ORDER BY sequence",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(rows, [(1, true), (1, true), (1, false)]);
    })
    .await;
}

#[tokio::test]
async fn turn_fence() {
    with_database(|stores, _| async move { contract::turn_fence_contract(&stores).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn turn_ledger() {
    with_database(|stores, _| async move { contract::turn_ledger_contract(&stores).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_turn_outcomes() {
    with_database(|stores, _| async move { contract::concurrent_fence_contract(&stores).await }).await;
}

#[tokio::test]
async fn provider_store() {
    with_database(|stores, _| async move { contract::provider_store_contract(stores.providers.as_ref()).await }).await;
}

#[tokio::test]
async fn auth_store() {
    with_database(|stores, _| async move { contract::auth_store_contract(stores.auth.as_ref()).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn oauth_store() {
    with_database(|stores, _| async move { contract::oauth_contract(&stores).await }).await;
}

#[tokio::test]
async fn file_store() {
    with_database(|stores, _| async move { contract::file_store_contract(&stores).await }).await;
}

#[tokio::test]
async fn value_store() {
    with_database(|stores, _| async move { contract::value_store_contract(&stores).await }).await;
}

#[tokio::test]
async fn toolbox() {
    with_database(|stores, _| async move { contract::toolbox_contract(&stores).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_appends() {
    with_database(|stores, _| async move { contract::concurrent_append_contract(&stores).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_status_changes() {
    with_database(|stores, _| async move { contract::concurrent_change_status_contract(&stores).await }).await;
}

/// The whole suite twice on one database: fresh orgs and sessions keep the runs apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_on_shared_stores() {
    with_database(|stores, _| async move {
        contract::run_all(&stores).await;
        contract::run_all(&stores).await;
    })
    .await;
}

/// Migrating again is a no-op, and the default organization is seeded.
#[tokio::test]
async fn migrations_are_idempotent_and_seed_the_default_org() {
    with_database(|_, pool| async move {
        migrate(&pool).await.expect("a second migrate is a no-op");
        let name: String = sqlx::query_scalar("SELECT name FROM organizations WHERE id = $1")
            .bind(OrgId::DEFAULT.uuid())
            .fetch_one(&pool)
            .await
            .expect("the default org exists");
        assert_eq!(name, "Default");
    })
    .await;
}

/// `connect` reaches the test server; an unreachable server is `Unavailable` (the API's 503).
#[tokio::test]
async fn connection_failures_are_unavailable() {
    let pool = connect(&server_url()).await.expect("connect to the test server");
    let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.expect("query");
    assert_eq!(one, 1);
    pool.close().await;

    let quick = pool_options().acquire_timeout(Duration::from_millis(500));
    let result = connect_with("postgres://postgres@127.0.0.1:1/postgres", quick).await;
    assert!(matches!(result, Err(PortError::Unavailable(_))), "got {result:?}");
    let result = connect("not a url").await;
    assert!(matches!(result, Err(PortError::Invalid(_))), "got {result:?}");
}

/// A database nobody migrated answers `Unavailable` (503 at the API), not an internal error.
#[tokio::test]
async fn an_unmigrated_database_is_unavailable() {
    with_database(|_, pool| async move {
        sqlx::raw_sql(sqlx::AssertSqlSafe("DROP TABLE agents CASCADE".to_owned())).execute(&pool).await.unwrap();
        let stores = everruns_store_pg::pg_stores(pool);
        let result = stores.agents.list_agents(OrgId::DEFAULT, &Default::default()).await;
        assert!(matches!(result, Err(PortError::Unavailable(ref m)) if m.contains("migrations")), "{result:?}");
    })
    .await;
}
