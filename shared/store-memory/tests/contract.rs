//! Runs the `everruns-store-contract` suite against the in-memory adapters: one test per store,
//! the concurrency checks on a multi-threaded runtime, and the whole suite on one shared set.

use everruns_core::ports::TurnLedger;
use everruns_store_contract as contract;
use everruns_store_memory::{
    MemoryHarnessStore, MemoryProviderStore, MemoryTaskStore, MemoryTurnLedger, memory_stores,
};

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
async fn turn_ledger() {
    contract::turn_ledger_contract(&memory_stores()).await;
}

/// A ledger asked to queue a task without a task store refuses before it changes anything; with
/// one, the task is queued.
#[tokio::test]
async fn a_turn_start_queues_its_task_only_where_a_task_store_is() {
    use everruns_core::domain::SessionStatus;
    use everruns_core::ids::TurnId;
    use everruns_core::ports::{QueuedTask, TaskStore};
    use std::sync::Arc;

    let stores = memory_stores();
    let session = contract::fixtures::seed_session(&stores).await;
    let turn = TurnId::new();
    let task = contract::fixtures::first_task(&session, turn);
    let mut start = contract::turn_start(session.id, turn);
    start.task = Some(QueuedTask { task: task.clone(), max_attempts: 2, handed_to: None });
    let bare = MemoryTurnLedger::new(stores.sessions.clone(), stores.events.clone());
    assert!(bare.start_turn(session.organization_id, session.id, start.clone()).await.is_err());
    let now = stores.sessions.get_session(session.organization_id, session.id).await.unwrap().unwrap();
    assert_eq!(now.status, SessionStatus::Started, "nothing changed");

    let tasks = Arc::new(MemoryTaskStore::new());
    let ledger = bare.with_tasks(tasks.clone());
    assert!(ledger.start_turn(session.organization_id, session.id, start).await.unwrap().is_some());
    let claimed = tasks.claim_next("worker", std::time::Duration::from_secs(30), 5).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].task.clone(), claimed[0].max_attempts), (task, 2));
}

/// A task handed to a worker as the start commits it is leased to that worker.
#[tokio::test]
async fn a_handed_start_leases_its_task() {
    let stores = memory_stores();
    let tasks = std::sync::Arc::new(MemoryTaskStore::new());
    let ledger = MemoryTurnLedger::new(stores.sessions.clone(), stores.events.clone()).with_tasks(tasks.clone());
    contract::handed_start_contract(&stores, &ledger, tasks.as_ref()).await;
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
