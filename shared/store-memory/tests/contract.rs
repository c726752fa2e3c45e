//! Runs the `everruns-store-contract` suite against the in-memory adapters: one test per store,
//! the concurrency checks on a multi-threaded runtime, and the whole suite on one shared set.

use everruns_store_contract as contract;
use everruns_store_memory::{MemoryHarnessStore, MemoryProviderStore, memory_stores};

#[tokio::test]
async fn agent_store() {
    contract::agent_store_contract(&memory_stores()).await;
}

#[tokio::test]
async fn harness_store() {
    contract::harness_store_contract(&MemoryHarnessStore::new()).await;
}

#[tokio::test]
async fn session_store() {
    contract::session_store_contract(&memory_stores()).await;
}

#[tokio::test]
async fn event_store() {
    contract::event_store_contract(&memory_stores()).await;
}

#[tokio::test]
async fn generation_store() {
    contract::generation_store_contract(&memory_stores()).await;
}

#[tokio::test]
async fn turn_fence() {
    contract::turn_fence_contract(&memory_stores()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_turn_outcomes() {
    contract::concurrent_fence_contract(&memory_stores()).await;
}

#[tokio::test]
async fn provider_store() {
    contract::provider_store_contract(&MemoryProviderStore::new()).await;
}

#[tokio::test]
async fn file_store() {
    contract::file_store_contract(&memory_stores()).await;
}

#[tokio::test]
async fn value_store() {
    contract::value_store_contract(&memory_stores()).await;
}

#[tokio::test]
async fn toolbox() {
    contract::toolbox_contract(&memory_stores()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_appends() {
    contract::concurrent_append_contract(&memory_stores()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_status_changes() {
    contract::concurrent_change_status_contract(&memory_stores()).await;
}

/// The whole suite twice on one set of stores: fresh orgs and sessions keep the runs apart, as
/// they must on a shared database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn whole_suite_on_shared_stores() {
    let stores = memory_stores();
    contract::run_all(&stores).await;
    contract::run_all(&stores).await;
}

#[tokio::test]
async fn task_store() {
    everruns_store_contract::task_store_contract(&everruns_store_memory::MemoryTaskStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_task_claims() {
    everruns_store_contract::concurrent_claim_contract(std::sync::Arc::new(
        everruns_store_memory::MemoryTaskStore::new(),
    ))
    .await;
}

#[tokio::test]
async fn auth_store() {
    contract::auth_store_contract(&everruns_store_memory::MemoryAuthStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn oauth_store() {
    contract::oauth_contract(&memory_stores()).await;
}
