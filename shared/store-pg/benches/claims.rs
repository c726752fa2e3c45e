//! Benchmark: task claim throughput of `PgTaskStore` — 5,000 tasks enqueued, then 4 concurrent
//! claimers each `claim_next(max = 50)` and complete every task they get, until all are done.
//! Reports claims+completions per second. Needs `EVERRUNS_TEST_DATABASE_URL` (a scratch database
//! is created and dropped).
//!
//! `cargo bench -p everruns-store-pg --bench claims`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use everruns_core::ids::{MessageId, OrgId, SessionId, TaskId, TurnId};
use everruns_core::ports::{IterationTask, TaskStore};
use everruns_store_pg::PgTaskStore;

const TASKS: usize = 5_000;
const CLAIMERS: usize = 4;
const BATCH: usize = 50;

fn main() {
    if std::env::var("EVERRUNS_TEST_DATABASE_URL").is_err() {
        println!("claims: skipped (set EVERRUNS_TEST_DATABASE_URL)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    rt.block_on(async move {
        let url = everruns_testkit::db::fresh_database().await;
        let pool = everruns_store_pg::connect(&url).await.expect("connect");
        everruns_store_pg::migrate(&pool).await.expect("migrate");
        let store = Arc::new(PgTaskStore::new(pool.clone()));
        let org = OrgId::new();
        let started = Instant::now();
        for _ in 0..TASKS {
            let task = IterationTask {
                task_id: TaskId::new(),
                org_id: org,
                session_id: SessionId::new(),
                turn_id: TurnId::new(),
                input_message_id: MessageId::new(),
                iteration: 1,
            };
            store.enqueue(&task, 3).await.expect("enqueue");
        }
        let enqueue = started.elapsed();
        let done = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let claimers: Vec<_> = (0..CLAIMERS)
            .map(|i| {
                let (store, done) = (store.clone(), done.clone());
                tokio::spawn(async move {
                    let owner = format!("bench-{i}");
                    loop {
                        let leases = store.claim_next(&owner, Duration::from_secs(30), BATCH).await.expect("claim");
                        if leases.is_empty() {
                            break;
                        }
                        for lease in leases {
                            store.complete(lease.task.task_id, &owner, None).await.expect("complete");
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for claimer in claimers {
            claimer.await.expect("claimer");
        }
        let elapsed = started.elapsed();
        let completed = done.load(Ordering::Relaxed);
        println!("task claims on PostgreSQL ({TASKS} tasks, {CLAIMERS} claimers, batches of {BATCH}):");
        println!(
            "  enqueue {:.0} tasks/s | claim + complete {:.0} tasks/s ({completed} done in {:.2} s)",
            TASKS as f64 / enqueue.as_secs_f64(),
            completed as f64 / elapsed.as_secs_f64(),
            elapsed.as_secs_f64()
        );
        pool.close().await;
        everruns_testkit::db::drop_database(&url).await;
    });
}
