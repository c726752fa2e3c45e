//! `RateLimiter`: the control plane's per-client request budget, shared by every instance when
//! the adapter is backed by a shared store. Adapters decide how to fail: the shared ones fail
//! open (availability over strictness), so `check` has no error case.

use std::time::Duration;

/// The answer to one request against a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Within the budget (or the limiter could not decide and failed open).
    Allowed,
    /// Over the budget: retry after this long.
    Limited {
        /// How long until a request would be allowed again (at least a second is advised).
        retry_after: Duration,
    },
}

/// Counts requests per key (a client address) against a budget per window.
#[async_trait::async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` and says whether it is allowed.
    async fn check(&self, key: &str) -> RateDecision;
}
