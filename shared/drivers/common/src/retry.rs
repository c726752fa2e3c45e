//! The driver-level retry policy (contract §5.4) and the retrying stream starter.
//!
//! A call is retried on HTTP 408/409/429/5xx except 501 and on connection failures
//! ([`DriverError::is_retryable`]), at most [`RetryPolicy::max_retries`] times, and only while no
//! chunk of the response has been handed to the caller: [`stream_with_retry`] waits for the first
//! chunk of each attempt, so an error that arrives in-stream before it (an `overloaded` event, a
//! dropped connection) is retried too. The wait is the provider's `retry-after` when it sent one
//! (capped at [`RetryPolicy::max_retry_after`]), else an exponential backoff with jitter.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use futures::StreamExt;

use everruns_core::driver::{ChatStream, DriverError, DriverErrorKind};

/// When and how long to wait before retrying a failed call.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (2: three attempts in all).
    pub max_retries: u32,
    /// The wait before the first retry, doubled for each later one.
    pub initial_backoff: Duration,
    /// The longest computed backoff.
    pub max_backoff: Duration,
    /// Relative jitter applied to a computed backoff (0.25: ±25%).
    pub jitter: f64,
    /// The longest provider-requested (`retry-after`) wait that is honoured; longer ones are capped.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Two retries, 1 s initial backoff doubling up to 60 s, ±25% jitter, `retry-after` up to 60 s.
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            jitter: 0.25,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The default policy with another initial backoff (tests use milliseconds).
    pub fn with_initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// The same policy with another number of retries (0: a single attempt).
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// The computed backoff before retry number `retry` (0-based), jitter included.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2f64.powi(i32::try_from(retry.min(62)).unwrap_or(62));
        let base = self.initial_backoff.as_secs_f64() * factor;
        let capped = base.min(self.max_backoff.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        let scale = 1.0 + jitter * (2.0 * unit_random() - 1.0);
        Duration::try_from_secs_f64(capped * scale).unwrap_or(self.max_backoff)
    }

    /// The wait before retry number `retry` after `error`, or `None` when the error must surface.
    pub fn delay_for(&self, retry: u32, error: &DriverError) -> Option<Duration> {
        // Exhausted quota comes as a 429 but does not recover within seconds.
        if retry >= self.max_retries || !error.is_retryable() || error.kind == DriverErrorKind::QuotaExhausted {
            return None;
        }
        Some(match error.retry_after {
            Some(wait) => wait.min(self.max_retry_after),
            None => self.backoff(retry),
        })
    }
}

/// A uniform number in `[0, 1)`, from the standard library's randomly keyed hasher.
fn unit_random() -> f64 {
    let bits = RandomState::new().hash_one(std::time::SystemTime::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Starts a streaming call with retries: runs `attempt`, waits for its first chunk and retries
/// (per `policy`) when the attempt or that first chunk fails retryably. The returned stream replays
/// the first chunk and then continues the successful attempt; later errors are never retried.
pub async fn stream_with_retry<F, Fut>(policy: &RetryPolicy, mut attempt: F) -> Result<ChatStream, DriverError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<ChatStream, DriverError>>,
{
    let mut retry = 0;
    loop {
        let error = match attempt().await {
            Ok(mut stream) => match stream.next().await {
                Some(Ok(first)) => return Ok(Box::pin(futures::stream::once(async { Ok(first) }).chain(stream))),
                None => return Ok(Box::pin(futures::stream::empty())),
                Some(Err(error)) => error,
            },
            Err(error) => error,
        };
        let Some(delay) = policy.delay_for(retry, &error) else {
            return Err(error);
        };
        retry += 1;
        tracing::warn!(
            retry,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            status = error.status,
            kind = ?error.kind,
            "LLM call failed, retrying: {}",
            error.message
        );
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use everruns_core::driver::ChatChunk;

    use super::*;

    #[test]
    fn backoff_doubles_within_the_jitter_band() {
        let policy = RetryPolicy::default();
        for retry in 0..3 {
            let expected = 2f64.powi(retry as i32);
            for _ in 0..50 {
                let got = policy.backoff(retry).as_secs_f64();
                assert!(got >= expected * 0.75 - 1e-9 && got <= expected * 1.25 + 1e-9, "{retry}: {got}");
            }
        }
        let far = policy.backoff(20).as_secs_f64();
        assert!((45.0..=75.0).contains(&far), "capped at 60 s ± jitter: {far}");
    }

    #[test]
    fn delay_honours_retry_after_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let mut error = DriverError::from_status(429, "slow down");
        error.retry_after = Some(Duration::from_secs(3));
        assert_eq!(policy.delay_for(0, &error), Some(Duration::from_secs(3)));
        error.retry_after = Some(Duration::from_secs(600));
        assert_eq!(policy.delay_for(1, &error), Some(Duration::from_secs(60)));
        assert_eq!(policy.delay_for(2, &error), None, "two retries at most");
        assert_eq!(policy.delay_for(0, &DriverError::from_status(501, "no")), None);
        assert_eq!(policy.delay_for(0, &DriverError::from_status(400, "bad")), None);
        assert!(policy.delay_for(0, &DriverError::new(DriverErrorKind::Network, "reset")).is_some());
        let quota = DriverError { kind: DriverErrorKind::QuotaExhausted, ..DriverError::from_status(429, "quota") };
        assert_eq!(policy.delay_for(0, &quota), None);
    }

    #[tokio::test(start_paused = true)]
    async fn in_stream_errors_before_the_first_chunk_are_retried() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let policy = RetryPolicy::default();
        let mut stream = stream_with_retry(&policy, move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                let items = if n == 0 {
                    vec![Err(DriverError::new(DriverErrorKind::ProviderUnavailable, "overloaded"))]
                } else {
                    vec![Ok(ChatChunk::TextDelta("hi".into())), Err(DriverError::from_status(503, "late"))]
                };
                Ok(Box::pin(futures::stream::iter(items)) as ChatStream)
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stream.next().await, Some(Ok(ChatChunk::TextDelta("hi".into()))));
        assert!(matches!(stream.next().await, Some(Err(e)) if e.status == Some(503)));
        assert_eq!(calls.load(Ordering::SeqCst), 2, "errors after the first chunk are not retried");
    }
}
