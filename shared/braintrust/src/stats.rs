//! Counters of what happened to the generations handed to the logger, for health checks and tests.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the logger's counters (since it started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BraintrustStats {
    /// Generations accepted by `emit`.
    pub queued: u64,
    /// Generations `emit` dropped: the queue was full or the background task had stopped.
    pub dropped: u64,
    /// Rows dropped because the pending buffer was full (project unresolved or Braintrust failing).
    pub overflowed: u64,
    /// Rows Braintrust accepted.
    pub sent: u64,
    /// Rows dropped after their insert failed (retries included).
    pub failed: u64,
}

/// The live counters behind [`BraintrustStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) queued: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) failed: AtomicU64,
}

impl Counters {
    /// Adds `n` to a counter and returns the new value.
    pub(crate) fn add(counter: &AtomicU64, n: usize) -> u64 {
        let n = u64::try_from(n).unwrap_or(u64::MAX);
        counter.fetch_add(n, Ordering::Relaxed).saturating_add(n)
    }

    /// The current values.
    pub(crate) fn snapshot(&self) -> BraintrustStats {
        BraintrustStats {
            queued: self.queued.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            overflowed: self.overflowed.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}
