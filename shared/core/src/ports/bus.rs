//! Live event delivery: the emitter the engine writes to, and the bus that subscribers read from.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;

use crate::events::Event;
use crate::ids::SessionId;

/// A stream of events for one session. Lagging subscribers may miss events (they resume from
/// the store with `since_id`), so the stream yields only what it still has.
pub type EventSubscription = Pin<Box<dyn Stream<Item = Arc<Event>> + Send>>;

/// Something events can be handed to for live delivery.
pub trait EventEmitter: Send + Sync {
    /// Delivers an event to live subscribers. Never blocks on slow subscribers.
    fn emit(&self, event: Arc<Event>);
}

/// Live fan-out of events to per-session subscribers.
pub trait EventBus: EventEmitter {
    /// Subscribes to the events of one session emitted from now on.
    fn subscribe(&self, session_id: SessionId) -> EventSubscription;

    /// Whether an event is delivered live only and never stored: the ephemeral types always;
    /// a bus that carries events between instances may add more (with NATS, `llm.generation`).
    fn is_live_only(&self, event: &Event) -> bool {
        event.is_ephemeral()
    }

    /// Events this bus has retained (the in-memory bus of the in-process runtime keeps them for
    /// inspection; production buses keep nothing).
    fn collected_events(&self) -> Vec<Event> {
        Vec::new()
    }
}
