//! The connection to Valkey: a [`ConnectionManager`] created on first use (it connects lazily,
//! and checks arriving meanwhile share its one connection attempt), dropped after any failure,
//! and not created again until a back-off has passed, so a dead Valkey costs checks nothing in
//! between and sees at most one fresh connection attempt per back-off period.
//!
//! A fresh manager, rather than the failed one's own reconnection, is what recovers: it
//! re-resolves the host and starts clean whatever the failure was (a refused or timed-out
//! connect, a hung server, an authentication or `READONLY` error after a fail-over). The failed
//! manager still makes one reconnection attempt of its own in the background before it is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Hands out the current [`ConnectionManager`], or says to skip Valkey while backing off.
pub(crate) struct Connection {
    client: redis::Client,
    config: ConnectionManagerConfig,
    backoff: Duration,
    state: Mutex<State>,
    /// Set by a failure, cleared by the next success: that success is worth a log line.
    failing: AtomicBool,
}

#[derive(Default)]
struct State {
    /// The manager in use and its generation; `None` before first use and after a failure.
    current: Option<(ConnectionManager, u64)>,
    /// No new manager before this instant.
    backing_off_until: Option<Instant>,
    generation: u64,
}

/// What a check should do.
pub(crate) enum Lease {
    /// Run the script on this manager; report a failure with its generation.
    Use { manager: ConnectionManager, generation: u64 },
    /// Valkey failed less than a back-off period ago: allow without asking it.
    BackingOff,
}

impl Connection {
    pub(crate) fn new(client: redis::Client, config: ConnectionManagerConfig, backoff: Duration) -> Self {
        Self { client, config, backoff, state: Mutex::new(State::default()), failing: AtomicBool::new(false) }
    }

    /// The manager to use, a fresh (not yet connected) one when there is none and the back-off
    /// has passed. Never waits on the network. Must be called within a Tokio runtime.
    pub(crate) fn acquire(&self) -> Result<Lease, redis::RedisError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((manager, generation)) = &state.current {
            return Ok(Lease::Use { manager: manager.clone(), generation: *generation });
        }
        let now = Instant::now();
        if state.backing_off_until.is_some_and(|until| now < until) {
            return Ok(Lease::BackingOff);
        }
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone()) {
            Ok(manager) => {
                state.generation += 1;
                state.current = Some((manager.clone(), state.generation));
                state.backing_off_until = None;
                Ok(Lease::Use { manager, generation: state.generation })
            }
            Err(error) => {
                state.backing_off_until = Some(now + self.backoff);
                self.failing.store(true, Ordering::Relaxed);
                Err(error)
            }
        }
    }

    /// A check on `generation` failed: drop that manager (unless a newer one replaced it) and
    /// back off.
    pub(crate) fn failed(&self, generation: u64) {
        self.failing.store(true, Ordering::Relaxed);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.current.as_ref().is_some_and(|(_, current)| *current == generation) {
            state.current = None;
            state.backing_off_until = Some(Instant::now() + self.backoff);
        }
    }

    /// A check succeeded. Returns whether it ended a spell of failures.
    pub(crate) fn succeeded(&self) -> bool {
        self.failing.load(Ordering::Relaxed) && self.failing.swap(false, Ordering::Relaxed)
    }
}
