//! The turn-fence contract ([`everruns_core::events::FenceClass`]): the first terminal outcome of
//! a turn wins, nothing of the turn's work is stored after it (the cancellation's own events
//! excepted), `session.idled` is the turn's last event, a replayed key is still answered, other
//! turns and turnless events are untouched, and racing outcomes leave exactly one. Run the race on
//! a multi-threaded runtime.

use everruns_core::events::*;
use everruns_core::ids::{SessionId, TurnId};
use everruns_core::ports::{EventFilter, PortError, PortResult, Stores};
use tokio::task::JoinSet;

use crate::fixtures::{activated, compacting, seed_session};

fn in_turn(session: SessionId, turn: TurnId, payload: EventPayload, step: &str) -> NewEvent {
    NewEvent::new(session, EventContext::for_turn(turn, None), payload).with_key(format!("{turn}/{step}"))
}

fn completed(session: SessionId, turn: TurnId) -> NewEvent {
    let data = TurnCompletedData { turn_id: turn, iterations: 1, ..TurnCompletedData::default() };
    in_turn(session, turn, EventPayload::TurnCompleted(data), "turn.completed")
}

fn cancelled(session: SessionId, turn: TurnId) -> NewEvent {
    let data = TurnCancelledData { turn_id: turn, reason: None, usage: None };
    in_turn(session, turn, EventPayload::TurnCancelled(data), "turn.cancelled")
}

fn idled(session: SessionId, turn: TurnId) -> NewEvent {
    let data = SessionIdledData { turn_id: turn, iterations: Some(1), usage: None };
    in_turn(session, turn, EventPayload::SessionIdled(data), "session.idled")
}

fn cancellation_message(session: SessionId, turn: TurnId) -> NewEvent {
    in_turn(session, turn, everruns_core::engine::cancellation_message(), CANCELLATION_MESSAGE_STEP)
}

#[track_caller]
fn assert_ended<T: std::fmt::Debug>(result: PortResult<T>, what: &str) {
    assert!(matches!(result, Err(PortError::TurnEnded(_))), "{what}: expected TurnEnded, got {result:?}");
}

/// The fence, step by step, on both kinds of ending.
pub async fn turn_fence_contract(stores: &Stores) {
    let store = stores.events.as_ref();
    let session = seed_session(stores).await.id;

    // A completed turn: work before, the outcome, nothing after but session.idled, then nothing.
    let turn = TurnId::new();
    assert_eq!(store.turn_stage(session, turn).await.unwrap(), TurnStage::Open);
    store.append(activated(session, turn)).await.unwrap();
    let done = store.append(completed(session, turn)).await.unwrap();
    assert_eq!(store.turn_stage(session, turn).await.unwrap(), TurnStage::Ended);
    assert_ended(store.append(activated(session, turn)).await, "work after turn.completed");
    assert_ended(store.append(cancelled(session, turn)).await, "a second outcome");
    assert_ended(store.append(cancellation_message(session, turn)).await, "a cancellation tail without a cancel");
    assert_eq!(store.append(completed(session, turn)).await.unwrap(), done, "a replayed outcome is answered");
    let last = store.append(idled(session, turn)).await.unwrap();
    assert_eq!(store.turn_stage(session, turn).await.unwrap(), TurnStage::Idled);
    assert_ended(store.append(activated(session, turn)).await, "work after session.idled");
    assert_eq!(store.append(idled(session, turn)).await.unwrap(), last, "a replayed session.idled is answered");

    // A cancelled turn: its own tail is admitted after turn.cancelled, other work is not.
    let turn = TurnId::new();
    store.append(activated(session, turn)).await.unwrap();
    store.append(cancelled(session, turn)).await.unwrap();
    assert_eq!(store.turn_stage(session, turn).await.unwrap(), TurnStage::Cancelled);
    assert_ended(store.append(activated(session, turn)).await, "work after turn.cancelled");
    assert_ended(store.append(completed(session, turn)).await, "completion after a cancel");
    let cancelled_result = ToolCompletedData::cancelled("call_1".into(), "t".into());
    store
        .append(in_turn(session, turn, EventPayload::ToolCompleted(cancelled_result), "1/tool.completed/call_1"))
        .await
        .unwrap();
    store.append(cancellation_message(session, turn)).await.unwrap();
    store.append(idled(session, turn)).await.unwrap();
    // Other turns and events outside any turn are not affected.
    store.append(activated(session, TurnId::new())).await.unwrap();
    store.append(compacting(session)).await.unwrap();

    // The batch append honours the fence too.
    let turn = TurnId::new();
    store.append(activated(session, turn)).await.unwrap();
    store.append(cancelled(session, turn)).await.unwrap();
    let batch = vec![activated(session, turn).with_key("b1"), activated(session, turn).with_key("b2")];
    assert_ended(store.append_all(batch).await, "a batch of work after the cancel");
    assert_eq!(store.get_by_key(session, "b1").await.unwrap(), None, "nothing of a refused batch is stored");
}

/// Completion, cancellation and more work of one turn, 20 times at once: exactly one terminal
/// outcome is stored, nothing but the winner's tail follows it, and sequences stay gap-free.
pub async fn concurrent_fence_contract(stores: &Stores) {
    for _ in 0..20 {
        let session = seed_session(stores).await.id;
        let turn = TurnId::new();
        stores.events.append(activated(session, turn)).await.unwrap();
        let mut tasks = JoinSet::new();
        for i in 0..6 {
            let events = stores.events.clone();
            tasks.spawn(async move {
                let event = match i % 3 {
                    0 => completed(session, turn),
                    1 => cancelled(session, turn),
                    _ => activated(session, turn).with_key(format!("{turn}/work/{i}")),
                };
                events.append(event).await
            });
        }
        for result in tasks.join_all().await {
            assert!(matches!(result, Ok(_) | Err(PortError::TurnEnded(_))), "{result:?}");
        }
        let events = stores.events.list_events(session, &EventFilter::default()).await.unwrap();
        let terminal: Vec<_> = events
            .iter()
            .filter(|e| matches!(e.payload, EventPayload::TurnCompleted(_) | EventPayload::TurnCancelled(_)))
            .collect();
        assert_eq!(terminal.len(), 1, "one outcome: {:?}", events.iter().map(Event::event_type).collect::<Vec<_>>());
        assert_eq!(events.last().map(|e| e.id), terminal.first().map(|e| e.id), "nothing of the work after it");
        let sequences: Vec<i64> = events.iter().map(|e| e.sequence.unwrap()).collect();
        assert_eq!(sequences, (1..=events.len() as i64).collect::<Vec<_>>());
    }
}
