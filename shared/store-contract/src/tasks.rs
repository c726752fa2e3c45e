//! Contract of the durable task store: idempotent enqueue, leases and reclaiming, specific claims
//! (finished / leased elsewhere / exhausted), heartbeats, completion that enqueues the next
//! iteration, failure with retry or a terminal outcome given exactly once, reaping, the outbox,
//! and concurrent claimers never sharing a task. Tasks in a shared database may belong to other
//! runs, so the checks only look at the tasks they created.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use everruns_core::ids::{MessageId, SessionId, TaskId, TurnId};
use everruns_core::ports::{ClaimOutcome, FailOutcome, IterationTask, TaskStatus, TaskStore};

use crate::fixtures::fresh_org;

fn task(turn: TurnId, iteration: u32) -> IterationTask {
    IterationTask {
        task_id: TaskId::new(),
        org_id: fresh_org(),
        session_id: SessionId::new(),
        turn_id: turn,
        input_message_id: MessageId::new(),
        iteration,
    }
}

const LEASE: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(30);

async fn lapse() {
    tokio::time::sleep(Duration::from_millis(80)).await;
}

/// The whole task-store contract (single-threaded parts).
pub async fn task_store_contract(store: &dyn TaskStore) {
    // Enqueue is idempotent per (turn, iteration).
    let turn = TurnId::new();
    let first = task(turn, 1);
    assert!(store.enqueue(&first, 3).await.unwrap());
    assert!(!store.enqueue(&first, 3).await.unwrap());
    assert!(!store.enqueue(&IterationTask { task_id: TaskId::new(), ..first.clone() }, 3).await.unwrap());
    assert_eq!(store.status(first.task_id).await.unwrap(), Some(TaskStatus::Pending));
    assert_eq!(store.status(TaskId::new()).await.unwrap(), None);

    // A specific claim leases it; a second claimer sees it leased elsewhere.
    let ClaimOutcome::Claimed(lease) = store.claim(first.task_id, "w1", LEASE).await.unwrap() else {
        panic!("first claim should succeed")
    };
    assert_eq!((lease.attempt, lease.max_attempts, lease.owner.as_str()), (1, 3, "w1"));
    assert_eq!(store.claim(first.task_id, "w2", LEASE).await.unwrap(), ClaimOutcome::LeasedElsewhere);
    assert!(store.heartbeat(first.task_id, "w1", LEASE).await.unwrap());
    assert!(!store.heartbeat(first.task_id, "w2", LEASE).await.unwrap(), "only the owner heartbeats");
    assert!(!store.complete(first.task_id, "w2", None).await.unwrap(), "only the owner completes");

    // Completing enqueues the next iteration in the same step; a finished task acks without work.
    let second = task(turn, 2);
    assert!(store.complete(first.task_id, "w1", Some(&second)).await.unwrap());
    assert_eq!(store.status(first.task_id).await.unwrap(), Some(TaskStatus::Completed));
    assert_eq!(store.status(second.task_id).await.unwrap(), Some(TaskStatus::Pending));
    assert_eq!(store.claim(first.task_id, "w3", LEASE).await.unwrap(), ClaimOutcome::Finished);
    assert_eq!(store.claim(TaskId::new(), "w3", LEASE).await.unwrap(), ClaimOutcome::NotFound);

    // A lapsed lease is reclaimed with the attempt counter up; the old owner can no longer act.
    let ClaimOutcome::Claimed(_) = store.claim(second.task_id, "w1", SHORT).await.unwrap() else { panic!("claim") };
    lapse().await;
    let ClaimOutcome::Claimed(again) = store.claim(second.task_id, "w2", LEASE).await.unwrap() else {
        panic!("a lapsed lease is reclaimable")
    };
    assert_eq!(again.attempt, 2);
    assert!(!store.heartbeat(second.task_id, "w1", LEASE).await.unwrap());
    assert_eq!(store.fail(second.task_id, "w1", "late", Duration::ZERO).await.unwrap(), FailOutcome::NotOwned);

    // Failing retries while attempts remain, then is terminal exactly once.
    assert_eq!(store.fail(second.task_id, "w2", "boom", Duration::ZERO).await.unwrap(), FailOutcome::WillRetry);
    assert_eq!(store.status(second.task_id).await.unwrap(), Some(TaskStatus::Pending));
    let ClaimOutcome::Claimed(third) = store.claim(second.task_id, "w3", LEASE).await.unwrap() else { panic!("claim") };
    assert_eq!(third.attempt, 3);
    assert_eq!(store.fail(second.task_id, "w3", "boom", Duration::ZERO).await.unwrap(), FailOutcome::Terminal);
    assert_eq!(store.status(second.task_id).await.unwrap(), Some(TaskStatus::Dead));
    assert_eq!(store.fail(second.task_id, "w3", "boom", Duration::ZERO).await.unwrap(), FailOutcome::NotOwned);
    assert_eq!(store.claim(second.task_id, "w4", LEASE).await.unwrap(), ClaimOutcome::Finished);

    // A lease that lapses on its last attempt: a specific claim reports it exhausted (once) …
    let one_shot = task(TurnId::new(), 1);
    store.enqueue(&one_shot, 1).await.unwrap();
    let ClaimOutcome::Claimed(_) = store.claim(one_shot.task_id, "w1", SHORT).await.unwrap() else { panic!("claim") };
    lapse().await;
    assert_eq!(store.claim(one_shot.task_id, "w2", LEASE).await.unwrap(), ClaimOutcome::Exhausted(one_shot.clone()));
    assert_eq!(store.claim(one_shot.task_id, "w2", LEASE).await.unwrap(), ClaimOutcome::Finished);
    // … and the reaper finds the others, each once.
    let reaped = task(TurnId::new(), 1);
    store.enqueue(&reaped, 1).await.unwrap();
    let ClaimOutcome::Claimed(_) = store.claim(reaped.task_id, "w1", SHORT).await.unwrap() else { panic!("claim") };
    lapse().await;
    let dead = store.reap_exhausted().await.unwrap();
    assert!(dead.contains(&reaped), "the lapsed last attempt is reaped");
    assert!(!store.reap_exhausted().await.unwrap().contains(&reaped), "…exactly once");
    assert_eq!(store.status(reaped.task_id).await.unwrap(), Some(TaskStatus::Dead));

    // The outbox: pending tasks never published are listed until marked.
    let outbox = task(TurnId::new(), 1);
    store.enqueue(&outbox, 3).await.unwrap();
    assert!(store.unpublished(Duration::ZERO).await.unwrap().contains(&outbox));
    assert!(!store.unpublished(Duration::from_secs(3600)).await.unwrap().contains(&outbox), "too young");
    store.mark_published(outbox.task_id).await.unwrap();
    assert!(!store.unpublished(Duration::ZERO).await.unwrap().contains(&outbox));

    // Abandoning (a dead-lettered delivery): a pending or claimed task becomes dead, once; a
    // finished one is left alone.
    assert_eq!(store.abandon(outbox.task_id).await.unwrap(), Some(outbox.clone()));
    assert_eq!(store.abandon(outbox.task_id).await.unwrap(), None, "exactly once");
    assert_eq!(store.status(outbox.task_id).await.unwrap(), Some(TaskStatus::Dead));
    assert_eq!(store.claim(outbox.task_id, "w1", LEASE).await.unwrap(), ClaimOutcome::Finished);
    let held = task(TurnId::new(), 1);
    store.enqueue(&held, 3).await.unwrap();
    let ClaimOutcome::Claimed(_) = store.claim(held.task_id, "w1", LEASE).await.unwrap() else { panic!("claim") };
    assert_eq!(store.abandon(held.task_id).await.unwrap(), Some(held.clone()));
    assert!(!store.heartbeat(held.task_id, "w1", LEASE).await.unwrap(), "the owner learns it is gone");
    assert_eq!(store.abandon(first.task_id).await.unwrap(), None, "completed tasks stay completed");
    assert_eq!(store.status(first.task_id).await.unwrap(), Some(TaskStatus::Completed));
    assert_eq!(store.abandon(TaskId::new()).await.unwrap(), None);
}

/// Concurrent `claim_next` callers never share a task.
pub async fn concurrent_claim_contract(store: Arc<dyn TaskStore>) {
    let mine: Vec<IterationTask> = (0..20).map(|_| task(TurnId::new(), 1)).collect();
    for t in &mine {
        store.enqueue(t, 3).await.unwrap();
    }
    let ids: HashSet<TaskId> = mine.iter().map(|t| t.task_id).collect();
    let workers: Vec<_> = (0..10)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                for _ in 0..10 {
                    got.extend(
                        store.claim_next(&format!("w{w}"), LEASE, 2).await.unwrap().into_iter().map(|l| l.task.task_id),
                    );
                }
                got
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap().into_iter().filter(|id| ids.contains(id)));
    }
    let unique: HashSet<_> = claimed.iter().collect();
    assert_eq!(unique.len(), claimed.len(), "a task was claimed twice");
    assert_eq!(unique.len(), 20, "every task was claimed");
}
