//! The turn-ledger contract ([`everruns_core::ports::TurnLedger`]): a turn's start changes the
//! session and stores its first events only together — applied on an idle session with
//! consecutive sequences after what the session already has, nothing written when the change's
//! expectations do not hold, `NotFound` for a session that does not exist (or is another
//! organization's) — and of two starts racing on one session exactly one applies. The task part
//! is checked by the adapters that queue tasks (their own tests), a task handed to a worker as it
//! is committed by [`handed_start_contract`]. A session opened with its first event stores both
//! or neither.

use everruns_core::domain::{Session, SessionStatus};
use everruns_core::events::*;
use everruns_core::ids::{HarnessId, MessageId, SessionId, TurnId};
use everruns_core::ports::{
    EventFilter, HandedTo, PortError, QueuedTask, StatusChange, Stores, TaskStore, TurnLedger, TurnStart,
};

use crate::fixtures::{assert_invalid, assert_not_found, compacting, fresh_org, seed_harness, seed_session};

/// A start of `turn` on a started or idle session, with its three first events.
pub fn start(session: SessionId, turn: TurnId) -> TurnStart {
    let input = MessageId::new();
    let context = EventContext::for_turn(turn, Some(input));
    let event =
        |step: &str, payload| NewEvent::new(session, context.clone(), payload).with_key(format!("{turn}/{step}"));
    TurnStart {
        change: StatusChange {
            expect: vec![SessionStatus::Started, SessionStatus::Idle],
            to: SessionStatus::Active,
            turn: Some(turn),
            preview: Some("hello".into()),
            ..StatusChange::default()
        },
        events: vec![
            event(
                "session.activated",
                EventPayload::SessionActivated(SessionActivatedData { turn_id: turn, input_message_id: input }),
            ),
            event(
                "turn.started",
                EventPayload::TurnStarted(TurnStartedData {
                    turn_id: turn,
                    input_message_id: input,
                    input_content: None,
                }),
            ),
        ],
        task: None,
    }
}

/// The ledger, step by step, then two racing starts.
pub async fn turn_ledger_contract(stores: &Stores) {
    let ledger = stores.turns.as_ref();
    let session = seed_session(stores).await;
    let (org, id) = (session.organization_id, session.id);
    let before = stores.events.append(compacting(id)).await.unwrap().sequence.unwrap();

    let turn = TurnId::new();
    let started = ledger.start_turn(org, id, start(id, turn)).await.unwrap().expect("an idle session starts a turn");
    let stored = started.events;
    let sequences: Vec<_> = stored.iter().map(|e| e.sequence.unwrap()).collect();
    assert_eq!(sequences, vec![before + 1, before + 2], "the start's events follow the session's");
    assert_eq!(stored[1].event_type(), "turn.started");
    assert_eq!(stored[1].idempotency_key.as_deref(), Some(format!("{turn}/turn.started").as_str()));
    let now = stores.sessions.get_session(org, id).await.unwrap().unwrap();
    assert_eq!((now.status, now.current_turn_id), (SessionStatus::Active, Some(turn)));
    assert_eq!(now.preview.as_deref(), Some("hello"));
    if let Some(returned) = started.session {
        assert_eq!(returned, now, "the session a start returns is the session as stored");
    }
    let listed = stores.events.list_events(id, &EventFilter { turn_id: Some(turn), ..EventFilter::default() }).await;
    assert_eq!(listed.unwrap(), stored, "what the start returns is what was stored");
    assert_eq!(stores.events.turn_stage(id, turn).await.unwrap(), TurnStage::Open);

    // The session is active now: a second start changes nothing and stores nothing.
    let other = TurnId::new();
    assert!(ledger.start_turn(org, id, start(id, other)).await.unwrap().is_none());
    let all = stores.events.list_events(id, &EventFilter::default()).await.unwrap();
    assert_eq!(all.last().and_then(|e| e.sequence), Some(before + 2), "a start that did not apply stored nothing");
    assert_eq!(stores.sessions.get_session(org, id).await.unwrap().unwrap().current_turn_id, Some(turn));

    // No such session, or another organization's.
    let missing = SessionId::new();
    assert_not_found(ledger.start_turn(org, missing, start(missing, TurnId::new())).await, "session");
    assert_not_found(ledger.start_turn(fresh_org(), id, start(id, TurnId::new())).await, "session");

    // Events of another session are refused (nothing changes).
    let second = seed_session(stores).await;
    let foreign = start(id, TurnId::new());
    assert_invalid(ledger.start_turn(second.organization_id, second.id, foreign).await);

    // Two starts racing on one idle session: exactly one applies, and only its events are stored.
    let racing = seed_session(stores).await;
    let (a, b) = (TurnId::new(), TurnId::new());
    let (left, right) = tokio::join!(
        ledger.start_turn(racing.organization_id, racing.id, start(racing.id, a)),
        ledger.start_turn(racing.organization_id, racing.id, start(racing.id, b)),
    );
    let (left, right) = (left.unwrap(), right.unwrap());
    assert!(left.is_some() != right.is_some(), "exactly one of two racing starts applies");
    let winner = if left.is_some() { a } else { b };
    let events = stores.events.list_events(racing.id, &EventFilter::default()).await.unwrap();
    let turns: Vec<_> = events.iter().filter_map(|e| e.context.turn_id).collect();
    assert_eq!(turns, vec![winner, winner], "only the winner's events are stored");
    session_opening_contract(stores).await;
}

