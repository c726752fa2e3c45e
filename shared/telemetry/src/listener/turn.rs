//! The trace of one turn: the root `invoke_agent` span and the step spans currently open under
//! it. A turn ends on `turn.completed` / `failed` / `cancelled` / `sealed`, or when evicted; every
//! span still open is then ended at the closing time, so nothing leaks and no span is lost.
//!
//! The root is started lazily (at its own time, from `turn.started`) when the first step needs a
//! parent or the turn ends: until then a remote parent may still arrive (in the split, the worker
//! brings the trace context after the API's `turn.started` has reached the bridge).

use std::collections::HashMap;
use std::time::SystemTime;

use everruns_core::domain::TokenUsage;
use everruns_core::events::{
    Event, TurnCancelledData, TurnCompletedData, TurnFailedData, TurnSealedData, TurnStartedData,
};
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracer;
use tokio::time::Instant;

use super::content;
use super::span::{OpenSpan, SpanStart, int, usage_attributes};
use crate::attributes::{self as key, op};

/// What every handler needs: the tracer and whether content is recorded.
pub(super) struct Recorder<'a> {
    /// The tracer spans are started with.
    pub tracer: &'a SdkTracer,
    /// Content capture.
    pub capture: bool,
}

/// An open `reason` span. A failed call reports `reason.completed` before its `llm.generation`,
/// so a reason without a chat yet stays open (`closing`) until the next step begins.
pub(super) struct ReasonStep {
    pub span: OpenSpan,
    pub chats: u32,
    pub usage: Option<TokenUsage>,
    pub closing: Option<SystemTime>,
}

