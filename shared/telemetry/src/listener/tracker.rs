//! The per-process state of the listener: the open turns, and the remote parents waiting for
//! their turn to start. Bounded: a turn's state goes when it ends, when it has been idle longer
//! than the idle timeout, or when `max_turns` newer turns push it out.

use std::collections::HashMap;
use std::time::Duration;

use everruns_core::events::{Event, EventPayload};
use everruns_core::ids::TurnId;
use opentelemetry::Context;
use opentelemetry_sdk::trace::SdkTracer;
use tokio::time::Instant;

use super::span::time_of;
use super::turn::{Recorder, TurnEnd, TurnTrace};

/// Builds spans from events, turn by turn.
pub(super) struct Tracker {
    tracer: SdkTracer,
    capture: bool,
    idle_timeout: Duration,
    max_turns: usize,
    turns: HashMap<TurnId, TurnTrace>,
    parents: HashMap<TurnId, (Context, Instant)>,
}

impl Tracker {
    pub(super) fn new(tracer: SdkTracer, capture: bool, idle_timeout: Duration, max_turns: usize) -> Self {
        Self {
            tracer,
            capture,
            idle_timeout,
            max_turns: max_turns.max(1),
            turns: HashMap::new(),
            parents: HashMap::new(),
        }
    }

    /// Sets the remote parent of a turn: its root, if that has not started yet, or remembered for
    /// a turn not seen here yet.
    pub(super) fn set_parent(&mut self, turn_id: TurnId, parent: Context) {
        if let Some(turn) = self.turns.get_mut(&turn_id) {
            if !turn.set_parent(parent) {
                tracing::debug!(turn = %turn_id, "turn already traced; its remote parent comes too late");
            }
            return;
        }
        if self.parents.len() >= self.max_turns
            && let Some(oldest) = self.parents.iter().min_by_key(|(_, (_, at))| *at).map(|(id, _)| *id)
        {
            self.parents.remove(&oldest);
        }
        self.parents.insert(turn_id, (parent, Instant::now()));
    }

    /// Applies one event. Events of turns not started in this process are ignored.
    pub(super) fn apply(&mut self, event: &Event) {
        if event.is_ephemeral() {
            return;
        }
        let at = time_of(event.ts);
        let rec = Recorder { tracer: &self.tracer, capture: self.capture };
        let (turn_id, end) = match &event.payload {
            EventPayload::TurnStarted(data) => {
                if !self.turns.contains_key(&data.turn_id) {
                    self.make_room();
                    let parent = self.parents.remove(&data.turn_id).map(|(cx, _)| cx).unwrap_or_default();
                    let rec = Recorder { tracer: &self.tracer, capture: self.capture };
                    self.turns.insert(data.turn_id, TurnTrace::start(&rec, &parent, event, data, at));
                }
                return;
            }
            EventPayload::TurnCompleted(d) => (d.turn_id, TurnEnd::Completed(d)),
            EventPayload::TurnFailed(d) => (d.turn_id, TurnEnd::Failed(d)),
            EventPayload::TurnCancelled(d) => (d.turn_id, TurnEnd::Cancelled(d)),
            EventPayload::TurnSealed(d) => (d.turn_id, TurnEnd::Sealed(d)),
            _ => {
                if let Some(turn) = event.context.turn_id.and_then(|id| self.turns.get_mut(&id)) {
                    turn.apply(&rec, event, at);
                    turn.last_at = turn.last_at.max(at);
                    turn.last_seen = Instant::now();
                }
                return;
            }
        };
        if let Some(turn) = self.turns.remove(&turn_id) {
            turn.finish(&rec, end, at);
        }
    }

    /// Ends the least recently active turn when `max_turns` are open.
    fn make_room(&mut self) {
        while self.turns.len() >= self.max_turns {
            let Some(oldest) = self.turns.iter().min_by_key(|(_, t)| t.last_seen).map(|(id, _)| *id) else { return };
            self.evict(oldest);
        }
    }

    fn evict(&mut self, turn_id: TurnId) {
        if let Some(turn) = self.turns.remove(&turn_id) {
            tracing::debug!(turn = %turn_id, "ending the trace of an idle turn");
            let at = turn.last_at;
            let rec = Recorder { tracer: &self.tracer, capture: self.capture };
            turn.finish(&rec, TurnEnd::Evicted, at);
        }
    }

    /// Ends the turns (and drops the parents) idle for longer than the idle timeout.
    pub(super) fn evict_idle(&mut self, now: Instant) {
        let idle: Vec<TurnId> = self
            .turns
            .iter()
            .filter(|(_, t)| now.saturating_duration_since(t.last_seen) > self.idle_timeout)
            .map(|(id, _)| *id)
            .collect();
        for turn_id in idle {
            self.evict(turn_id);
        }
        let timeout = self.idle_timeout;
        self.parents.retain(|_, (_, at)| now.saturating_duration_since(*at) <= timeout);
    }

    /// Ends every open turn (the listener is stopping).
    pub(super) fn evict_all(&mut self) {
        let all: Vec<TurnId> = self.turns.keys().copied().collect();
        for turn_id in all {
            self.evict(turn_id);
        }
        self.parents.clear();
    }

    /// Open turns.
    pub(super) fn open_turns(&self) -> usize {
        self.turns.len()
    }
}
