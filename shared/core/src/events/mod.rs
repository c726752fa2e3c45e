//! Events: the envelope (contract §4.1), the typed catalog of `data` payloads (§4.2), the one
//! registry of valid type strings and the ephemeral ("delta") types (§4.3).

mod catalog;
mod data;
mod envelope_de;
mod fence;
mod sent;

pub use catalog::{
    EPHEMERAL_EVENT_TYPES, EVENT_TYPES, EventPayload, PayloadData, UnknownEventType, is_ephemeral, validate_event_type,
};
pub use data::*;
pub use fence::{CANCELLATION_MESSAGE_STEP, FenceClass, TurnStage};
pub use sent::SentMessages;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{EventId, MessageId, SessionId, TurnId};
use crate::time::Timestamp;

/// Tracing context of an event; `{}` for session-level events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventContext {
    /// The turn the event belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<TurnId>,
    /// The user message that started the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_message_id: Option<MessageId>,
    /// The execution (driver call or tool run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
    /// Trace id (the turn id string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    /// Span id shared by a started/completed pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    /// Parent span id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
}

impl EventContext {
    /// The context of an event inside a turn.
    pub fn for_turn(turn_id: TurnId, input_message_id: Option<MessageId>) -> Self {
        Self { turn_id: Some(turn_id), input_message_id, trace_id: Some(turn_id.to_string()), ..Self::default() }
    }
}

/// An event as clients see it. `type` and `data` come from the flattened [`EventPayload`]; it is
/// read back without buffering (`envelope_de`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// UUIDv7 id.
    pub id: EventId,
    /// Creation time (millisecond precision).
    pub ts: Timestamp,
    /// The session.
    pub session_id: SessionId,
    /// Tracing context.
    #[serde(default)]
    pub context: EventContext,
    /// `type` + `data`.
    #[serde(flatten)]
    pub payload: EventPayload,
    /// Per-session, gap-free, from 1; only persisted events have it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<i64>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The idempotency key it was stored under (internal; never on the wire).
    #[serde(skip)]
    pub idempotency_key: Option<String>,
}

impl Event {
    /// Whether this is a steering message: a user message delivered to a turn that another
    /// message started (its context names the turn's first message, not itself).
    pub fn is_steering_message(&self) -> bool {
        match &self.payload {
            EventPayload::InputMessage(data) => {
                self.context.turn_id.is_some() && self.context.input_message_id != Some(data.message.id)
            }
            _ => false,
        }
    }

    /// The type string (`event:` name on SSE).
    pub fn event_type(&self) -> &'static str {
        self.payload.event_type()
    }

    /// About how many bytes the event takes as JSON: a generation's messages, else a small
    /// event's size. What a buffer that will hold it should reserve.
    pub fn json_len_hint(&self) -> usize {
        match &self.payload {
            EventPayload::LlmGeneration(data) => 1024 + data.messages.json_len_hint(),
            _ => 512,
        }
    }

    /// Whether the event is a delta that is never stored.
    pub fn is_ephemeral(&self) -> bool {
        is_ephemeral(self.event_type())
    }
}

/// An event about to be emitted. The store assigns the sequence; the idempotency key makes a
/// re-emission after a crash return the stored event instead of a duplicate.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event (its `sequence` is ignored and assigned on append).
    pub event: Event,
    /// Unique per session; derived from `(turn, iteration, step)` by the engine.
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    /// A new event with a fresh id and the current time.
    pub fn new(session_id: SessionId, context: EventContext, payload: EventPayload) -> Self {
        Self {
            event: Event {
                id: EventId::new(),
                ts: Timestamp::now(),
                session_id,
                context,
                payload,
                sequence: None,
                metadata: None,
                tags: Vec::new(),
                idempotency_key: None,
            },
            idempotency_key: None,
        }
    }

    /// Sets the idempotency key (also recorded on the event, so stored events carry it).
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        self.event.idempotency_key = Some(key.clone());
        self.idempotency_key = Some(key);
        self
    }
}
