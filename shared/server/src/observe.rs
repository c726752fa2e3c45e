//! `ObservedBus`: the event bus of a process, with the embedder's observers (the OpenTelemetry
//! span builder, Braintrust) handed every event it emits.

use std::sync::Arc;

use everruns_core::events::Event;
use everruns_core::ids::SessionId;
use everruns_core::ports::{EventBus, EventEmitter, EventSubscription};

/// A bus that also hands every emitted event to observers (the OpenTelemetry span builder,
/// Braintrust): they see each event once, on the instance that emitted it.
pub struct ObservedBus {
    inner: Arc<dyn EventBus>,
    observers: Vec<Arc<dyn EventEmitter>>,
}

impl ObservedBus {
    /// `inner` with `observers` (returned unwrapped when there are none).
    pub fn wrap(inner: Arc<dyn EventBus>, observers: Vec<Arc<dyn EventEmitter>>) -> Arc<dyn EventBus> {
        if observers.is_empty() { inner } else { Arc::new(Self { inner, observers }) }
    }
}

impl EventEmitter for ObservedBus {
    fn emit(&self, event: Arc<Event>) {
        for observer in &self.observers {
            observer.emit(event.clone());
        }
        self.inner.emit(event);
    }
}

impl EventBus for ObservedBus {
    fn subscribe(&self, session_id: SessionId) -> EventSubscription {
        self.inner.subscribe(session_id)
    }

    fn is_live_only(&self, event: &Event) -> bool {
        self.inner.is_live_only(event)
    }

    fn collected_events(&self) -> Vec<Event> {
        self.inner.collected_events()
    }
}
