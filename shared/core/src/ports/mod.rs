//! Ports: the traits the domain needs from the outside world. Adapters implement them, named
//! `{Tech}{Port}` (`MemoryAgentStore`, later `PgAgentStore`). Every store reads and writes within
//! one organization; another org's row is simply not found.

mod auth;
mod bus;
mod ledger;
mod limits;
mod oauth;
mod queue;
mod secrets;
mod stores;
mod tasks;
mod workspace;

pub use auth::AuthStore;
pub use bus::{EventBus, EventEmitter, EventSubscription};
pub use ledger::{Finished, HandedTo, QueuedTask, StartedTurn, TurnFinish, TurnLedger, TurnStart};
pub use limits::{RateDecision, RateLimiter};
pub use oauth::OAuthStore;
pub use queue::{IterationTask, Reservation, TaskDelivery};
pub use secrets::{CipherError, SecretCipher};
pub use stores::{
    AgentStore, EventFilter, EventStore, FileStore, HarnessStore, ListQuery, Page, ProviderStore, SessionFile,
    SessionFilter, SessionStore, StatusChange, Stores, ValueSpace, ValueStore, append_each, normalize_file_path,
    workspace_relative,
};
pub use tasks::{ClaimOutcome, DEFAULT_MAX_ATTEMPTS, FailOutcome, TaskLease, TaskStatus, TaskStore};
pub use workspace::{
    MAX_FILE_BYTES, MAX_KEY_CHARS, MAX_VALUE_BYTES, NoWorkspace, SessionWorkspace, StoreWorkspace, check_value,
};

/// A failure of a port call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// The row does not exist (in this org).
    #[error("{kind} '{id}' not found")]
    NotFound {
        /// What was looked up (`agent`, `session`, …).
        kind: &'static str,
        /// The id or name.
        id: String,
    },
    /// A uniqueness or state conflict.
    #[error("{0}")]
    Conflict(String),
    /// The input was rejected by the store.
    #[error("{0}")]
    Invalid(String),
    /// The event belongs to a turn whose terminal outcome is stored and does not admit it (see
    /// [`crate::events::FenceClass`]): the turn's work is over, nothing is to be retried.
    #[error("turn '{0}' has ended")]
    TurnEnded(String),
    /// The backing service cannot be reached right now (retry later).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else; details are for logs, not clients.
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl PortError {
    /// A not-found error.
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Self::NotFound { kind, id: id.to_string() }
    }
}

/// Result of a port call.
pub type PortResult<T> = Result<T, PortError>;
