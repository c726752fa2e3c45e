//! In-process cancellation flags, one per running turn. The engine watches its turn's flag; the
//! cancel service trips it. (A remote worker learns of cancellation through its task heartbeat.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::engine::CancelSignal;
use crate::ids::TurnId;

/// Cancellation flags by turn.
#[derive(Debug, Clone, Default)]
pub struct CancellationRegistry {
    flags: Arc<Mutex<HashMap<TurnId, watch::Sender<bool>>>>,
}

impl CancellationRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn sender(&self, turn: TurnId) -> watch::Sender<bool> {
        let mut flags = self.flags.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        flags.entry(turn).or_insert_with(|| watch::channel(false).0).clone()
    }

    /// The signal of a turn (tripped already if cancellation came first).
    pub fn signal(&self, turn: TurnId) -> CancelSignal {
        CancelSignal::from_receiver(self.sender(turn).subscribe())
    }

    /// Requests cancellation of a turn.
    pub fn cancel(&self, turn: TurnId) {
        self.sender(turn).send_replace(true);
    }

    /// Forgets a finished turn.
    pub fn remove(&self, turn: TurnId) {
        let mut flags = self.flags.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        flags.remove(&turn);
    }
}
