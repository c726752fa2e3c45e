//! `BraintrustLogger`: the [`EventEmitter`] handed to the event fan-out. `emit` never blocks and
//! never fails: it keeps `llm.generation` events only and `try_send`s them onto a bounded queue
//! (a full queue drops the event and counts it). The background task ([`crate::worker`]) does the
//! rest; [`BraintrustLogger::flush`] waits for it, for Lambda and shutdown.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use everruns_core::events::{Event, EventPayload};
use everruns_core::ports::EventEmitter;
use tokio::sync::{mpsc, oneshot};

use crate::client::ApiClient;
use crate::config::BraintrustConfig;
use crate::error::BraintrustError;
use crate::options::LoggerOptions;
use crate::stats::{BraintrustStats, Counters};
use crate::worker::{Command, Worker};

/// How a [`BraintrustLogger::flush`] ended. Informational: there is nothing to handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushOutcome {
    /// Every generation emitted before the call was sent, or dropped after its insert failed.
    Done,
    /// This many rows are still held (the project is unresolved or Braintrust is failing); the
    /// background task keeps retrying them.
    Held(usize),
    /// The timeout passed first; the background task carries on.
    TimedOut,
    /// The background task is gone (its runtime shut down).
    Stopped,
}

/// Sends `llm.generation` events to Braintrust. Cheap to clone; the background task sends what is
/// left and stops when the last clone is dropped.
#[derive(Clone)]
pub struct BraintrustLogger {
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    flush_timeout: Duration,
}

impl BraintrustLogger {
    /// Starts the background task on the current Tokio runtime. The project lookup (when no id is
    /// configured) starts at once, in the background.
    pub fn spawn(config: BraintrustConfig, options: LoggerOptions) -> Result<Self, BraintrustError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| BraintrustError::NoRuntime(e.to_string()))?;
        let options = options.sanitized();
        let api = ApiClient::new(&config, &options)?;
        let (commands, receiver) = mpsc::channel(options.channel_capacity);
        let counters = Arc::new(Counters::default());
        let flush_timeout = options.flush_timeout;
        let worker = Worker::new(api, &config, options, Arc::clone(&counters));
        runtime.spawn(worker.run(receiver));
        tracing::info!(
            api_url = config.api_url(),
            project_name = config.project_name(),
            project_id = config.project_id(),
            "Braintrust: LLM generation logging enabled"
        );
        Ok(Self { commands, counters, flush_timeout })
    }

    /// Reads the `BRAINTRUST_*` variables and, when an API key is set, starts a logger with the
    /// default options. `Ok(None)` when the integration is off.
    pub fn from_env() -> Result<Option<Self>, BraintrustError> {
        match BraintrustConfig::from_env()? {
            Some(config) => Self::spawn(config, LoggerOptions::default()).map(Some),
            None => Ok(None),
        }
    }

    /// Sends every generation emitted so far and waits for it, at most the configured
    /// `flush_timeout` (default 10 s). Never fails; the outcome says how it went.
    pub async fn flush(&self) -> FlushOutcome {
        self.flush_within(self.flush_timeout).await
    }

    /// [`flush`](Self::flush) with its own time limit.
    pub async fn flush_within(&self, timeout: Duration) -> FlushOutcome {
        let deadline = tokio::time::Instant::now() + timeout;
        let (reply, done) = oneshot::channel();
        match tokio::time::timeout_at(deadline, self.commands.send(Command::Flush(reply))).await {
            Err(_) => return FlushOutcome::TimedOut,
            Ok(Err(_)) => return FlushOutcome::Stopped,
            Ok(Ok(())) => {}
        }
        match tokio::time::timeout_at(deadline, done).await {
            Err(_) => FlushOutcome::TimedOut,
            Ok(Err(_)) => FlushOutcome::Stopped,
            Ok(Ok(outcome)) => outcome,
        }
    }

    /// What happened to the generations so far.
    pub fn stats(&self) -> BraintrustStats {
        self.counters.snapshot()
    }

    fn dropped(&self, reason: &'static str) {
        let dropped = Counters::add(&self.counters.dropped, 1);
        if dropped.is_power_of_two() {
            tracing::warn!(dropped, reason, "Braintrust: LLM generation dropped before logging");
        }
    }
}

impl EventEmitter for BraintrustLogger {
    fn emit(&self, event: Arc<Event>) {
        if !matches!(event.payload, EventPayload::LlmGeneration(_)) {
            return;
        }
        match self.commands.try_send(Command::Event(event)) {
            Ok(()) => {
                Counters::add(&self.counters.queued, 1);
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.dropped("the queue is full"),
            Err(mpsc::error::TrySendError::Closed(_)) => self.dropped("the background task has stopped"),
        }
    }
}

impl fmt::Debug for BraintrustLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BraintrustLogger").field("stats", &self.stats()).finish()
    }
}
