//! Throttled warnings: while a dependency (NATS, Valkey) is down every call fails, and one line
//! every few seconds (with a count of the failures not logged) says so without flooding the logs.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lets one warning through per period and counts the ones held back.
#[derive(Debug)]
pub struct WarnThrottle {
    every: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last: Option<Instant>,
    held_back: u64,
}

impl WarnThrottle {
    /// At most one warning per `every`.
    pub fn new(every: Duration) -> Self {
        Self { every, state: Mutex::new(State::default()) }
    }

    /// Records one failure. Returns `Some(failures held back since the last warning)` when a
    /// warning is due now, `None` when this one is held back.
    pub fn due(&self) -> Option<u64> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.last {
            Some(last) if now.duration_since(last) < self.every => {
                state.held_back += 1;
                None
            }
            _ => {
                state.last = Some(now);
                Some(std::mem::take(&mut state.held_back))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_period_with_the_count_held_back() {
        let throttle = WarnThrottle::new(Duration::from_secs(3600));
        assert_eq!(throttle.due(), Some(0));
        assert_eq!(throttle.due(), None);
        assert_eq!(throttle.due(), None);
        throttle.state.lock().unwrap().last = Some(Instant::now() - Duration::from_secs(3601));
        assert_eq!(throttle.due(), Some(2));
        assert_eq!(throttle.due(), None);
    }

    #[test]
    fn a_zero_period_lets_every_warning_through() {
        let throttle = WarnThrottle::new(Duration::ZERO);
        assert_eq!(throttle.due(), Some(0));
        assert_eq!(throttle.due(), Some(0));
    }
}
