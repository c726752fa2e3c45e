//! The background task: resolves the project once, turns generations into rows, batches them and
//! inserts them. Failures are only logged (throttled) and never reach the caller.
//!
//! - Project: the configured id, or `POST /v1/project` by name at start; a failed lookup is
//!   retried with exponential back-off while rows are held in the bounded [`Pending`] buffer.
//! - Sending: a full batch (`batch_size` rows) goes at once, a partial one at the next tick
//!   (`flush_interval`), everything on flush. Each batch gets `max_attempts` tries (transport
//!   errors, 408, 429 and 5xx are retried) and is then dropped. A failed batch also ends the round
//!   and starts a back-off, so an outage costs a request per back-off step, not one per batch;
//!   the rows behind it wait in the buffer (which drops new rows once full).
//! - One request at a time: when a flush request is handled, nothing else is in flight.

use std::sync::Arc;

use everruns_core::events::Event;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

use crate::client::{ApiClient, ApiError};
use crate::config::BraintrustConfig;
use crate::logger::FlushOutcome;
use crate::options::LoggerOptions;
use crate::pacing::{Backoff, Throttle};
use crate::pending::Pending;
use crate::row::generation_row;
use crate::stats::Counters;

/// What the logger hands to the task.
pub(crate) enum Command {
    /// An `llm.generation` event.
    Event(Arc<Event>),
    /// Send everything held, then reply.
    Flush(oneshot::Sender<FlushOutcome>),
}

/// Where rows go.
enum Project {
    /// The project id.
    Known(String),
    /// The name still to look up.
    Lookup(String),
}

/// Why rows are being sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// A full batch is waiting: send full batches only, respecting the back-off.
    Size,
    /// The interval passed: send everything, respecting the back-off.
    Tick,
    /// A flush: send everything now.
    Flush,
}

/// The state of the background task.
pub(crate) struct Worker {
    api: ApiClient,
    options: LoggerOptions,
    project: Project,
    pending: Pending,
    counters: Arc<Counters>,
    lookup_backoff: Backoff,
    insert_backoff: Backoff,
    lookup_warn: Throttle,
    insert_warn: Throttle,
    overflow_warn: Throttle,
}

impl Worker {
    /// A task for the configured project.
    pub(crate) fn new(
        api: ApiClient,
        config: &BraintrustConfig,
        options: LoggerOptions,
        counters: Arc<Counters>,
    ) -> Self {
        let project = match config.project_id() {
            Some(id) => Project::Known(id.to_owned()),
            None => Project::Lookup(config.project_name().to_owned()),
        };
        let backoff = || Backoff::new(options.initial_backoff, options.max_backoff);
        let throttle = || Throttle::new(options.warn_interval);
        Self {
            api,
            pending: Pending::new(options.max_pending_rows, options.max_pending_bytes),
            project,
            counters,
            lookup_backoff: backoff(),
            insert_backoff: backoff(),
            lookup_warn: throttle(),
            insert_warn: throttle(),
            overflow_warn: throttle(),
            options,
        }
    }

