//! `Throttled`: a warning logged at most once per period, with the count of occurrences since
//! the last one (a dead NATS must not flood the logs).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Rate-limits one kind of warning.
#[derive(Debug)]
pub struct Throttled {
    period: Duration,
    state: Mutex<(Option<Instant>, u64)>,
}

impl Throttled {
    /// At most one warning per `period`.
    pub fn every(period: Duration) -> Self {
        Self { period, state: Mutex::new((None, 0)) }
    }

    /// Counts an occurrence and logs `message(count)` when the period has passed.
    pub fn warn(&self, message: impl FnOnce(u64) -> String) {
        let mut state = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        state.1 += 1;
        let due = state.0.is_none_or(|last| last.elapsed() >= self.period);
        if due {
            let count = std::mem::take(&mut state.1);
            state.0 = Some(Instant::now());
            drop(state);
            tracing::warn!("{}", message(count));
        }
    }
}
