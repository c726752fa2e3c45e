//! `PgTurnLedger` on a fresh database (see `tests/support`): a turn's start queues its first task
//! in the same statement — claimable at once, announced on `LISTEN`/`NOTIFY` with its events when
//! the ledger notifies, and not queued when the start does not apply — and a turn's end in one
//! statement, declined (nothing written) when the session no longer runs the turn or the fence
//! refuses the run.

mod support;

use std::time::Duration;

use everruns_core::domain::{SessionStatus, TokenUsage};
use everruns_core::engine::TurnEnd;
use everruns_core::events::*;
use everruns_core::ids::{MessageId, SessionId, TaskId, TurnId};
use everruns_core::ports::{EventFilter, Finished, IterationTask, QueuedTask, TaskStore, TurnFinish, TurnLedger};
use everruns_core::turns::idled_event;
use everruns_store_contract::fixtures::{first_task, seed_session};
use everruns_store_contract::turn_start;
use everruns_store_pg::{Appended, PgEventListener, PgTaskNotifier, PgTaskStore, PgTurnLedger, TaskWake};
use support::with_database;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_start_queues_its_task_and_announces_it_with_its_events() {
    with_database(|stores, pool| async move {
        let ledger = PgTurnLedger::new(pool.clone()).notifying_events();
        let tasks = PgTaskStore::new(pool.clone());
        let mut notifier = PgTaskNotifier::listen(&pool).await.unwrap();
        let mut events = PgEventListener::listen(&pool).await.unwrap();
        let session = seed_session(&stores).await;
        let turn = TurnId::new();
        let mut start = turn_start(session.id, turn);
        let task = first_task(&session, turn);
        start.task = Some(QueuedTask { task: task.clone(), max_attempts: 3, handed_to: None });
        let stored = ledger.start_turn(session.organization_id, session.id, start).await.unwrap().unwrap();
        assert_eq!(stored.events.len(), 2);
        let returned = stored.session.expect("the start returns the session it changed");
        assert_eq!(Some(returned), stores.sessions.get_session(session.organization_id, session.id).await.unwrap());

        let claimed = tasks.claim_next("worker-a", Duration::from_secs(30), 10).await.unwrap();
        assert_eq!(claimed.iter().map(|l| l.task.clone()).collect::<Vec<_>>(), vec![task.clone()]);
        assert_eq!(claimed[0].max_attempts, 3);
        let woke = tokio::time::timeout(WAIT, async {
            loop {
                if let TaskWake::Task(id) = notifier.recv().await.expect("recv") {
                    return id;
                }
            }
        })
        .await
        .expect("a task notification");
        assert_eq!(woke, task.task_id);
        let appended = tokio::time::timeout(WAIT, events.recv()).await.unwrap().unwrap().unwrap();
        assert_eq!(appended, (session.id, Appended::Sequences(1, 2)));

        // The session is active: a second start queues nothing.
        let mut again = turn_start(session.id, TurnId::new());
        let other = IterationTask { task_id: TaskId::new(), turn_id: TurnId::new(), ..task.clone() };
        again.task = Some(QueuedTask { task: other, max_attempts: 3, handed_to: None });
        assert!(ledger.start_turn(session.organization_id, session.id, again).await.unwrap().is_none());
        assert!(tasks.claim_next("worker-b", Duration::from_secs(30), 10).await.unwrap().is_empty());
    })
    .await;
}

/// A task handed to a worker as the start commits it is leased to that worker, and not announced.
#[tokio::test]
async fn a_handed_start_leases_its_task_without_a_notification() {
    with_database(|stores, pool| async move {
        let ledger = PgTurnLedger::new(pool.clone());
        let tasks = PgTaskStore::new(pool.clone());
        let mut notifier = PgTaskNotifier::listen(&pool).await.unwrap();
        everruns_store_contract::handed_start_contract(&stores, &ledger, &tasks).await;
        let announced = tokio::time::timeout(Duration::from_millis(200), async {
            loop {
                if let TaskWake::Task(id) = notifier.recv().await.expect("recv") {
                    return id;
                }
            }
        })
        .await;
        assert!(announced.is_err(), "a handed task is not announced: {announced:?}");
    })
    .await;
}

