//! The concurrency contract: parallel appends to one session get gap-free, distinct sequences,
//! parallel retries of one idempotency key store one event, and parallel conditional status
//! changes with the same expectation have exactly one winner. Run on a multi-threaded runtime.

use std::collections::HashSet;

use everruns_core::domain::SessionStatus;
use everruns_core::ids::TurnId;
use everruns_core::ports::{EventFilter, StatusChange, Stores};
use tokio::task::JoinSet;

use crate::fixtures::{activated, compacting, seed_session};

/// 50 concurrent appends to one session yield sequences `1..=50` with no gap or duplicate, and 10
/// concurrent appends with one idempotency key store a single event that all of them return.
pub async fn concurrent_append_contract(stores: &Stores) {
    let session = seed_session(stores).await.id;
    let mut tasks = JoinSet::new();
    for _ in 0..50 {
        let events = stores.events.clone();
        tasks.spawn(async move { events.append(compacting(session)).await.unwrap() });
    }
    let mut sequences: Vec<i64> = tasks.join_all().await.into_iter().map(|e| e.sequence.unwrap()).collect();
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=50).collect::<Vec<i64>>());
    let listed = stores.events.list_events(session, &EventFilter::default()).await.unwrap();
    assert_eq!(listed.iter().map(|e| e.sequence.unwrap()).collect::<Vec<_>>(), (1..=50).collect::<Vec<i64>>());

    let turn = TurnId::new();
    let mut tasks = JoinSet::new();
    for _ in 0..10 {
        let events = stores.events.clone();
        tasks.spawn(async move { events.append(activated(session, turn).with_key("same-step")).await.unwrap() });
    }
    let results = tasks.join_all().await;
    let ids: HashSet<_> = results.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), 1, "every retry returns the one stored event");
    assert!(results.iter().all(|e| e.sequence == Some(51)));
    assert_eq!(stores.events.list_events(session, &EventFilter::default()).await.unwrap().len(), 51);
}

/// 20 concurrent `change_status` calls with the same expectation: exactly one wins, and the
/// stored session is the winner's.
pub async fn concurrent_change_status_contract(stores: &Stores) {
    let session = seed_session(stores).await;
    let (org, id) = (session.organization_id, session.id);
    let mut tasks = JoinSet::new();
    for _ in 0..20 {
        let sessions = stores.sessions.clone();
        tasks.spawn(async move {
            let turn = TurnId::new();
            let change = StatusChange {
                expect: vec![SessionStatus::Started, SessionStatus::Idle],
                expect_turn: None,
                to: SessionStatus::Active,
                turn: Some(turn),
                ..StatusChange::default()
            };
            (turn, sessions.change_status(org, id, change).await.unwrap())
        });
    }
    let winners: Vec<_> = tasks.join_all().await.into_iter().filter_map(|(turn, won)| won.map(|s| (turn, s))).collect();
    assert_eq!(winners.len(), 1, "exactly one concurrent change may win");
    let (turn, won) = &winners[0];
    assert_eq!(won.current_turn_id, Some(*turn));
    let stored = stores.sessions.get_session(org, id).await.unwrap().unwrap();
    assert_eq!(stored.status, SessionStatus::Active);
    assert_eq!(stored.current_turn_id, Some(*turn));
}
