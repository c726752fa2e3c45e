//! Pacing of the background task: exponential back-off after failures, and warning throttles
//! (one warning per kind per interval; the suppressed ones are counted and reported with the next).

use std::time::Duration;

use tokio::time::Instant;

/// Exponential back-off: after a failure, wait `current` (doubling up to `max`) before trying again.
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
    until: Option<Instant>,
}

impl Backoff {
    /// Ready at once; the first failure waits `initial`.
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max, current: initial, until: None }
    }

    /// Whether the wait after the last failure is over.
    pub(crate) fn is_ready(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| now >= until)
    }

    /// Records a failure; returns how long to wait.
    pub(crate) fn failed(&mut self, now: Instant) -> Duration {
        let wait = self.current;
        self.until = Some(now + wait);
        self.current = (self.current * 2).min(self.max);
        wait
    }

    /// Records a success: the next failure waits `initial` again.
    pub(crate) fn succeeded(&mut self) {
        self.current = self.initial;
        self.until = None;
    }
}

/// Allows one warning per interval.
#[derive(Debug)]
pub(crate) struct Throttle {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// The first warning always passes.
    pub(crate) fn new(interval: Duration) -> Self {
        Self { interval, last: None, suppressed: 0 }
    }

    /// `Some(suppressed since the last one)` when a warning may be written now; otherwise counts it.
    pub(crate) fn permit(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let start = Instant::now();
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(3));
        assert!(backoff.is_ready(start));
        assert_eq!(backoff.failed(start), Duration::from_secs(1));
        assert!(!backoff.is_ready(start));
        assert!(backoff.is_ready(start + Duration::from_secs(1)));
        assert_eq!(backoff.failed(start), Duration::from_secs(2));
        assert_eq!(backoff.failed(start), Duration::from_secs(3));
        assert_eq!(backoff.failed(start), Duration::from_secs(3));
        backoff.succeeded();
        assert!(backoff.is_ready(start));
        assert_eq!(backoff.failed(start), Duration::from_secs(1));
    }

    #[test]
    fn throttle_allows_one_per_interval_and_counts_the_rest() {
        let start = Instant::now();
        let mut throttle = Throttle::new(Duration::from_secs(60));
        assert_eq!(throttle.permit(start), Some(0));
        assert_eq!(throttle.permit(start + Duration::from_secs(1)), None);
        assert_eq!(throttle.permit(start + Duration::from_secs(59)), None);
        assert_eq!(throttle.permit(start + Duration::from_secs(60)), Some(2));
        assert_eq!(throttle.permit(start + Duration::from_secs(61)), None);
    }
}