/// How a turn ended.
pub(super) enum TurnEnd<'a> {
    Completed(&'a TurnCompletedData),
    Failed(&'a TurnFailedData),
    Cancelled(&'a TurnCancelledData),
    Sealed(&'a TurnSealedData),
    /// Idle too long, or pushed out by newer turns, or the listener stopped.
    Evicted,
}

/// The root span: waiting for its first child (its parent may still change), or started.
enum Root {
    Pending {
        parent: Context,
        start: SpanStart,
    },
    Open(OpenSpan),
    /// Only while being started.
    Taken,
}

/// The open spans and running totals of one turn.
pub(super) struct TurnTrace {
    root: Root,
    pub conversation_id: String,
    pub requested_model: Option<String>,
    pub reason: Option<ReasonStep>,
    pub thinking: Option<OpenSpan>,
    pub act: Option<OpenSpan>,
    pub tools: HashMap<String, OpenSpan>,
    pub iterations: u32,
    pub usage: Option<TokenUsage>,
    /// Time of the latest event seen (where an evicted turn ends).
    pub last_at: SystemTime,
    /// When the latest event was processed (for idle eviction).
    pub last_seen: Instant,
}

impl TurnTrace {
    /// Opens `invoke_agent {turn_id}` under `parent` (an empty context makes it a root).
    pub(super) fn start(
        rec: &Recorder<'_>,
        parent: &Context,
        event: &Event,
        data: &TurnStartedData,
        at: SystemTime,
    ) -> Self {
        let conversation_id = event.session_id.to_string();
        let mut attributes = vec![KeyValue::new(key::TURN_ID, data.turn_id.to_string())];
        if rec.capture
            && let Some(input) = &data.input_content
        {
            attributes.push(KeyValue::new(key::INPUT_MESSAGES, content::user_input(input)));
        }
        let start = SpanStart {
            name: format!("{} {}", op::INVOKE_AGENT, data.turn_id),
            operation: op::INVOKE_AGENT,
            kind: SpanKind::Internal,
            at,
            attributes,
        };
        let _ = rec;
        Self {
            root: Root::Pending { parent: parent.clone(), start },
            conversation_id,
            requested_model: None,
            reason: None,
            thinking: None,
            act: None,
            tools: HashMap::new(),
            iterations: 0,
            usage: None,
            last_at: at,
            last_seen: Instant::now(),
        }
    }

    /// Sets the root's remote parent; `false` when the root has already started.
    pub(super) fn set_parent(&mut self, parent: Context) -> bool {
        match &mut self.root {
            Root::Pending { parent: current, .. } => {
                *current = parent;
                true
            }
            _ => false,
        }
    }

    /// The root span, started now if it was pending.
    pub(super) fn root(&mut self, rec: &Recorder<'_>) -> &mut OpenSpan {
        if let Root::Pending { .. } = self.root
            && let Root::Pending { parent, start } = std::mem::replace(&mut self.root, Root::Taken)
        {
            self.root = Root::Open(OpenSpan::start(rec.tracer, &parent, &self.conversation_id, start));
        }
        match &mut self.root {
            Root::Open(span) => span,
            // Replaced just above.
            Root::Pending { .. } | Root::Taken => unreachable!("the root was just started"),
        }
    }

    /// When the root starts (or started).
    pub(super) fn root_started_at(&self) -> SystemTime {
        match &self.root {
            Root::Pending { start, .. } => start.at,
            Root::Open(span) => span.started_at(),
            Root::Taken => self.last_at,
        }
    }

    /// Starts a span under `parent` with this turn's conversation id.
    pub(super) fn open(&self, rec: &Recorder<'_>, parent: &Context, start: SpanStart) -> OpenSpan {
        OpenSpan::start(rec.tracer, parent, &self.conversation_id, start)
    }

    /// Ends the open reason step (at its own completion time when it had one).
    pub(super) fn close_reason(&mut self, at: SystemTime) {
        if let Some(step) = self.reason.take() {
            step.span.end(step.closing.unwrap_or(at));
        }
    }

    /// Ends the open thinking span.
    pub(super) fn close_thinking(&mut self, at: SystemTime) {
        if let Some(span) = self.thinking.take() {
            span.end(at);
        }
    }

    /// Ends every open step span; tools still running were interrupted.
    fn close_steps(&mut self, at: SystemTime, interrupted: bool) {
        self.close_thinking(at);
        for (_, mut tool) in self.tools.drain() {
            if interrupted {
                tool.fail("interrupted", "the turn ended before the tool completed");
            }
            tool.end(at);
        }
        if let Some(act) = self.act.take() {
            act.end(at);
        }
        self.close_reason(at);
    }

    /// Ends the turn: every open span, then the root with its totals and outcome.
    pub(super) fn finish(mut self, rec: &Recorder<'_>, end: TurnEnd<'_>, at: SystemTime) {
        self.close_steps(at, !matches!(end, TurnEnd::Completed(_)));
        let counted = self.iterations;
        let (iterations, usage, status) = match &end {
            TurnEnd::Completed(d) => (d.iterations, d.usage.or(self.usage), d.status.as_deref().unwrap_or("completed")),
            TurnEnd::Failed(_) => (counted, self.usage, "failed"),
            TurnEnd::Cancelled(d) => (counted, d.usage.or(self.usage), "cancelled"),
            TurnEnd::Sealed(d) => (d.iterations.unwrap_or(counted), d.usage.or(self.usage), "sealed"),
            TurnEnd::Evicted => (counted, self.usage, "evicted"),
        };
        let mut attributes =
            vec![int(key::TURN_ITERATIONS, iterations.into()), KeyValue::new(key::TURN_STATUS, status.to_owned())];
        if let Some(usage) = &usage {
            attributes.extend(usage_attributes(usage, false));
        }
        let root = self.root(rec);
        root.set(attributes);
        match end {
            TurnEnd::Failed(d) => root.fail(d.error_code.as_deref().unwrap_or(&d.error), &d.error),
            TurnEnd::Cancelled(d) => root.fail("cancelled", d.reason.as_deref().unwrap_or("cancelled")),
            TurnEnd::Sealed(d) => root.fail(&d.reason, d.detail.as_deref().unwrap_or(&d.reason)),
            TurnEnd::Completed(_) | TurnEnd::Evicted => {}
        }
        if let Root::Open(root) = std::mem::replace(&mut self.root, Root::Taken) {
            root.end(at);
        }
    }
}
