//! `DATABASE_IDLE_RELEASE_SECS` on real PostgreSQL: after the window without activity the
//! instance holds 0 database connections (its pool, its `LISTEN` sessions and its background loops
//! all let go), and the next request, stream and turn work as before — then it lets go again.
//!
//! Needs `EVERRUNS_TEST_DATABASE_URL` (scripts/test provides it).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use sqlx::Connection;
use support::{Api, Worker, database, durable_vars, required, serve};

/// Connections open to `database` (any application), as PostgreSQL counts them.
async fn connections(database: &str) -> i64 {
    let admin = required("EVERRUNS_TEST_DATABASE_URL");
    let name = database.rsplit('/').next().unwrap();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn wait_for_zero(database: &str, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let open = connections(database).await;
        if open == 0 {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{open} connections still open after {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_instance_releases_every_connection_and_wakes_on_the_next_request() {
    let db = database().await;
    let mut vars = durable_vars(&db);
    vars.insert("DATABASE_IDLE_RELEASE_SECS", "2".to_owned());
    let server = serve(&vars).await;
    let api = Api::new(&server.api);
    // Startup migrated and seeded; a request now keeps it awake for 2 s more.
    api.get("/v1/agents").await;
    assert!(connections(&db).await > 0, "the instance uses the database while awake");
    let released = wait_for_zero(&db, Duration::from_secs(10)).await;
    eprintln!("no connection {released:?} after the last request");

    // The next request and a whole turn work (the worker's calls keep it awake meanwhile).
    let session = api.session("llmsim-echo").await;
    let worker = Worker::spawn(&server.grpc, Duration::from_millis(200));
    api.say(&session, "are you there?").await;
    api.wait_for(&session, "session.idled", Duration::from_secs(10)).await;
    let events = api.events(&session).await;
    let answer = events.iter().find(|e| e["type"] == "output.message.completed").unwrap();
    assert_eq!(answer["data"]["message"]["content"][0]["text"], "Echo: are you there?");

    // Stays dormant-capable: once the worker is gone and nothing happens, it lets go again.
    drop(worker);
    wait_for_zero(&db, Duration::from_secs(15)).await;
    api.get(&format!("/v1/sessions/{session}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_setting_the_instance_keeps_its_connections() {
    let db = database().await;
    let server = serve(&durable_vars(&db)).await;
    Api::new(&server.api).get("/v1/agents").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(connections(&db).await > 0, "LISTEN and the pool stay connected by default");
}
