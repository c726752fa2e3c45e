//! `OtelEventListener`: an [`EventEmitter`] that turns the platform's events into the Gen-AI
//! span tree (`invoke_agent` → `reason` → `thinking` / `chat`, `act` → `execute_tool`).
//!
//! Spans are built from events, not from the code that runs the turn, so the tree is the same
//! whether the engine runs in-process, in a container or split across processes, and span times
//! are the events' own timestamps even though spans are built after the fact. `emit` only pushes
//! onto a bounded channel (a full channel drops the event and counts it); one task builds spans.

mod content;
mod span;
mod steps;
mod tracker;
mod turn;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use everruns_core::events::Event;
use everruns_core::ids::TurnId;
use everruns_core::ports::EventEmitter;
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracer;
use tokio::sync::{mpsc, oneshot};

use crate::error::TelemetryError;
use crate::propagation;
use tracker::Tracker;

/// How the listener behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerOptions {
    /// Record message content, tool arguments/results and thinking (off by default).
    pub capture_content: bool,
    /// A turn without events for this long is ended (`turn.status = evicted`). Default 30 min.
    pub idle_timeout: Duration,
    /// How often idle turns are looked for. Default 30 s.
    pub sweep_interval: Duration,
    /// Most turns traced at once; the least recently active is ended first. Default 10 000.
    pub max_turns: usize,
    /// Events buffered between `emit` and the span builder. Default 65 536.
    pub channel_capacity: usize,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        Self {
            capture_content: false,
            idle_timeout: Duration::from_secs(30 * 60),
            sweep_interval: Duration::from_secs(30),
            max_turns: 10_000,
            channel_capacity: 65_536,
        }
    }
}

enum Command {
    Event(Arc<Event>),
    Parent(TurnId, Context),
    Barrier(oneshot::Sender<usize>),
}

/// Builds Gen-AI spans from events. Cheap to clone; the building task stops (ending every open
/// turn) when the last clone is dropped.
#[derive(Clone)]
pub struct OtelEventListener {
    tx: mpsc::Sender<Command>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for OtelEventListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelEventListener").field("dropped_events", &self.dropped_events()).finish()
    }
}

impl OtelEventListener {
    /// Starts the span-building task on the current Tokio runtime.
    pub fn spawn(tracer: SdkTracer, options: ListenerOptions) -> Result<Self, TelemetryError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| TelemetryError::NoRuntime(e.to_string()))?;
        let (tx, rx) = mpsc::channel(options.channel_capacity.max(1));
        let tracker = Tracker::new(tracer, options.capture_content, options.idle_timeout, options.max_turns);
        runtime.spawn(run(rx, tracker, options.sweep_interval.max(Duration::from_millis(1))));
        Ok(Self { tx, dropped: Arc::new(AtomicU64::new(0)) })
    }

    /// Makes the root span of `turn_id` a child of `parent` (a span context carried from the
    /// process that accepted the message). Takes effect if called before the turn's
    /// `turn.started` is emitted here; kept at most `idle_timeout`.
    pub fn set_turn_parent(&self, turn_id: TurnId, parent: Context) {
        self.send(Command::Parent(turn_id, parent));
    }

    /// [`set_turn_parent`](Self::set_turn_parent) from a W3C `traceparent`/`tracestate` carrier
    /// (e.g. message attributes). A carrier without a valid `traceparent` changes nothing.
    pub fn set_turn_parent_from_carrier(&self, turn_id: TurnId, carrier: &HashMap<String, String>) {
        if let Some(parent) = propagation::extract(carrier) {
            self.set_turn_parent(turn_id, parent);
        }
    }
}

impl everruns_core::trace_context::TraceSink for OtelEventListener {
    fn continue_turn(&self, turn: TurnId, carrier: &everruns_core::trace_context::Carrier) {
        self.set_turn_parent_from_carrier(turn, carrier);
    }
}

impl OtelEventListener {
    /// Waits until every event emitted so far has been turned into spans (ended spans are then
    /// with the exporter: flush the tracer provider to send them). Returns the open turns.
    pub async fn flush(&self) -> Result<usize, TelemetryError> {
        let (reply, done) = oneshot::channel();
        self.tx.send(Command::Barrier(reply)).await.map_err(|_| TelemetryError::ListenerClosed)?;
        done.await.map_err(|_| TelemetryError::ListenerClosed)
    }

    /// Events dropped because the channel was full.
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    fn send(&self, command: Command) {
        if let Err(mpsc::error::TrySendError::Full(_)) = self.tx.try_send(command) {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if dropped.is_power_of_two() {
                tracing::warn!(dropped, "telemetry listener is behind; events dropped from traces");
            }
        }
    }
}

impl EventEmitter for OtelEventListener {
    fn emit(&self, event: Arc<Event>) {
        // Deltas (the bulk of the traffic) carry nothing a span needs.
        if !event.is_ephemeral() {
            self.send(Command::Event(event));
        }
    }
}

async fn run(mut rx: mpsc::Receiver<Command>, mut tracker: Tracker, sweep: Duration) {
    let mut ticker = tokio::time::interval(sweep);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            command = rx.recv() => match command {
                Some(Command::Event(event)) => tracker.apply(&event),
                Some(Command::Parent(turn_id, parent)) => tracker.set_parent(turn_id, parent),
                Some(Command::Barrier(reply)) => {
                    let _ = reply.send(tracker.open_turns());
                }
                None => break,
            },
            now = ticker.tick() => tracker.evict_idle(now),
        }
    }
    tracker.evict_all();
}
