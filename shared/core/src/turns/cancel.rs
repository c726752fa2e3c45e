//! In-process turn controls, one per running turn: the engine watches its turn's signal; the turn
//! services trip it on cancel and on a steering message. (A remote worker learns the same through
//! its `WatchTurn` stream, with the task heartbeat as the fallback.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::engine::{CancelSignal, TurnControl};
use crate::ids::TurnId;

/// Turn controls by turn.
#[derive(Debug, Clone, Default)]
pub struct CancellationRegistry {
    controls: Arc<Mutex<HashMap<TurnId, TurnControl>>>,
}

impl CancellationRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn control(&self, turn: TurnId) -> TurnControl {
        let mut controls = self.controls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        controls.entry(turn).or_insert_with(|| TurnControl::new().0).clone()
    }

    /// The signal of a turn's run in this process (registered until [`remove`](Self::remove)).
    pub fn signal(&self, turn: TurnId) -> CancelSignal {
        self.control(turn).signal()
    }

    fn running(&self, turn: TurnId) -> Option<TurnControl> {
        self.controls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&turn).cloned()
    }

    /// Requests cancellation of a turn running in this process (a turn between iterations learns
    /// it from the store: its next event is refused by the fence).
    pub fn cancel(&self, turn: TurnId) {
        if let Some(control) = self.running(turn) {
            control.cancel();
        }
    }

    /// Tells a turn running in this process that a steering message was stored for it.
    pub fn steer(&self, turn: TurnId) {
        if let Some(control) = self.running(turn) {
            control.steer();
        }
    }

    /// Forgets a turn's run (after each iteration: nothing is kept between them).
    pub fn remove(&self, turn: TurnId) {
        let mut controls = self.controls.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        controls.remove(&turn);
    }
}