/// A start whose task is handed to a worker: the task is committed leased to that worker (its
/// first attempt) — no other worker can claim it, its owner's heartbeat holds it, and its owner
/// completes it — and once a lease lapses unanswered (the worker vanished after the handoff) any
/// worker reclaims it, as its second attempt. A start that does not apply leases nothing.
/// `ledger` queues its tasks in `tasks`.
pub async fn handed_start_contract(stores: &Stores, ledger: &dyn TurnLedger, tasks: &dyn TaskStore) {
    use std::time::Duration;
    let session = seed_session(stores).await;
    let (org, id) = (session.organization_id, session.id);
    let handed =
        |owner: &str, lease_ms: u64| Some(HandedTo { owner: owner.to_owned(), lease: Duration::from_millis(lease_ms) });
    let turn = TurnId::new();
    let task = crate::fixtures::first_task(&session, turn);
    let mut first = start(id, turn);
    first.task = Some(QueuedTask { task: task.clone(), max_attempts: 3, handed_to: handed("worker-a", 30_000) });
    ledger.start_turn(org, id, first).await.unwrap().expect("an idle session starts a turn");
    assert!(tasks.claim_next("worker-b", Duration::from_secs(30), 10).await.unwrap().is_empty(), "leased to a");
    assert!(tasks.heartbeat(task.task_id, "worker-a", Duration::from_secs(30)).await.unwrap(), "a holds it");
    assert!(!tasks.heartbeat(task.task_id, "worker-b", Duration::from_secs(30)).await.unwrap());
    assert!(tasks.complete(task.task_id, "worker-a", None).await.unwrap(), "a completes it");

    // A start that does not apply (the session is active) leases nothing.
    let mut refused = start(id, TurnId::new());
    let other = crate::fixtures::first_task(&session, TurnId::new());
    refused.task = Some(QueuedTask { task: other.clone(), max_attempts: 3, handed_to: handed("worker-a", 30_000) });
    assert!(ledger.start_turn(org, id, refused).await.unwrap().is_none());
    assert_eq!(tasks.status(other.task_id).await.unwrap(), None, "nothing queued");

    // The worker vanishes after the handoff: the lapsed lease is reclaimed by another worker.
    let lost = seed_session(stores).await;
    let turn = TurnId::new();
    let task = crate::fixtures::first_task(&lost, turn);
    let mut start_lost = start(lost.id, turn);
    start_lost.task = Some(QueuedTask { task: task.clone(), max_attempts: 3, handed_to: handed("gone", 50) });
    ledger.start_turn(lost.organization_id, lost.id, start_lost).await.unwrap().expect("started");
    tokio::time::sleep(Duration::from_millis(80)).await;
    let reclaimed = tasks.claim_next("worker-b", Duration::from_secs(30), 10).await.unwrap();
    assert_eq!(reclaimed.len(), 1, "the lapsed handoff is claimable");
    assert_eq!((reclaimed[0].task.clone(), reclaimed[0].attempt), (task.clone(), 2), "as the second attempt");
    assert!(!tasks.complete(task.task_id, "gone", None).await.unwrap(), "the vanished worker no longer holds it");
}

/// `session.started` of `session`, keyed as the service keys it.
fn started(session: &Session) -> NewEvent {
    let data = SessionStartedData { harness_id: session.harness_id, agent_id: None, model_id: None };
    NewEvent::new(session.id, EventContext::default(), EventPayload::SessionStarted(data))
        .with_key(format!("{}/session.started", session.id))
}

/// A session opened with its first event: both stored together (or, by a ledger that declines,
/// neither); a known id is a `Conflict` and a missing harness `NotFound`, writing nothing; an event
/// of a turn or of another session is refused.
async fn session_opening_contract(stores: &Stores) {
    let ledger = stores.turns.as_ref();
    let org = fresh_org();
    let harness = seed_harness(stores, org, "opening").await;
    let session = Session::new(org, harness.id);
    let Some(stored) = ledger.open_session(&session, &started(&session)).await.unwrap() else {
        assert!(
            stores.sessions.get_session(org, session.id).await.unwrap().is_none(),
            "a declined opening wrote nothing"
        );
        return;
    };
    assert_eq!((stored.sequence, stored.event_type()), (Some(1), "session.started"));
    assert_eq!(stores.sessions.get_session(org, session.id).await.unwrap().as_ref(), Some(&session));
    let listed = stores.events.list_events(session.id, &EventFilter::default()).await.unwrap();
    assert_eq!(listed, vec![stored], "what the opening returns is what was stored");
    let next = stores.events.append(compacting(session.id)).await.unwrap();
    assert_eq!(next.sequence, Some(2), "the session's next event follows its first");

    let again = ledger.open_session(&session, &started(&session)).await;
    assert!(matches!(again, Err(PortError::Conflict(_))), "{again:?}");
    let orphan = Session::new(org, HarnessId::new());
    assert_not_found(ledger.open_session(&orphan, &started(&orphan)).await, "harness");
    assert!(stores.events.list_events(orphan.id, &EventFilter::default()).await.unwrap().is_empty());
    let fresh = Session::new(org, harness.id);
    assert_invalid(ledger.open_session(&fresh, &started(&session)).await);
    let mut of_a_turn = started(&fresh);
    of_a_turn.event.context = EventContext::for_turn(TurnId::new(), None);
    assert_invalid(ledger.open_session(&fresh, &of_a_turn).await);
    assert!(stores.sessions.get_session(org, fresh.id).await.unwrap().is_none(), "a refused opening wrote nothing");
}