/// A turn's work and outcome, as a worker's last burst carries them.
fn last_burst(session: SessionId, turn: TurnId) -> Vec<NewEvent> {
    let event = |step: &str, payload| {
        NewEvent::new(session, EventContext::for_turn(turn, None), payload).with_key(format!("{turn}/{step}"))
    };
    let done = TurnCompletedData { turn_id: turn, iterations: 1, ..TurnCompletedData::default() };
    vec![
        everruns_store_contract::fixtures::activated(session, turn).with_key(format!("{turn}/work")),
        event("turn.completed", EventPayload::TurnCompleted(done)),
    ]
}

fn end_of(session: SessionId, turn: TurnId, input: MessageId) -> TurnEnd {
    TurnEnd {
        session,
        turn,
        input_message_id: input,
        iterations: 1,
        usage: TokenUsage { input_tokens: 10, output_tokens: 3, ..TokenUsage::default() },
        output_preview: Some("hi".into()),
    }
}

#[tokio::test]
async fn a_turn_ends_in_one_write_or_declines_having_written_nothing() {
    with_database(|stores, pool| async move {
        let ledger = PgTurnLedger::new(pool.clone());
        let session = seed_session(&stores).await;
        let (org, id) = (session.organization_id, session.id);
        let turn = TurnId::new();
        let started = ledger.start_turn(org, id, turn_start(id, turn)).await.unwrap().unwrap();
        let input = MessageId::new();
        let end = end_of(id, turn, input);
        let finish =
            TurnFinish { events: last_burst(id, turn), idled: idled_event(&end, None), end: end.clone(), task: None };
        let Finished::Done { events: stored, .. } = ledger.finish_turn(org, finish).await.unwrap() else {
            panic!("a running turn ends in one write");
        };
        let types: Vec<_> = stored.iter().map(|e| e.event_type()).collect();
        assert_eq!(types, ["session.activated", "turn.completed", "session.idled"]);
        let after = started.events.last().unwrap().sequence.unwrap();
        assert_eq!(stored.iter().map(|e| e.sequence.unwrap()).collect::<Vec<_>>(), [after + 1, after + 2, after + 3]);
        let filter = EventFilter { after_sequence: Some(after), ..Default::default() };
        assert_eq!(
            stores.events.list_events(id, &filter).await.unwrap(),
            stored,
            "what is returned is what was stored (session.idled's usage too)"
        );
        let EventPayload::SessionIdled(idled) = &stored[2].payload else { panic!("session.idled last") };
        assert_eq!(idled.usage, Some(end.usage));
        assert_eq!(idled.iterations, Some(1));
        let now = stores.sessions.get_session(org, id).await.unwrap().unwrap();
        assert_eq!((now.status, now.current_turn_id), (SessionStatus::Idle, None));
        assert_eq!((now.usage, now.output_preview.as_deref()), (Some(end.usage), Some("hi")));
        assert_eq!(stores.events.turn_stage(id, turn).await.unwrap(), TurnStage::Idled);

        // The same end again (a redelivery): the session no longer runs the turn.
        let again =
            TurnFinish { events: last_burst(id, turn), idled: idled_event(&end, None), end: end.clone(), task: None };
        assert!(
            matches!(ledger.finish_turn(org, again).await.unwrap(), Finished::Declined(events) if events.len() == 2)
        );

        // A second turn, cancelled first: its outcome is refused by the fence, nothing is written.
        let second = TurnId::new();
        ledger.start_turn(org, id, turn_start(id, second)).await.unwrap().unwrap();
        let cancel = TurnCancelledData { turn_id: second, reason: None, usage: None };
        let cancelled = NewEvent::new(id, EventContext::for_turn(second, None), EventPayload::TurnCancelled(cancel))
            .with_key(format!("{second}/turn.cancelled"));
        let cancelled = stores.events.append(cancelled).await.unwrap();
        let end = end_of(id, second, input);
        let refused =
            TurnFinish { events: last_burst(id, second), idled: idled_event(&end, None), end: end.clone(), task: None };
        assert!(matches!(ledger.finish_turn(org, refused).await.unwrap(), Finished::Declined(_)));
        let last = stores.events.list_events(id, &EventFilter::default()).await.unwrap();
        assert_eq!(last.last().map(|e| e.id), Some(cancelled.id), "nothing was written");
        assert_eq!(stores.sessions.get_session(org, id).await.unwrap().unwrap().status, SessionStatus::Active);
        // session.idled alone is admitted after the cancel: one write.
        let alone = TurnFinish { events: Vec::new(), idled: idled_event(&end, None), end, task: None };
        let Finished::Done { events: stored, .. } = ledger.finish_turn(org, alone).await.unwrap() else {
            panic!("session.idled after a cancel ends the turn in one write");
        };
        assert_eq!(stored.len(), 1);
        let EventPayload::SessionIdled(idled) = &stored[0].payload else { panic!("session.idled") };
        let total = TokenUsage { input_tokens: 20, output_tokens: 6, ..TokenUsage::default() };
        assert_eq!(idled.usage, Some(total), "the session's usage, both turns added");
        assert_eq!(stores.sessions.get_session(org, id).await.unwrap().unwrap().usage, Some(total));
    })
    .await;
}