    /// Runs until every logger handle is dropped, then sends what is left.
    pub(crate) async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        self.resolve(Trigger::Tick).await;
        let period = self.options.flush_interval;
        let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Event(event)) => {
                        self.accept(&event);
                        if self.pending.len() >= self.options.batch_size {
                            self.send(Trigger::Size).await;
                        }
                    }
                    Some(Command::Flush(reply)) => {
                        let outcome = self.flush().await;
                        let _ = reply.send(outcome);
                    }
                    None => {
                        let _ = self.flush().await;
                        break;
                    }
                },
                _ = ticker.tick() => {
                    self.resolve(Trigger::Tick).await;
                    self.send(Trigger::Tick).await;
                }
            }
        }
    }

    async fn flush(&mut self) -> FlushOutcome {
        self.resolve(Trigger::Flush).await;
        self.send(Trigger::Flush).await;
        match self.pending.len() {
            0 => FlushOutcome::Done,
            held => FlushOutcome::Held(held),
        }
    }

    /// Maps and holds one generation.
    fn accept(&mut self, event: &Event) {
        let Some(bytes) = generation_row(event).and_then(|row| serde_json::to_vec(&row).ok()) else {
            return;
        };
        if self.pending.push(bytes) {
            return;
        }
        let overflowed = Counters::add(&self.counters.overflowed, 1);
        if let Some(suppressed) = self.overflow_warn.permit(Instant::now()) {
            tracing::warn!(
                overflowed,
                suppressed,
                held = self.pending.len(),
                "Braintrust: the pending buffer is full; LLM generation dropped"
            );
        }
    }

    /// Looks the project up when its id is unknown and the back-off allows (a flush always may).
    async fn resolve(&mut self, trigger: Trigger) {
        let Project::Lookup(name) = &self.project else {
            return;
        };
        if trigger != Trigger::Flush && !self.lookup_backoff.is_ready(Instant::now()) {
            return;
        }
        let name = name.clone();
        match self.api.register_project(&name).await {
            Ok(id) => {
                tracing::info!(project_name = %name, project_id = %id, "Braintrust: logging LLM generations to project");
                self.lookup_backoff.succeeded();
                self.project = Project::Known(id);
            }
            Err(error) => {
                let now = Instant::now();
                let retry_in = self.lookup_backoff.failed(now);
                if let Some(suppressed) = self.lookup_warn.permit(now) {
                    tracing::warn!(
                        project_name = %name,
                        %error,
                        ?retry_in,
                        suppressed,
                        held = self.pending.len(),
                        "Braintrust: project lookup failed; generations are held until it succeeds"
                    );
                }
            }
        }
    }

    /// Sends held rows in batches, stopping at the first failed batch.
    async fn send(&mut self, trigger: Trigger) {
        let Project::Known(project_id) = &self.project else {
            return;
        };
        let project_id = project_id.clone();
        if trigger != Trigger::Flush && !self.insert_backoff.is_ready(Instant::now()) {
            return;
        }
        let (max_rows, max_bytes) = (self.options.batch_size, self.options.max_batch_bytes);
        while !self.pending.is_empty() && (trigger != Trigger::Size || self.pending.len() >= max_rows) {
            let Some(batch) = self.pending.take_batch(max_rows, max_bytes) else {
                break;
            };
            match self.insert_with_retries(&project_id, batch.body).await {
                Ok(()) => {
                    Counters::add(&self.counters.sent, batch.rows);
                    self.insert_backoff.succeeded();
                }
                Err(error) => {
                    let failed = Counters::add(&self.counters.failed, batch.rows);
                    let now = Instant::now();
                    let retry_in = self.insert_backoff.failed(now);
                    if let Some(suppressed) = self.insert_warn.permit(now) {
                        tracing::warn!(
                            %error,
                            rows = batch.rows,
                            failed,
                            suppressed,
                            ?retry_in,
                            held = self.pending.len(),
                            "Braintrust: inserting LLM generations failed; batch dropped"
                        );
                    }
                    break;
                }
            }
        }
    }

    /// Up to `max_attempts` tries, pausing `retry_delay × attempt` before each retry.
    async fn insert_with_retries(&self, project_id: &str, mut body: Vec<u8>) -> Result<(), ApiError> {
        let mut attempt = 1;
        loop {
            let last = attempt >= self.options.max_attempts;
            let this_try = if last { std::mem::take(&mut body) } else { body.clone() };
            match self.api.insert(project_id, this_try).await {
                Ok(()) => return Ok(()),
                Err(error) if !last && error.is_retryable() => {
                    tracing::debug!(%error, attempt, "Braintrust: insert failed; retrying");
                    tokio::time::sleep(self.options.retry_delay.saturating_mul(attempt)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}
