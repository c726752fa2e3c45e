//! The `EventStore` contract: gap-free sequences from 1, idempotency keys, ephemeral events
//! rejected, duplicate ids refused, reads per session, and every list filter.

use everruns_core::events::{Event, EventContext, EventPayload, NewEvent, OutputMessageDeltaData};
use everruns_core::ids::{EventId, TurnId};
use everruns_core::ports::{EventFilter, PortError, Stores};

use crate::fixtures::{activated, assert_invalid, compacting, seed_session};

fn sequences(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.sequence.unwrap_or(-1)).collect()
}

/// Checks an [`EventStore`](everruns_core::ports::EventStore) (the stores are needed to create
/// the sessions events belong to).
pub async fn event_store_contract(stores: &Stores) {
    let store = stores.events.as_ref();
    let session = seed_session(stores).await.id;
    let other_session = seed_session(stores).await.id;
    let (turn_a, turn_b) = (TurnId::new(), TurnId::new());

    // Appends get 1, 2, 3…; the given sequence is ignored; the rest of the event is kept.
    let mut first = activated(session, turn_a);
    first.event.sequence = Some(99);
    first.event.tags = vec!["t".to_owned()];
    first.event.metadata = Some(serde_json::json!({"source": "contract", "weights": [1, 2.5, null]}));
    let stored = store.append(first.clone()).await.unwrap();
    assert_eq!(stored, Event { sequence: Some(1), ..first.event.clone() });
    // Read back, every column is what was given (context, tags and metadata included).
    assert_eq!(store.get_event(session, stored.id).await.unwrap(), Some(stored.clone()));
    let e2 = store.append(compacting(session)).await.unwrap();
    let e3 = store.append(activated(session, turn_b)).await.unwrap();
    let e4 = store.append(compacting(session).with_key("turn-b/1/reason")).await.unwrap();
    let e5 = store.append(activated(session, turn_a)).await.unwrap();
    assert_eq!(sequences(&[e2.clone(), e3.clone(), e4.clone(), e5.clone()]), [2, 3, 4, 5]);

    // Another session has its own sequence.
    let foreign = store.append(compacting(other_session).with_key("turn-b/1/reason")).await.unwrap();
    assert_eq!(foreign.sequence, Some(1), "sequences are per session; keys are per session");

    // Stored events record the key they were stored under, whether given on the envelope only.
    assert_eq!(e4.idempotency_key.as_deref(), Some("turn-b/1/reason"));
    assert_eq!(stored.idempotency_key, None);
    let mut envelope_only = compacting(other_session);
    envelope_only.idempotency_key = Some("envelope-key".to_owned());
    let keyed = store.append(envelope_only).await.unwrap();
    assert_eq!((keyed.sequence, keyed.idempotency_key.as_deref()), (Some(2), Some("envelope-key")));
    assert_eq!(store.get_by_key(other_session, "envelope-key").await.unwrap(), Some(keyed.clone()));

    // Idempotency: the same key returns the stored event unchanged and stores nothing.
    let retry = store.append(activated(session, turn_b).with_key("turn-b/1/reason")).await.unwrap();
    assert_eq!(retry, e4);
    // A replay of the very same event (its id and its key) is answered the same way.
    let replay = NewEvent { event: Event { sequence: None, ..e4.clone() }, idempotency_key: None };
    assert_eq!(store.append(replay).await.unwrap(), e4);
    assert_eq!(store.get_by_key(session, "turn-b/1/reason").await.unwrap(), Some(e4.clone()));
    assert_eq!(store.get_by_key(session, "unknown").await.unwrap(), None);
    assert_eq!(store.get_by_key(other_session, "turn-b/1/reason").await.unwrap(), Some(foreign.clone()));

    // Ephemeral events are never stored.
    let delta = OutputMessageDeltaData {
        turn_id: turn_a,
        message_id: None,
        delta: "Hel".to_owned(),
        accumulated: "Hel".to_owned(),
        phase: None,
    };
    let ephemeral =
        NewEvent::new(session, EventContext::for_turn(turn_a, None), EventPayload::OutputMessageDelta(delta));
    assert_invalid(store.append(ephemeral.clone()).await);
    assert_invalid(store.append(ephemeral.with_key("delta-key")).await);
    assert_eq!(store.get_by_key(session, "delta-key").await.unwrap(), None);

    // An event id is stored once.
    let duplicate_id = NewEvent { event: e2.clone(), idempotency_key: None };
    let result = store.append(duplicate_id).await;
    assert!(matches!(result, Err(PortError::Conflict(_))), "duplicate event id: {result:?}");

    // Nothing above added a row: 1..=5, in order.
    let all = store.list_events(session, &EventFilter::default()).await.unwrap();
    assert_eq!(sequences(&all), [1, 2, 3, 4, 5]);
    assert_eq!(all[1], e2);
    assert_eq!(store.list_events(other_session, &EventFilter::default()).await.unwrap(), vec![foreign.clone(), keyed]);

    // Point reads are per session.
    assert_eq!(store.get_event(session, e3.id).await.unwrap(), Some(e3.clone()));
    assert_eq!(store.get_event(other_session, e3.id).await.unwrap(), None);
    assert_eq!(store.get_event(session, EventId::new()).await.unwrap(), None);

    // Filters.
    let list = |filter: EventFilter| async move { sequences(&store.list_events(session, &filter).await.unwrap()) };
    assert_eq!(list(EventFilter { after_sequence: Some(2), ..EventFilter::default() }).await, [3, 4, 5]);
    assert_eq!(list(EventFilter { before_sequence: Some(3), ..EventFilter::default() }).await, [1, 2]);
    assert_eq!(
        list(EventFilter { after_sequence: Some(1), before_sequence: Some(5), ..EventFilter::default() }).await,
        [2, 3, 4]
    );
    assert_eq!(list(EventFilter { after_id: Some(e3.id), ..EventFilter::default() }).await, [4, 5]);
    assert_eq!(list(EventFilter { turn_id: Some(turn_a), ..EventFilter::default() }).await, [1, 5]);
    assert_eq!(list(EventFilter { turn_id: Some(turn_b), ..EventFilter::default() }).await, [3]);
    let activated_type = e3.event_type().to_owned();
    let compacting_type = e2.event_type().to_owned();
    assert_eq!(list(EventFilter { types: vec![activated_type.clone()], ..EventFilter::default() }).await, [1, 3, 5]);
    assert_eq!(list(EventFilter { exclude: vec![activated_type.clone()], ..EventFilter::default() }).await, [2, 4]);
    assert_eq!(
        list(EventFilter {
            types: vec![activated_type.clone(), compacting_type],
            exclude: vec![activated_type.clone()],
            ..EventFilter::default()
        })
        .await,
        [2, 4],
        "exclude wins over types"
    );
    assert_eq!(
        list(EventFilter { limit: Some(2), ..EventFilter::default() }).await,
        [4, 5],
        "the last N, oldest first"
    );
    assert_eq!(list(EventFilter { limit: Some(10), ..EventFilter::default() }).await, [1, 2, 3, 4, 5]);
    assert_eq!(
        list(EventFilter { types: vec![activated_type], limit: Some(2), ..EventFilter::default() }).await,
        [3, 5],
        "limit applies after the other filters"
    );
    assert_eq!(
        list(EventFilter {
            after_sequence: Some(1),
            before_sequence: Some(4),
            limit: Some(1),
            ..EventFilter::default()
        })
        .await,
        [3]
    );
    assert!(list(EventFilter { after_sequence: Some(5), ..EventFilter::default() }).await.is_empty());

    append_all_contract(stores).await;
}

