//! Event notifications of a notifying store (what an API function's appends tell the bridge): a
//! burst stored by one statement is announced once, as its run of sequences; a single append by
//! its id.

mod support;

use std::time::Duration;

use everruns_store_contract::fixtures::{compacting, seed_session};
use everruns_store_pg::{Appended, PgEventListener, pg_stores_notifying};
use support::with_database;

#[tokio::test]
async fn a_burst_is_announced_once_and_a_single_event_by_its_id() {
    with_database(|stores, pool| async move {
        let notifying = pg_stores_notifying(pool.clone());
        let mut listener = PgEventListener::listen(&pool).await.unwrap();
        let session = seed_session(&stores).await.id;
        let burst = (0..3).map(|_| compacting(session)).collect();
        let stored = notifying.events.append_all(burst).await.unwrap();
        assert_eq!(stored.iter().map(|e| e.sequence.unwrap()).collect::<Vec<_>>(), [1, 2, 3]);
        let single = notifying.events.append(compacting(session)).await.unwrap();
        let mut received = Vec::new();
        for _ in 0..2 {
            let got = tokio::time::timeout(Duration::from_secs(5), listener.recv()).await.unwrap().unwrap();
            received.push(got.unwrap());
        }
        assert_eq!(received, [(session, Appended::Sequences(1, 3)), (session, Appended::Event(single.id))]);
        // Nothing more: one notification for the burst, not one per event.
        assert!(tokio::time::timeout(Duration::from_millis(300), listener.recv()).await.is_err());
    })
    .await;
}
