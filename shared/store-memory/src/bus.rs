//! `MemoryEventBus`: live per-session fan-out over `tokio::sync::broadcast`. A session's sender
//! is created when someone subscribes and dropped by the first emit that finds no receiver left,
//! so emitting to a session nobody watches costs one map lookup.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use everruns_core::events::Event;
use everruns_core::ids::SessionId;
use everruns_core::ports::{EventBus, EventEmitter, EventSubscription};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// Events buffered per session for slow subscribers; beyond it they lag and skip ahead.
pub const BUS_CAPACITY: usize = 4096;

type Senders = HashMap<SessionId, broadcast::Sender<Arc<Event>>>;

/// The in-memory [`EventBus`]. `new()` retains nothing; `collecting()` also keeps a copy of
/// every emitted event for [`EventBus::collected_events`].
#[derive(Debug, Default)]
pub struct MemoryEventBus {
    senders: Mutex<Senders>,
    collected: Option<Mutex<Vec<Event>>>,
}

/// Locks a bus mutex. The guarded maps hold no invariant a panic could break, so a poisoned lock
/// is recovered rather than propagated (emit cannot fail).
fn relock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl MemoryEventBus {
    /// A bus that only delivers.
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus that delivers and also retains every emitted event.
    pub fn collecting() -> Self {
        Self { senders: Mutex::default(), collected: Some(Mutex::default()) }
    }
}

impl EventEmitter for MemoryEventBus {
    fn emit(&self, event: Arc<Event>) {
        if let Some(collected) = &self.collected {
            relock(collected).push(Event::clone(&event));
        }
        let mut senders = relock(&self.senders);
        let session = event.session_id;
        let Some(sender) = senders.get(&session) else {
            return;
        };
        // `send` fails only when every receiver is gone: forget the session then.
        if sender.receiver_count() == 0 || sender.send(event).is_err() {
            senders.remove(&session);
        }
    }
}

impl EventBus for MemoryEventBus {
    fn subscribe(&self, session_id: SessionId) -> EventSubscription {
        let receiver =
            relock(&self.senders).entry(session_id).or_insert_with(|| broadcast::channel(BUS_CAPACITY).0).subscribe();
        Box::pin(futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, receiver)),
                    Err(RecvError::Lagged(skipped)) => {
                        tracing::debug!(skipped, "event subscriber lagged; events skipped");
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }))
    }

    fn collected_events(&self) -> Vec<Event> {
        self.collected.as_ref().map(|collected| relock(collected).clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use everruns_core::events::{EventContext, EventPayload, NewEvent, SessionIdledData};
    use everruns_core::ids::TurnId;

    use super::*;

    fn event(session: SessionId) -> Arc<Event> {
        let data = SessionIdledData { turn_id: TurnId::new(), iterations: None, usage: None };
        Arc::new(NewEvent::new(session, EventContext::default(), EventPayload::SessionIdled(data)).event)
    }

    #[test]
    fn senders_are_created_on_subscribe_and_dropped_once_unwatched() {
        let bus = MemoryEventBus::new();
        let session = SessionId::new();
        bus.emit(event(session));
        assert!(relock(&bus.senders).is_empty(), "emitting creates no sender");
        let subscription = bus.subscribe(session);
        assert_eq!(relock(&bus.senders).len(), 1);
        bus.emit(event(session));
        assert_eq!(relock(&bus.senders).len(), 1, "a watched session keeps its sender");
        drop(subscription);
        bus.emit(event(session));
        assert!(relock(&bus.senders).is_empty(), "the first emit without receivers drops the sender");
    }
}
