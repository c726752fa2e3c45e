//! [`ValkeyRateLimiter`]: the [`RateLimiter`] port on Valkey, shared by every control-plane
//! instance that points at the same server. Fails open: when Valkey cannot answer, requests are
//! allowed and a (throttled) warning is logged.

use std::fmt;
use std::time::Duration;

use everruns_core::ports::{RateDecision, RateLimiter};
use redis::aio::ConnectionManagerConfig;

use crate::connection::{Connection, Lease};
use crate::script::{SLIDING_WINDOW, key_prefix};
use crate::url::{ValkeyUrlError, is_tls, parse_valkey_url};
use everruns_core::throttle::WarnThrottle;

/// A per-key sliding-window request budget kept in Valkey (see the crate docs).
pub struct ValkeyRateLimiter {
    connection: Connection,
    script: redis::Script,
    limit: u32,
    window: Duration,
    window_ms: u64,
    /// `host:port`, for logs (the URL itself may carry a password).
    address: String,
    warnings: WarnThrottle,
}

impl ValkeyRateLimiter {
    /// How long one connection attempt may take.
    pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
    /// How long one command may wait for its reply.
    pub const RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);
    /// How long a whole check may take (connecting included) before it fails open.
    pub const CHECK_DEADLINE: Duration = Duration::from_millis(500);
    /// After a failure, checks skip Valkey (and are allowed) for this long.
    pub const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);
    /// At most one fail-open warning per this period.
    pub const WARN_EVERY: Duration = Duration::from_secs(10);

    /// A limiter allowing `limit` requests per key per sliding `window` (rounded to whole
    /// milliseconds, at least 1 ms), on the Valkey at `url` (see [`parse_valkey_url`]).
    ///
    /// Does not connect: the first [`check`](RateLimiter::check) does, so an unreachable Valkey
    /// at start-up costs nothing but fail-open checks. A `limit` of 0 limits every request.
    pub fn new(url: &str, limit: u32, window: Duration) -> Result<Self, ValkeyUrlError> {
        let url = parse_valkey_url(url)?;
        if is_tls(&url) {
            ensure_crypto_provider();
        }
        let client =
            redis::Client::open(url.as_str()).map_err(|error| ValkeyUrlError::Invalid { reason: error.to_string() })?;
        let address = client.get_connection_info().addr().to_string();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Self::CONNECT_TIMEOUT))
            .set_response_timeout(Some(Self::RESPONSE_TIMEOUT))
            .set_number_of_retries(0);
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        Ok(Self {
            connection: Connection::new(client, config, Self::RECONNECT_BACKOFF),
            script: redis::Script::new(SLIDING_WINDOW),
            limit,
            window: Duration::from_millis(window_ms),
            window_ms,
            address,
            warnings: WarnThrottle::new(Self::WARN_EVERY),
        })
    }

    /// Requests allowed per key per window.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The sliding window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Runs the script: `Ok(0)` when allowed (or when Valkey is skipped while backing off), else
    /// the milliseconds to wait.
    async fn ask(&self, key: &str) -> Result<u64, CheckError> {
        let (mut manager, generation) = match self.connection.acquire()? {
            Lease::Use { manager, generation } => (manager, generation),
            Lease::BackingOff => return Ok(0),
        };
        let prefix = key_prefix(key);
        let mut invocation = self.script.key(&prefix);
        invocation.arg(self.limit).arg(self.window_ms);
        let outcome = tokio::time::timeout(Self::CHECK_DEADLINE, invocation.invoke_async::<u64>(&mut manager)).await;
        let error = match outcome {
            Ok(Ok(wait_ms)) => {
                if self.connection.succeeded() {
                    tracing::info!(address = %self.address, "Valkey rate limiter reachable again; limiting resumes");
                }
                return Ok(wait_ms);
            }
            Ok(Err(error)) => CheckError::Redis(error),
            Err(_) => CheckError::Deadline(Self::CHECK_DEADLINE),
        };
        self.connection.failed(generation);
        Err(error)
    }
}

/// Why a check could not ask Valkey (and so failed open).
#[derive(Debug, thiserror::Error)]
enum CheckError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("no answer within {0:?}")]
    Deadline(Duration),
}

#[async_trait::async_trait]
impl RateLimiter for ValkeyRateLimiter {
    async fn check(&self, key: &str) -> RateDecision {
        if self.limit == 0 {
            return RateDecision::Limited { retry_after: self.window };
        }
        match self.ask(key).await {
            Ok(0) => RateDecision::Allowed,
            Ok(wait_ms) => RateDecision::Limited { retry_after: Duration::from_millis(wait_ms) },
            Err(error) => {
                if let Some(held_back) = self.warnings.due() {
                    tracing::warn!(
                        address = %self.address,
                        %error,
                        failures_not_logged = held_back,
                        next_attempt_in = ?Self::RECONNECT_BACKOFF,
                        "Valkey rate limiter unavailable; allowing requests (fail-open)"
                    );
                }
                RateDecision::Allowed
            }
        }
    }
}

impl fmt::Debug for ValkeyRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValkeyRateLimiter")
            .field("address", &self.address)
            .field("limit", &self.limit)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// `rediss://` needs a process-wide rustls crypto provider; the binaries install aws-lc-rs at
/// start-up, and this does the same when none is installed yet (a no-op otherwise).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_validates_without_connecting() {
        // Nothing listens on port 1; construction must not notice.
        let limiter = ValkeyRateLimiter::new("valkey://127.0.0.1:1", 10, Duration::from_secs(60)).unwrap();
        assert_eq!(limiter.limit(), 10);
        assert_eq!(limiter.window(), Duration::from_secs(60));
        assert!(matches!(
            ValkeyRateLimiter::new("http://127.0.0.1:1", 10, Duration::from_secs(60)),
            Err(ValkeyUrlError::UnsupportedScheme { .. })
        ));
    }

    #[test]
    fn debug_output_hides_the_password() {
        let limiter =
            ValkeyRateLimiter::new("valkeys://user:hunter2@cache.example.com:6380", 5, Duration::ZERO).unwrap();
        let shown = format!("{limiter:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("cache.example.com:6380"), "{shown}");
        assert_eq!(limiter.window(), Duration::from_millis(1));
    }

    #[tokio::test]
    async fn a_zero_limit_limits_everything_without_asking() {
        let limiter = ValkeyRateLimiter::new("redis://127.0.0.1:1", 0, Duration::from_secs(60)).unwrap();
        assert_eq!(limiter.check("k").await, RateDecision::Limited { retry_after: Duration::from_secs(60) });
    }
}
