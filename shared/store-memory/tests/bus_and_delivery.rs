//! Tests of the in-memory `MemoryEventBus` (per-session fan-out, emit without subscribers,
//! collecting mode) and of `ChannelTaskDelivery`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use everruns_core::events::{ContextCompactingData, Event, EventContext, EventPayload, NewEvent};
use everruns_core::ids::{MessageId, OrgId, SessionId, TurnId};
use everruns_core::ports::{EventBus, EventEmitter, EventSubscription, IterationTask, PortError, TaskDelivery};
use everruns_store_memory::{ChannelTaskDelivery, MemoryEventBus};
use futures::StreamExt;

fn event(session: SessionId, reason: &str) -> Arc<Event> {
    let data = ContextCompactingData { reason: reason.to_owned(), strategy: "none".to_owned(), messages_before: 0 };
    Arc::new(NewEvent::new(session, EventContext::default(), EventPayload::ContextCompacting(data)).event)
}

async fn next(subscription: &mut EventSubscription) -> Option<Arc<Event>> {
    tokio::time::timeout(Duration::from_secs(5), subscription.next()).await.ok().flatten()
}

async fn nothing_pending(subscription: &mut EventSubscription) -> bool {
    tokio::time::timeout(Duration::from_millis(50), subscription.next()).await.is_err()
}

#[tokio::test]
async fn subscribers_receive_only_their_sessions_events() {
    let bus = MemoryEventBus::new();
    let (a, b) = (SessionId::new(), SessionId::new());
    let mut sub_a = bus.subscribe(a);
    let mut sub_a2 = bus.subscribe(a);
    let mut sub_b = bus.subscribe(b);

    let first = event(a, "a1");
    bus.emit(first.clone());
    bus.emit(event(b, "b1"));
    bus.emit(event(a, "a2"));

    assert_eq!(next(&mut sub_a).await.unwrap().id, first.id);
    assert_eq!(next(&mut sub_a2).await.unwrap().id, first.id, "every subscriber of the session gets it");
    let second = next(&mut sub_a).await.unwrap();
    assert_eq!(second.session_id, a);
    assert!(nothing_pending(&mut sub_a).await);
    let only_b = next(&mut sub_b).await.unwrap();
    assert_eq!(only_b.session_id, b);
    assert!(nothing_pending(&mut sub_b).await);
    assert!(bus.collected_events().is_empty(), "a plain bus retains nothing");
}

#[tokio::test]
async fn subscribers_see_only_events_emitted_after_subscribing() {
    let bus = MemoryEventBus::new();
    let session = SessionId::new();
    bus.emit(event(session, "before anyone listens"));
    let mut sub = bus.subscribe(session);
    assert!(nothing_pending(&mut sub).await);
    let after = event(session, "after");
    bus.emit(after.clone());
    assert_eq!(next(&mut sub).await.unwrap().id, after.id);
}

#[tokio::test]
async fn emitting_without_subscribers_is_fine_and_resubscribing_works() {
    let bus = MemoryEventBus::new();
    let session = SessionId::new();
    for i in 0..10_000 {
        bus.emit(event(session, &format!("nobody listens {i}")));
    }
    let sub = bus.subscribe(session);
    drop(sub);
    bus.emit(event(session, "the dropped subscriber's sender is released here"));
    let mut sub = bus.subscribe(session);
    let fresh = event(session, "fresh");
    bus.emit(fresh.clone());
    assert_eq!(next(&mut sub).await.unwrap().id, fresh.id);
}

#[tokio::test]
async fn a_lagging_subscriber_skips_ahead_instead_of_failing() {
    let bus = MemoryEventBus::new();
    let session = SessionId::new();
    let mut sub = bus.subscribe(session);
    let total = everruns_store_memory::BUS_CAPACITY + 10;
    for i in 0..total {
        bus.emit(event(session, &i.to_string()));
    }
    let first = next(&mut sub).await.unwrap();
    let EventPayload::ContextCompacting(data) = &first.payload else { panic!("unexpected payload") };
    assert_eq!(data.reason, "10", "the oldest events were dropped, the stream goes on");
}

#[tokio::test]
async fn collecting_bus_retains_every_emitted_event() {
    let bus = MemoryEventBus::collecting();
    let (a, b) = (SessionId::new(), SessionId::new());
    let mut sub = bus.subscribe(a);
    let emitted = [event(a, "1"), event(b, "2"), event(a, "3")];
    for e in &emitted {
        bus.emit(e.clone());
    }
    let collected = bus.collected_events();
    assert_eq!(collected, emitted.iter().map(|e| Event::clone(e)).collect::<Vec<_>>());
    assert_eq!(next(&mut sub).await.unwrap().id, emitted[0].id, "collecting still delivers");
}

fn task() -> IterationTask {
    IterationTask {
        task_id: Default::default(),
        org_id: OrgId::new(),
        session_id: SessionId::new(),
        turn_id: TurnId::new(),
        input_message_id: MessageId::new(),
        iteration: 1,
    }
}

#[tokio::test]
async fn channel_task_delivery_delivers_in_order() {
    let (delivery, mut receiver) = ChannelTaskDelivery::new();
    let first = task();
    let second = first.next();
    delivery.deliver(first.clone()).await.unwrap();
    delivery.clone().deliver(second.clone()).await.unwrap();
    assert_eq!(receiver.recv().await, Some(first));
    assert_eq!(receiver.recv().await.map(|t| t.iteration), Some(2));
    assert!(receiver.try_recv().is_err());
}

#[tokio::test]
async fn a_completion_on_the_channel_delivers_only_the_next_iteration() {
    let (delivery, mut receiver) = ChannelTaskDelivery::new();
    let first = task();
    assert!(delivery.complete(first.task_id, "worker", None).await.unwrap());
    assert!(receiver.try_recv().is_err(), "a last iteration delivers nothing");
    assert!(delivery.complete(first.task_id, "worker", Some(&first.next())).await.unwrap());
    assert_eq!(receiver.recv().await.map(|t| t.iteration), Some(2));
}

#[tokio::test]
async fn channel_task_delivery_reports_a_dropped_receiver() {
    let (delivery, receiver) = ChannelTaskDelivery::new();
    drop(receiver);
    let result = delivery.deliver(task()).await;
    assert!(matches!(result, Err(PortError::Unavailable(_))), "{result:?}");
}
