//! The turn-iteration engine. One iteration = reason (one streaming driver call, deltas emitted
//! as they arrive, the model output saved before any tool runs) + act (server-side tools run
//! concurrently; client-side calls end the iteration in the waiting state).
//!
//! An iteration is restartable: every persisted event carries an idempotency key
//! `{turn}/{iteration}/{step}`, the host's store returns the existing event for a known key, and
//! the engine skips the driver call when the iteration's output is already saved. A re-run after
//! a crash therefore re-emits nothing and never pays for the model call twice.

mod act;
mod finish;
pub use finish::{CANCELLED_MESSAGE, DISCLOSURE_CEILING, DISCLOSURE_MODES, cancellation_message, narrowed};
mod reason;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::capabilities::{CapabilityRegistry, DeploymentGrade};
use crate::context::TurnContext;
use crate::domain::TokenUsage;
use crate::driver_registry::DriverRegistry;
use crate::events::{Event, EventContext, EventPayload, NewEvent};
use crate::ids::{MessageId, SessionId, TurnId};
use crate::ports::{IterationTask, PortError, PortResult, SessionWorkspace};

/// Where the engine's effects go: event emission and the two session status changes it makes.
/// In-process it is backed by the stores and the bus; in a remote worker by the gRPC client.
#[async_trait::async_trait]
pub trait IterationHost: Send + Sync {
    /// Persists (unless ephemeral) and publishes an event. Returns the stored event (the earlier
    /// one when the idempotency key was already used), or `None` for an ephemeral event.
    async fn emit(&self, event: NewEvent) -> PortResult<Option<Event>>;

    /// Moves the session to `waitingfortoolresults` (only if `turn` is its current turn).
    async fn await_tool_results(&self, session: SessionId, turn: TurnId) -> PortResult<()>;

    /// Ends the turn: `session.idled` (the turn's last event, with the session's usage including
    /// this turn's), then the session back to `idle` if `turn` is still its current turn. Safe to
    /// repeat and to race with another ending of the same turn (the event is keyed, the status
    /// change is conditional, the usage is added once).
    async fn end_turn(&self, end: TurnEnd) -> PortResult<()>;

    /// The session's workspace, for the tools this iteration runs.
    fn workspace(&self) -> &dyn SessionWorkspace;

    /// Waits until every event emitted so far is stored. A host may send events without waiting
    /// for each (pipelined); the engine flushes before running tools and when the iteration ends,
    /// so nothing it reports as done rests on an event that was never stored.
    async fn flush(&self) -> PortResult<()> {
        Ok(())
    }
}

/// What a running turn is told while it runs: cancellation (checked before each driver call and
/// each tool, watched while a response streams or a tool runs) and steering messages (a count of
/// user messages delivered to the turn; one arriving during an iteration makes the turn go on to
/// another reason step instead of completing).
#[derive(Debug, Clone)]
pub struct CancelSignal {
    cancelled: watch::Receiver<bool>,
    steers: Option<watch::Receiver<u64>>,
}

/// The sending side of a [`CancelSignal`].
#[derive(Debug, Clone)]
pub struct TurnControl {
    cancelled: watch::Sender<bool>,
    steers: watch::Sender<u64>,
}

impl TurnControl {
    /// A control and the signal it drives.
    pub fn new() -> (Self, CancelSignal) {
        let (cancelled, cancel_rx) = watch::channel(false);
        let (steers, steer_rx) = watch::channel(0);
        (Self { cancelled, steers }, CancelSignal { cancelled: cancel_rx, steers: Some(steer_rx) })
    }

    /// Another signal of the same turn.
    pub fn signal(&self) -> CancelSignal {
        CancelSignal { cancelled: self.cancelled.subscribe(), steers: Some(self.steers.subscribe()) }
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.cancelled.send_replace(true);
    }

    /// Tells the turn a steering message was stored for it.
    pub fn steer(&self) {
        self.steers.send_modify(|n| *n += 1);
    }
}

impl CancelSignal {
    /// A signal and the sender that trips it (no steering).
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Self::from_receiver(rx))
    }

    /// Wraps a watch receiver whose value is the flag.
    pub fn from_receiver(receiver: watch::Receiver<bool>) -> Self {
        Self { cancelled: receiver, steers: None }
    }

    /// A signal that never trips.
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        // Keep the channel open forever so `cancelled()` pends instead of resolving on close.
        std::mem::forget(tx);
        Self::from_receiver(rx)
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        *self.cancelled.borrow()
    }

    /// Resolves when cancellation is requested (pends forever if it never is).
    pub async fn cancelled(&self) {
        let mut rx = self.cancelled.clone();
        if rx.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// How many steering messages were delivered so far.
    pub fn steers(&self) -> u64 {
        self.steers.as_ref().map_or(0, |rx| *rx.borrow())
    }
}

/// The end of a turn, as [`IterationHost::end_turn`] records it.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnEnd {
    /// The session.
    pub session: SessionId,
    /// The turn.
    pub turn: TurnId,
    /// The message that started the turn.
    pub input_message_id: MessageId,
    /// Iterations the turn ran.
    pub iterations: u32,
    /// The turn's usage.
    pub usage: TokenUsage,
    /// The session's new output preview.
    pub output_preview: Option<String>,
}

/// How an iteration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterationOutcome {
    /// Server-side tools ran; the next iteration should run.
    Continue,
    /// Client-side tool calls wait for results.
    WaitingForToolResults,
    /// The turn completed.
    Completed,
    /// The turn failed (the friendly message and `turn.failed` were emitted).
    Failed,
    /// The turn was cancelled.
    Cancelled,
}

