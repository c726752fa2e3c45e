//! `LoggerOptions`: how the background task batches, retries, backs off and bounds its memory.

use std::time::Duration;

/// How the logger behaves. The defaults suit a server; tests shorten the intervals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggerOptions {
    /// Rows per insert request at most. Default 50.
    pub batch_size: usize,
    /// Bytes of rows per insert request at most (one larger row is still sent alone). Default 4 MiB.
    pub max_batch_bytes: usize,
    /// A partial batch is sent after at most this long. Default 1 s.
    pub flush_interval: Duration,
    /// Events queued between `emit` and the background task; a full queue drops. Default 4 096.
    pub channel_capacity: usize,
    /// Rows held while the project is unresolved or Braintrust is failing. Default 10 000.
    pub max_pending_rows: usize,
    /// Bytes of rows held at most. Default 64 MiB.
    pub max_pending_bytes: usize,
    /// Limit on one HTTP request, connection included. Default 10 s.
    pub request_timeout: Duration,
    /// Limit on establishing a connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Attempts per batch (the first included) before it is dropped. Default 2 (one retry).
    pub max_attempts: u32,
    /// Pause before a retry (times the attempt number). Default 500 ms.
    pub retry_delay: Duration,
    /// First pause after a failed project lookup or a dropped batch; doubles per failure. Default 1 s.
    pub initial_backoff: Duration,
    /// Longest such pause. Default 60 s.
    pub max_backoff: Duration,
    /// How long [`flush`](crate::BraintrustLogger::flush) waits at most. Default 10 s.
    pub flush_timeout: Duration,
    /// At most one warning of each kind per this interval (the rest are counted). Default 60 s.
    pub warn_interval: Duration,
}

impl Default for LoggerOptions {
    fn default() -> Self {
        Self {
            batch_size: 50,
            max_batch_bytes: 4 * 1024 * 1024,
            flush_interval: Duration::from_secs(1),
            channel_capacity: 4_096,
            max_pending_rows: 10_000,
            max_pending_bytes: 64 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_attempts: 2,
            retry_delay: Duration::from_millis(500),
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            flush_timeout: Duration::from_secs(10),
            warn_interval: Duration::from_secs(60),
        }
    }
}

impl LoggerOptions {
    /// The options with every size at least 1 and every interval non-zero, so a careless value
    /// cannot stall or spin the background task.
    pub(crate) fn sanitized(mut self) -> Self {
        let min = Duration::from_millis(1);
        self.batch_size = self.batch_size.max(1);
        self.max_batch_bytes = self.max_batch_bytes.max(1);
        self.flush_interval = self.flush_interval.max(min);
        self.channel_capacity = self.channel_capacity.max(1);
        self.max_pending_rows = self.max_pending_rows.max(1);
        self.max_pending_bytes = self.max_pending_bytes.max(1);
        self.request_timeout = self.request_timeout.max(min);
        self.connect_timeout = self.connect_timeout.max(min);
        self.max_attempts = self.max_attempts.max(1);
        self.initial_backoff = self.initial_backoff.max(min);
        self.max_backoff = self.max_backoff.max(self.initial_backoff);
        self
    }
}
