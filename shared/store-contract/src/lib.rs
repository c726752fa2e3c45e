//! # everruns-store-contract
//!
//! The one contract test suite of the store ports: public async functions that take the ports,
//! exercise every documented semantic and panic (`assert!`) on any deviation. Every adapter
//! (`everruns-store-memory` now, a Postgres adapter later) runs this exact suite from its tests.
//!
//! Each function creates its own fresh organization and sessions (new UUIDv7 ids), so the suite
//! can run repeatedly and concurrently against one shared real database. Functions whose rows
//! need parent rows (an agent's harness, a session's harness, events and files of a session) take
//! all the [`Stores`] so they can create those parents first, as a database with foreign keys
//! requires. Names used in ordering checks are lowercase ASCII so byte order and database
//! collations agree.
//!
//! The concurrency checks spawn tokio tasks: run them on a multi-threaded runtime.

#![allow(clippy::unwrap_used)]

mod agents;
mod auth;
mod concurrency;
mod events;
mod fence;
mod files;
pub mod fixtures;
mod generations;
mod harnesses;
mod ledger;
mod oauth;
mod providers;
mod sessions;
mod tasks;
mod toolbox;
mod values;

use everruns_core::ports::Stores;

pub use agents::agent_store_contract;
pub use auth::auth_store_contract;
pub use concurrency::{concurrent_append_contract, concurrent_change_status_contract};
pub use events::event_store_contract;
pub use fence::{concurrent_fence_contract, turn_fence_contract};
pub use files::file_store_contract;
pub use generations::generation_store_contract;
pub use harnesses::harness_store_contract;
pub use ledger::{handed_start_contract, start as turn_start, turn_ledger_contract};
pub use oauth::oauth_contract;
pub use providers::provider_store_contract;
pub use sessions::session_store_contract;
pub use tasks::{concurrent_claim_contract, task_store_contract};
pub use toolbox::toolbox_contract;
pub use values::value_store_contract;

/// Runs the whole suite against one set of stores (the concurrency checks included, so call it
/// from a multi-threaded runtime).
pub async fn run_all(stores: &Stores) {
    agent_store_contract(stores).await;
    harness_store_contract(stores.harnesses.as_ref()).await;
    session_store_contract(stores).await;
    event_store_contract(stores).await;
    generation_store_contract(stores).await;
    turn_fence_contract(stores).await;
    turn_ledger_contract(stores).await;
    provider_store_contract(stores.providers.as_ref()).await;
    file_store_contract(stores).await;
    value_store_contract(stores).await;
    toolbox_contract(stores).await;
    auth_store_contract(stores.auth.as_ref()).await;
    oauth_contract(stores).await;
    concurrent_append_contract(stores).await;
    concurrent_change_status_contract(stores).await;
    concurrent_fence_contract(stores).await;
}
