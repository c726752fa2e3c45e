//! The per-IP request budget (`RATE_LIMIT_API_REQUESTS_PER_MINUTE`, 0 disables): shared by every
//! instance through Valkey when `VALKEY_URL` is set (sliding windows, fail-open), otherwise the
//! in-memory governor limiter of this instance (N instances allow N× the budget).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use everruns_core::ports::{RateDecision, RateLimiter};
use everruns_valkey::ValkeyRateLimiter;
use governor::{DefaultKeyedRateLimiter, Quota};

use everruns_services::config::ServerConfig;

/// The budget's window.
pub const WINDOW: Duration = Duration::from_secs(60);

/// The limiter the configuration asks for, or none when limiting is off.
pub fn limiter(config: &ServerConfig) -> Option<Arc<dyn RateLimiter>> {
    let per_minute = NonZeroU32::new(config.rate_limit_per_minute)?;
    if let Some(url) = &config.valkey_url {
        match ValkeyRateLimiter::new(url, per_minute.get(), WINDOW) {
            Ok(limiter) => return Some(Arc::new(limiter)),
            // Validated with the configuration; never reached in practice.
            Err(error) => tracing::error!("VALKEY_URL: {error}; limiting in memory instead"),
        }
    }
    Some(Arc::new(GovernorRateLimiter::per_minute(per_minute)))
}

/// The in-memory [`RateLimiter`]: governor's keyed GCRA limiter (one instance's budget).
pub struct GovernorRateLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
}

impl GovernorRateLimiter {
    /// `quota` requests per minute per key.
    pub fn per_minute(quota: NonZeroU32) -> Self {
        Self { limiter: governor::RateLimiter::keyed(Quota::per_minute(quota)) }
    }
}

#[async_trait::async_trait]
impl RateLimiter for GovernorRateLimiter {
    async fn check(&self, key: &str) -> RateDecision {
        match self.limiter.check_key(&key.to_owned()) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until
                    .wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default())),
            },
        }
    }
}

/// The key of a client address.
pub fn key_of(ip: IpAddr) -> String {
    ip.to_string()
}