/// `append_all`: consecutive sequences after the session's last one, in the given order; a key
/// stored before answers with its event while the others are stored.
async fn append_all_contract(stores: &Stores) {
    let store = stores.events.as_ref();
    let session = seed_session(stores).await.id;
    let turn = TurnId::new();
    let first = store.append(compacting(session)).await.unwrap();
    let batch = vec![activated(session, turn).with_key("all/1"), compacting(session), activated(session, turn)];
    let ids: Vec<EventId> = batch.iter().map(|e| e.event.id).collect();
    let stored = store.append_all(batch).await.unwrap();
    assert_eq!(sequences(&stored), [2, 3, 4]);
    assert_eq!(stored.iter().map(|e| e.id).collect::<Vec<_>>(), ids);
    assert_eq!(stored[0].idempotency_key.as_deref(), Some("all/1"));
    assert_eq!(
        store.list_events(session, &EventFilter::default()).await.unwrap(),
        [vec![first], stored.clone()].concat()
    );

    // A replayed key inside a batch: its event is the stored one, the rest are appended.
    let replay = vec![compacting(session), activated(session, turn).with_key("all/1")];
    let again = store.append_all(replay).await.unwrap();
    assert_eq!(again[1], stored[0]);
    assert_eq!(sequences(&again), [5, 2]);
    assert!(store.append_all(Vec::new()).await.unwrap().is_empty());
}
