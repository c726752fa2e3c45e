//! # everruns-store-memory
//!
//! The in-memory adapter set: one honest implementation of every port of `everruns-core`
//! (agents, harnesses, sessions, the event log, organizations and API keys, OAuth clients, codes and
//! tokens, providers and models, session files and values, the live
//! event bus and the task delivery).
//!
//! "Honest" means these adapters enforce the same rules a real database would (org scoping,
//! uniqueness conflicts, gap-free per-session sequences, idempotency keys, atomic conditional
//! status changes, cascading deletes), because they really run DEV_MODE and the in-process
//! runtime; they are not test mocks. They hold all state in the memory of one process, so they
//! are not meant for multi-instance deployments.
//!
//! Locks are `std::sync` locks held only for the synchronous body of a call (never across an
//! `.await`); a poisoned lock is reported as [`PortError::Internal`](everruns_core::ports::PortError).

mod agents;
mod auth;
mod bus;
mod delivery;
mod events;
mod files;
mod harnesses;
mod ledger;
mod oauth;
mod providers;
mod sessions;
mod support;
mod tasks;
mod values;

use std::sync::Arc;

use everruns_core::ports::{AuthStore, EventStore, SessionStore, Stores};

pub use agents::MemoryAgentStore;
pub use auth::MemoryAuthStore;
pub use bus::{BUS_CAPACITY, MemoryEventBus};
pub use delivery::ChannelTaskDelivery;
pub use events::MemoryEventStore;
pub use everruns_core::ports::normalize_file_path as normalize_path;
pub use files::MemoryFileStore;
pub use harnesses::MemoryHarnessStore;
pub use ledger::MemoryTurnLedger;
pub use oauth::MemoryOAuthStore;
pub use providers::MemoryProviderStore;
pub use sessions::MemorySessionStore;
pub use tasks::MemoryTaskStore;
pub use values::MemoryValueStore;

/// Builds one in-memory store of each kind. The session store shares the event and file stores,
/// so deleting a session also deletes its events and files; the turn ledger writes through the
/// session and event stores (it has no task store: DEV_MODE delivers tasks over a channel); the OAuth store knows the
/// organizations of the auth store, so a code or token of an unknown organization is refused.
pub fn memory_stores() -> Stores {
    let auth: Arc<dyn AuthStore> = Arc::new(MemoryAuthStore::new());
    let events = MemoryEventStore::new();
    let files = MemoryFileStore::new();
    let values = MemoryValueStore::new();
    let sessions: Arc<dyn SessionStore> =
        Arc::new(MemorySessionStore::new(events.clone(), files.clone()).with_values(values.clone()));
    let events: Arc<dyn EventStore> = Arc::new(events);
    Stores {
        agents: Arc::new(MemoryAgentStore::new()),
        harnesses: Arc::new(MemoryHarnessStore::new()),
        turns: Arc::new(MemoryTurnLedger::new(sessions.clone(), events.clone())),
        sessions,
        events,
        providers: Arc::new(MemoryProviderStore::new()),
        files: Arc::new(files),
        values: Arc::new(values),
        oauth: Arc::new(MemoryOAuthStore::new().with_organizations(auth.clone())),
        auth,
    }
}