impl IterationOutcome {
    /// Whether the turn is over.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

/// A failure of the engine itself (not of the model: model failures end the turn gracefully).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The host could not persist or change state; the iteration should be retried.
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Engine tuning.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Output deltas are coalesced for this long (the first is sent at once).
    pub delta_interval: Duration,
    /// The deployment grade (decides which capabilities run).
    pub grade: DeploymentGrade,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self { delta_interval: Duration::from_millis(100), grade: DeploymentGrade::Prod }
    }
}

/// Runs iterations with a platform's drivers and capabilities.
#[derive(Clone)]
pub struct IterationEngine {
    drivers: Arc<DriverRegistry>,
    capabilities: Arc<CapabilityRegistry>,
    config: EngineConfig,
}

impl IterationEngine {
    /// An engine over the given registries.
    pub fn new(drivers: Arc<DriverRegistry>, capabilities: Arc<CapabilityRegistry>, config: EngineConfig) -> Self {
        Self { drivers, capabilities, config }
    }

    /// Runs one iteration of `task` with its loaded context and the turn's persisted events.
    pub async fn run_iteration(
        &self,
        context: &TurnContext,
        task: &IterationTask,
        turn_events: &[Event],
        host: &dyn IterationHost,
        cancel: &CancelSignal,
    ) -> Result<IterationOutcome, EngineError> {
        let run = IterationRun::new(self, context, task, turn_events, host, cancel);
        let outcome = run.execute().await;
        let flushed = host.flush().await;
        match outcome.and_then(|outcome| flushed.map(|()| outcome).map_err(EngineError::from)) {
            // The store refused this turn's work: its outcome was stored elsewhere. A cancelled
            // turn still needs its ending (admitted after `turn.cancelled`); any other outcome
            // refuses that too, and the run is over.
            Err(EngineError::Port(PortError::TurnEnded(turn))) => {
                let ended = run.finish_cancelled().await;
                let flushed = host.flush().await;
                match ended.and_then(|outcome| flushed.map(|()| outcome).map_err(EngineError::from)) {
                    Err(EngineError::Port(PortError::TurnEnded(_))) => Err(PortError::TurnEnded(turn).into()),
                    other => other,
                }
            }
            other => other,
        }
    }
}

/// The state of one iteration run.
struct IterationRun<'a> {
    engine: &'a IterationEngine,
    context: &'a TurnContext,
    task: &'a IterationTask,
    turn_events: &'a [Event],
    saved: HashMap<&'a str, &'a Event>,
    host: &'a dyn IterationHost,
    cancel: &'a CancelSignal,
    event_context: EventContext,
    /// Steering messages delivered before this run started.
    steers_at_start: u64,
}

impl<'a> IterationRun<'a> {
    fn new(
        engine: &'a IterationEngine,
        context: &'a TurnContext,
        task: &'a IterationTask,
        turn_events: &'a [Event],
        host: &'a dyn IterationHost,
        cancel: &'a CancelSignal,
    ) -> Self {
        let saved = turn_events.iter().filter_map(|e| e.idempotency_key.as_deref().map(|k| (k, e))).collect();
        Self {
            engine,
            context,
            task,
            turn_events,
            saved,
            host,
            cancel,
            event_context: EventContext::for_turn(task.turn_id, Some(task.input_message_id)),
            steers_at_start: cancel.steers(),
        }
    }

    async fn execute(&self) -> Result<IterationOutcome, EngineError> {
        if self.cancel.is_cancelled() {
            return self.finish_cancelled().await;
        }
        if self.task.iteration > self.context.runtime_agent.max_iterations {
            return self.finish_at_cap().await;
        }
        let output = match self.reason().await? {
            reason::ReasonResult::Output(output) => output,
            reason::ReasonResult::Failed(error) => return self.finish_failed(&error).await,
            reason::ReasonResult::Cancelled => return self.finish_cancelled().await,
        };
        self.act(*output).await
    }

    /// Whether a steering message reached the turn after this iteration's reason step began: one
    /// signalled during the run, or (a re-run) one stored after the iteration's first event.
    fn steered(&self) -> bool {
        if self.cancel.steers() > self.steers_at_start {
            return true;
        }
        let Some(began) = self.saved(&self.step_key("reason.started")).and_then(|e| e.sequence) else {
            return false;
        };
        self.turn_events.iter().any(|e| e.is_steering_message() && e.sequence.is_some_and(|s| s > began))
    }

    /// The key of a step of this iteration.
    fn step_key(&self, step: &str) -> String {
        format!("{}/{}/{}", self.task.turn_id, self.task.iteration, step)
    }

    /// The key of a turn-level step.
    fn turn_key(&self, step: &str) -> String {
        format!("{}/{}", self.task.turn_id, step)
    }

    fn saved(&self, key: &str) -> Option<&'a Event> {
        self.saved.get(key).copied()
    }

    /// Emits a persisted event under `key` unless it is already saved.
    async fn emit_keyed(&self, key: String, payload: EventPayload) -> Result<Option<Event>, EngineError> {
        if let Some(existing) = self.saved(&key) {
            return Ok(Some(existing.clone()));
        }
        let event = NewEvent::new(self.task.session_id, self.event_context.clone(), payload).with_key(key);
        Ok(self.host.emit(event).await?)
    }

    /// Emits an ephemeral event.
    async fn emit_ephemeral(&self, payload: EventPayload) -> Result<(), EngineError> {
        let event = NewEvent::new(self.task.session_id, self.event_context.clone(), payload);
        self.host.emit(event).await?;
        Ok(())
    }
}