#[tokio::test]
async fn a_turn_end_completes_the_task_its_owner_still_holds() {
    with_database(|stores, pool| async move {
        let ledger = PgTurnLedger::new(pool.clone());
        let tasks = PgTaskStore::new(pool.clone());
        let session = seed_session(&stores).await;
        let (org, id) = (session.organization_id, session.id);
        for (owner, ending_owner, completes) in [("worker-a", "worker-a", true), ("worker-b", "worker-x", false)] {
            let turn = TurnId::new();
            let input = MessageId::new();
            let task = first_task(&session, turn);
            let mut start = turn_start(id, turn);
            start.task = Some(QueuedTask { task: task.clone(), max_attempts: 3, handed_to: None });
            ledger.start_turn(org, id, start).await.unwrap().unwrap();
            let leased = tasks.claim_next(owner, Duration::from_secs(30), 10).await.unwrap();
            assert_eq!(leased.len(), 1);
            let end = end_of(id, turn, input);
            let finish = TurnFinish {
                events: last_burst(id, turn),
                idled: idled_event(&end, None),
                end,
                task: Some((task.task_id, ending_owner.to_owned())),
            };
            let Finished::Done { task_completed, .. } = ledger.finish_turn(org, finish).await.unwrap() else {
                panic!("the turn ends in one write");
            };
            assert_eq!(task_completed, completes, "owner {owner}, named by the end as {ending_owner}");
            // The owner's own completion finds the task completed already, or completes it now.
            assert_eq!(tasks.complete(task.task_id, owner, None).await.unwrap(), !completes);
        }
    })
    .await;
}

/// Deleting a session deletes its events, fences and sequence counter (no foreign key cascades
/// them), including an append that committed while the delete waited for the session's row.
#[tokio::test]
async fn deleting_a_session_leaves_none_of_its_rows_behind() {
    with_database(|stores, pool| async move {
        let ledger = PgTurnLedger::new(pool.clone());
        let session = seed_session(&stores).await;
        let org = session.organization_id;
        let turn = TurnId::new();
        ledger.start_turn(org, session.id, turn_start(session.id, turn)).await.unwrap().unwrap();
        let other = seed_session(&stores).await;
        let other_turn = turn_start(other.id, TurnId::new());
        ledger.start_turn(other.organization_id, other.id, other_turn).await.unwrap().unwrap();
        let rows = |table: &'static str, id: SessionId| {
            let pool = pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {table} WHERE session_id = $1"
                )))
                .bind(id.uuid())
                .fetch_one(&pool)
                .await
                .unwrap()
            }
        };
        assert!(rows("events", session.id).await > 0 && rows("turn_fences", session.id).await > 0);
        let kept = (rows("events", other.id).await, rows("turn_fences", other.id).await);

        // An append in flight: it holds the session row as appends do, and commits a row only
        // after the delete has started waiting for that row.
        let mut append = pool.begin().await.unwrap();
        sqlx::query("SELECT id FROM sessions WHERE id = $1 FOR KEY SHARE")
            .bind(session.id.uuid())
            .execute(&mut *append)
            .await
            .unwrap();
        let deleting = tokio::spawn({
            let sessions = stores.sessions.clone();
            async move { sessions.delete_session(org, session.id).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!deleting.is_finished(), "the delete waits for the append's lock");
        sqlx::query(
            "INSERT INTO events (id, session_id, sequence, event_type, data, ts) \
             VALUES ($1, $2, 1000, 'session.activated', '{}', now())",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(session.id.uuid())
        .execute(&mut *append)
        .await
        .unwrap();
        append.commit().await.unwrap();
        assert!(deleting.await.unwrap().unwrap());

        for table in ["events", "turn_fences", "event_sequences"] {
            assert_eq!(rows(table, session.id).await, 0, "{table} rows of the deleted session");
        }
        let still = (rows("events", other.id).await, rows("turn_fences", other.id).await);
        assert_eq!(still, kept, "another session's rows stay");
        assert_eq!(rows("event_sequences", other.id).await, 1);
    })
    .await;
}
