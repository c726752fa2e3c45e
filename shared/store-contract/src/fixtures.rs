//! Fixtures of the contract suite: fresh ids, rows with explicit timestamps, parent rows, and
//! assertions on the kind of a [`PortError`].

use std::fmt::Debug;

use everruns_core::domain::{Harness, Session};
use everruns_core::events::{ContextCompactingData, EventContext, EventPayload, NewEvent, SessionActivatedData};
use everruns_core::ids::{MessageId, OrgId, SessionId, TaskId, TurnId};
use everruns_core::ports::{IterationTask, PortError, PortResult, Stores};
use everruns_core::time::Timestamp;

/// A fresh organization no other test uses.
pub fn fresh_org() -> OrgId {
    OrgId::new()
}

/// A timestamp `seconds` after `base` (milliseconds), for rows whose order matters.
pub fn at(base: i64, seconds: i64) -> Timestamp {
    Timestamp::from_millis(base + seconds * 1000)
}

/// Inserts a harness named `name` in `org`, for rows that reference one.
pub async fn seed_harness(stores: &Stores, org: OrgId, name: &str) -> Harness {
    let harness = Harness { org_id: org, ..Harness::new(name, Some("base prompt".to_owned())) };
    stores.harnesses.insert_harness(&harness).await.unwrap();
    harness
}

/// Inserts a fresh org's harness and one session on it.
pub async fn seed_session(stores: &Stores) -> Session {
    let org = fresh_org();
    let harness = seed_harness(stores, org, "base").await;
    let session = Session::new(org, harness.id);
    stores.sessions.insert_session(&session).await.unwrap();
    session
}

/// The first task of `turn` in `session` (a fresh id and input message).
pub fn first_task(session: &Session, turn: TurnId) -> IterationTask {
    IterationTask {
        task_id: TaskId::new(),
        org_id: session.organization_id,
        session_id: session.id,
        turn_id: turn,
        input_message_id: MessageId::new(),
        iteration: 1,
    }
}

/// A stored-kind event (`session.activated`) of a turn.
pub fn activated(session: SessionId, turn: TurnId) -> NewEvent {
    let data = SessionActivatedData { turn_id: turn, input_message_id: MessageId::new() };
    NewEvent::new(session, EventContext::for_turn(turn, None), EventPayload::SessionActivated(data))
}

/// A stored-kind event (`context.compacting`) outside any turn.
pub fn compacting(session: SessionId) -> NewEvent {
    let data = ContextCompactingData { reason: "test".to_owned(), strategy: "none".to_owned(), messages_before: 1 };
    NewEvent::new(session, EventContext::default(), EventPayload::ContextCompacting(data))
}

/// Asserts a `Conflict` whose message contains `needle`.
#[track_caller]
pub fn assert_conflict<T: Debug>(result: PortResult<T>, needle: &str) {
    match result {
        Err(PortError::Conflict(message)) => {
            assert!(message.contains(needle), "conflict message {message:?} should mention {needle:?}")
        }
        other => panic!("expected Conflict mentioning {needle:?}, got {other:?}"),
    }
}

/// Asserts a `NotFound` of the given kind.
#[track_caller]
pub fn assert_not_found<T: Debug>(result: PortResult<T>, expected_kind: &str) {
    match result {
        Err(PortError::NotFound { kind, .. }) => assert_eq!(kind, expected_kind, "not-found kind"),
        other => panic!("expected NotFound({expected_kind}), got {other:?}"),
    }
}

/// Asserts an `Invalid` error.
#[track_caller]
pub fn assert_invalid<T: Debug>(result: PortResult<T>) {
    match result {
        Err(PortError::Invalid(_)) => {}
        other => panic!("expected Invalid, got {other:?}"),
    }
}
