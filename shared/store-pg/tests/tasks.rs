//! `PgTaskStore` and `PgTaskNotifier` on a fresh database (see `tests/support`): the task-store
//! contract suite, concurrent claims from one pool and from two pools (two "processes"),
//! concurrent reapers, wake-ups through `LISTEN`/`NOTIFY` (also after the listening connection is
//! killed), and tasks deleted with their session.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use everruns_core::ids::{MessageId, OrgId, SessionId, TaskId, TurnId};
use everruns_core::ports::{ClaimOutcome, IterationTask, PortError, TaskStatus, TaskStore};
use everruns_store_contract as contract;
use everruns_store_pg::{PgPool, PgTaskNotifier, PgTaskStore, TaskWake, pool_options};
use support::{server_url, with_database};

const WAIT: Duration = Duration::from_secs(5);

fn task(session: SessionId) -> IterationTask {
    IterationTask {
        task_id: TaskId::new(),
        org_id: OrgId::new(),
        session_id: session,
        turn_id: TurnId::new(),
        input_message_id: MessageId::new(),
        iteration: 1,
    }
}

/// Another pool on the same database: what a second process would have.
async fn second_pool(pool: &PgPool) -> PgPool {
    pool_options().max_connections(4).connect_with((*pool.connect_options()).clone()).await.expect("second pool")
}

/// The next wake-up that is a task, skipping `Poll`s, within [`WAIT`].
async fn next_task(notifier: &mut PgTaskNotifier) -> TaskId {
    tokio::time::timeout(WAIT, async {
        loop {
            if let TaskWake::Task(id) = notifier.recv().await.expect("recv") {
                return id;
            }
        }
    })
    .await
    .expect("a notification within 5 s")
}

