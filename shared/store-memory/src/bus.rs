//! `MemoryEventBus`: live per-session fan-out over `tokio::sync::broadcast`. A session's sender
//! is created when someone subscribes and dropped with its last subscription (or by the first
//! emit that finds no receiver left), so a finished session keeps nothing and emitting to a
//! session nobody watches costs one map lookup.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use everruns_core::events::Event;
use everruns_core::ids::SessionId;
use everruns_core::ports::{EventBus, EventEmitter, EventSubscription};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

/// Events buffered per session for slow subscribers; beyond it they lag and skip ahead (and
/// catch up from the store). The ring is allocated whole while the session is watched.
pub const BUS_CAPACITY: usize = 1024;

type Senders = HashMap<SessionId, broadcast::Sender<Arc<Event>>>;

/// The in-memory [`EventBus`]. `new()` retains nothing; `collecting()` also keeps a copy of
/// every emitted event for [`EventBus::collected_events`].
#[derive(Debug, Default)]
pub struct MemoryEventBus {
    senders: Arc<Mutex<Senders>>,
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
        Self { senders: Arc::default(), collected: Some(Mutex::default()) }
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

/// One subscriber's receiver; dropping the last one of a session forgets the session's sender.
struct Subscription {
    receiver: Option<broadcast::Receiver<Arc<Event>>>,
    session: SessionId,
    senders: Arc<Mutex<Senders>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.receiver.take());
        let mut senders = relock(&self.senders);
        if senders.get(&self.session).is_some_and(|sender| sender.receiver_count() == 0) {
            senders.remove(&self.session);
        }
    }
}

impl EventBus for MemoryEventBus {
    fn subscribe(&self, session_id: SessionId) -> EventSubscription {
        let receiver =
            relock(&self.senders).entry(session_id).or_insert_with(|| broadcast::channel(BUS_CAPACITY).0).subscribe();
        let subscription =
            Subscription { receiver: Some(receiver), session: session_id, senders: self.senders.clone() };
        Box::pin(futures::stream::unfold(subscription, |mut subscription| async move {
            let receiver = subscription.receiver.as_mut()?;
            loop {
                match receiver.recv().await {
                    Ok(event) => return Some((event, subscription)),
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
        let second = bus.subscribe(session);
        drop(subscription);
        assert_eq!(relock(&bus.senders).len(), 1, "another subscriber keeps it");
        drop(second);
        assert!(relock(&bus.senders).is_empty(), "the last subscription takes the sender with it");
    }
}