#[tokio::test]
async fn task_store() {
    with_database(|_, pool| async move { contract::task_store_contract(&PgTaskStore::new(pool)).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn concurrent_claims() {
    with_database(|_, pool| async move { contract::concurrent_claim_contract(Arc::new(PgTaskStore::new(pool))).await })
        .await;
}

/// Two stores on separate pools claim concurrently: no task is handed out twice, all are.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn two_pools_never_share_a_task() {
    with_database(|_, pool| async move {
        let other = second_pool(&pool).await;
        let stores: [Arc<dyn TaskStore>; 2] =
            [Arc::new(PgTaskStore::new(pool.clone())), Arc::new(PgTaskStore::new(other.clone()))];
        let mine: Vec<IterationTask> = (0..60).map(|_| task(SessionId::new())).collect();
        for t in &mine {
            assert!(stores[0].enqueue(t, 3).await.unwrap());
        }
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let store = stores[w % 2].clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    loop {
                        let leases = store.claim_next(&format!("w{w}"), Duration::from_secs(30), 3).await.unwrap();
                        if leases.is_empty() {
                            return got;
                        }
                        got.extend(leases.into_iter().map(|l| (w, l.task.task_id)));
                    }
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for worker in workers {
            claimed.extend(worker.await.unwrap());
        }
        let ids: HashSet<TaskId> = claimed.iter().map(|(_, id)| *id).collect();
        assert_eq!(ids.len(), claimed.len(), "a task was claimed twice");
        assert_eq!(ids, mine.iter().map(|t| t.task_id).collect::<HashSet<_>>(), "every task was claimed");
        assert!(
            claimed.iter().any(|(w, _)| w % 2 == 0) && claimed.iter().any(|(w, _)| w % 2 == 1),
            "both pools claimed"
        );
        other.close().await;
    })
    .await;
}

/// Reapers on two pools racing over the same lapsed last attempts: each task is reaped once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reapers_reap_each_task_once() {
    with_database(|_, pool| async move {
        let other = second_pool(&pool).await;
        let stores = [PgTaskStore::new(pool.clone()), PgTaskStore::new(other.clone())];
        let mine: Vec<IterationTask> = (0..20).map(|_| task(SessionId::new())).collect();
        for t in &mine {
            stores[0].enqueue(t, 1).await.unwrap();
            let ClaimOutcome::Claimed(_) = stores[0].claim(t.task_id, "w", Duration::from_millis(10)).await.unwrap()
            else {
                panic!("claim")
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let reapers: Vec<_> = (0..6)
            .map(|r| {
                let store = stores[r % 2].clone();
                tokio::spawn(async move { store.reap_exhausted().await.unwrap() })
            })
            .collect();
        let mut reaped = Vec::new();
        for reaper in reapers {
            reaped.extend(reaper.await.unwrap().into_iter().map(|t| t.task_id));
        }
        let unique: HashSet<_> = reaped.iter().copied().collect();
        assert_eq!(unique.len(), reaped.len(), "a task was reaped twice");
        assert_eq!(unique, mine.iter().map(|t| t.task_id).collect::<HashSet<_>>());
        other.close().await;
    })
    .await;
}

/// Enqueuing notifies (once, on commit); completing with a next task notifies for it.
#[tokio::test]
async fn enqueue_and_complete_notify_listeners() {
    with_database(|_, pool| async move {
        let mut notifier = PgTaskNotifier::listen(&pool).await.expect("listen");
        let store = PgTaskStore::new(pool.clone());
        let first = task(SessionId::new());
        assert!(store.enqueue(&first, 3).await.unwrap());
        assert_eq!(next_task(&mut notifier).await, first.task_id);

        // A duplicate notifies nothing: the next notification is the next new task.
        assert!(!store.enqueue(&first, 3).await.unwrap());
        let ClaimOutcome::Claimed(_) = store.claim(first.task_id, "w", Duration::from_secs(30)).await.unwrap() else {
            panic!("claim")
        };
        let second = first.next();
        assert!(store.complete(first.task_id, "w", Some(&second)).await.unwrap());
        assert_eq!(next_task(&mut notifier).await, second.task_id);
        assert_eq!(store.status(second.task_id).await.unwrap(), Some(TaskStatus::Pending));
    })
    .await;
}

/// A store built without NOTIFY (NATS announces tasks instead) inserts and completes silently:
/// the only notification the listener gets comes from a notifying store.
#[tokio::test]
async fn a_store_without_notify_inserts_silently() {
    with_database(|_, pool| async move {
        let mut notifier = PgTaskNotifier::listen(&pool).await.expect("listen");
        let silent = PgTaskStore::without_notify(pool.clone());
        let first = task(SessionId::new());
        assert!(silent.enqueue(&first, 3).await.unwrap());
        let ClaimOutcome::Claimed(_) = silent.claim(first.task_id, "w", Duration::from_secs(30)).await.unwrap() else {
            panic!("claim")
        };
        let second = first.next();
        assert!(silent.complete(first.task_id, "w", Some(&second)).await.unwrap());
        assert_eq!(silent.status(second.task_id).await.unwrap(), Some(TaskStatus::Pending));
        let loud = task(SessionId::new());
        assert!(PgTaskStore::new(pool.clone()).enqueue(&loud, 3).await.unwrap());
        assert_eq!(next_task(&mut notifier).await, loud.task_id, "nothing was notified before it");
    })
    .await;
}

/// A notifier whose connection is killed reports an error or `Poll`, then listens again.
#[tokio::test]
async fn notifier_reconnects_after_its_connection_is_killed() {
    with_database(|_, pool| async move {
        let url = match server_url().rsplit_once('/') {
            Some((server, _)) => format!("{server}/{}", pool.connect_options().get_database().expect("a database")),
            None => panic!("EVERRUNS_TEST_DATABASE_URL has no database path"),
        };
        let mut notifier = PgTaskNotifier::listen_url(&url).await.expect("listen");
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'everruns-task-notifier'",
        )
        .fetch_one(&pool)
        .await
        .expect("terminate the listener");
        assert_eq!(killed, 1);

        let wake = tokio::time::timeout(WAIT, notifier.recv()).await.expect("recv returns");
        assert!(matches!(wake, Ok(TaskWake::Poll) | Err(PortError::Unavailable(_))), "got {wake:?}");
        if wake.is_err() {
            let wake = tokio::time::timeout(WAIT, notifier.recv()).await.expect("recv returns");
            assert_eq!(wake.ok(), Some(TaskWake::Poll), "a new listener reports a possible miss first");
        }
        let store = PgTaskStore::new(pool.clone());
        let fresh = task(SessionId::new());
        store.enqueue(&fresh, 3).await.unwrap();
        assert_eq!(next_task(&mut notifier).await, fresh.task_id);
    })
    .await;
}

#[tokio::test]
async fn listen_url_rejects_a_bad_url() {
    let result = PgTaskNotifier::listen_url("not a url").await;
    assert!(matches!(result, Err(PortError::Invalid(_))), "got {result:?}");
}

/// Deleting a session deletes its tasks (there is no foreign key to cascade).
#[tokio::test]
async fn deleting_a_session_deletes_its_tasks() {
    with_database(|stores, pool| async move {
        let session = contract::fixtures::seed_session(&stores).await;
        let org = session.organization_id;
        let store = PgTaskStore::new(pool);
        let doomed = IterationTask { org_id: org, ..task(session.id) };
        let kept = task(SessionId::new());
        store.enqueue(&doomed, 3).await.unwrap();
        store.enqueue(&kept, 3).await.unwrap();
        assert!(stores.sessions.delete_session(org, session.id).await.unwrap());
        assert_eq!(store.status(doomed.task_id).await.unwrap(), None);
        assert_eq!(store.status(kept.task_id).await.unwrap(), Some(TaskStatus::Pending));
        assert!(!stores.sessions.delete_session(org, session.id).await.unwrap());
    })
    .await;
}
