//! `NATS_URL` on real components: two servers on one PostgreSQL and one NATS JetStream, workers
//! over gRPC, SSE over HTTP.
//!
//! - deltas of a turn posted through server A reach an SSE client on server B; the log holds no
//!   delta and no `llm.generation`;
//! - a task dispatched by A wakes a worker connected to B through NATS (PG NOTIFY is off and the
//!   worker polls once a minute);
//! - NATS unreachable at startup: the fallback serves turns (and stores `llm.generation`);
//! - NATS killed mid-stream: the SSE client is told to reconnect, resumes with `since_id` and
//!   misses no persisted event.
//!
//! Needs `EVERRUNS_TEST_DATABASE_URL`, `EVERRUNS_TEST_NATS_URL` and `EVERRUNS_NATS_SERVER`
//! (scripts/test provides them); fails loudly without them.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{Api, NatsServer, Worker, closed_port, database, durable_vars, required, serve};

const LIVE_ONLY: [&str; 4] = ["output.message.delta", "reason.thinking.delta", "tool.output.delta", "llm.generation"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_sse_client_on_b_sees_the_deltas_of_a_turn_posted_through_a() {
    let nats = required("EVERRUNS_TEST_NATS_URL");
    let db = database().await;
    let mut vars = durable_vars(&db);
    // A cluster list whose first member is down: the live one is used.
    vars.insert("NATS_URL", format!("nats://127.0.0.1:{}, {nats}", closed_port()));
    let (a, b) = (serve(&vars).await, serve(&vars).await);
    let _worker = Worker::spawn(&a.grpc, Duration::from_secs(60));
    let (api_a, api_b) = (Api::new(&a.api), Api::new(&b.api));

    let session = api_a.session("llmsim-slow").await;
    let mut sse = api_b.sse(&session, None).await;
    api_a.say(&session, "tell me a story").await;

    let mut seen = Vec::new();
    while let Some(record) = sse.next(Duration::from_secs(15)).await {
        let done = record.event == "session.idled";
        seen.push(record);
        if done {
            break;
        }
    }
    let types: Vec<&str> = seen.iter().map(|r| r.event.as_str()).collect();
    assert!(types.contains(&"turn.completed"), "B's client saw the whole turn: {types:?}");
    let deltas = types.iter().filter(|t| **t == "output.message.delta").count();
    assert!(deltas >= 5, "B's client saw the deltas produced through A ({deltas}): {types:?}");
    assert!(types.contains(&"llm.generation"), "llm.generation is delivered live: {types:?}");
    assert!(seen.iter().filter(|r| LIVE_ONLY.contains(&r.event.as_str())).all(|r| r.id.is_none()));

    // The persisted events B's client saw are exactly the log, in order; the log holds no
    // live-only type, whichever server is asked.
    let streamed: Vec<String> = seen.iter().filter_map(|r| r.id.clone()).collect();
    for api in [&api_a, &api_b] {
        let events = api.events(&session).await;
        let stored: Vec<String> = events.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(streamed, stored, "the SSE client missed or reordered a persisted event");
        for event in &events {
            assert!(!LIVE_ONLY.contains(&event["type"].as_str().unwrap()), "stored: {event}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_task_dispatched_by_a_wakes_a_worker_on_b_through_nats() {
    let nats = required("EVERRUNS_TEST_NATS_URL");
    let db = database().await;
    let mut vars = durable_vars(&db);
    vars.insert("NATS_URL", nats);
    let (a, b) = (serve(&vars).await, serve(&vars).await);
    // The only worker is B's, and it polls once a minute: only a notification can wake it soon.
    let mut worker = Worker::spawn(&b.grpc, Duration::from_secs(60));
    // Subscribed (and B's NATS relay subscribed while B was built): no time to wait out.
    worker.ready().await;
    let api_a = Api::new(&a.api);

    for round in 0..3 {
        let session = api_a.session("llmsim-echo").await;
        let started = std::time::Instant::now();
        api_a.say(&session, &format!("wake up {round}")).await;
        api_a.wait_for(&session, "turn.completed", Duration::from_secs(10)).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(5), "round {round}: the worker was not woken ({took:?})");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_unreachable_at_startup_falls_back_and_turns_complete() {
    let db = database().await;
    let mut vars = durable_vars(&db);
    vars.insert("NATS_URL", format!("nats://127.0.0.1:{}", closed_port()));
    let started = std::time::Instant::now();
    let server = serve(&vars).await;
    assert!(started.elapsed() < Duration::from_secs(10), "startup does not hang on NATS");
    let _worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    let api = Api::new(&server.api);

    let session = api.session("llmsim-slow").await;
    let mut sse = api.sse(&session, None).await;
    api.say(&session, "fallback please").await;
    let mut types = Vec::new();
    while let Some(record) = sse.next(Duration::from_secs(15)).await {
        let done = record.event == "turn.completed";
        types.push(record.event);
        if done {
            break;
        }
    }
    assert!(types.iter().any(|t| t == "output.message.delta"), "in-memory deltas: {types:?}");
    assert!(types.iter().any(|t| t == "turn.completed"), "{types:?}");
    // The fallback behaves as without NATS: `llm.generation` is stored, deltas are not.
    let stored: Vec<String> = api.events(&session).await.iter().map(|e| e["type"].as_str().unwrap().into()).collect();
    assert!(stored.iter().any(|t| t == "llm.generation"), "{stored:?}");
    assert!(!stored.iter().any(|t| t == "output.message.delta"), "{stored:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nats_killed_mid_stream_the_client_resumes_and_misses_no_persisted_event() {
    let mut nats = NatsServer::start().await;
    let db = database().await;
    let mut vars = durable_vars(&db);
    vars.insert("NATS_URL", nats.url.clone());
    let server = serve(&vars).await;
    let _worker = Worker::spawn(&server.grpc, Duration::from_millis(200));
    let api = Api::new(&server.api);

    // Two turns back to back (~2.6 s each), the client reconnecting like a browser would.
    let session = api.session("llmsim-slow").await;
    let mut sse = api.sse(&session, None).await;
    api.say(&session, "first story").await;
    let mut persisted: Vec<String> = Vec::new();
    let mut last_id: Option<String> = None;
    let (mut deltas, mut reconnects, mut idled, mut killed) = (0, 0, 0, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    while idled < 2 {
        assert!(tokio::time::Instant::now() < deadline, "turns did not complete: {persisted:?}");
        let record = sse.next(Duration::from_secs(10)).await;
        let Some(record) = record.filter(|r| r.event != "disconnecting") else {
            reconnects += 1;
            sse = api.sse(&session, last_id.as_deref()).await;
            continue;
        };
        if let Some(id) = &record.id {
            assert!(!persisted.contains(id), "duplicate {id}");
            persisted.push(id.clone());
            last_id = Some(id.clone());
        }
        match record.event.as_str() {
            "output.message.delta" => {
                deltas += 1;
                if deltas == 3 && !killed {
                    nats.kill();
                    killed = true;
                }
            }
            "session.idled" => {
                idled += 1;
                if idled == 1 {
                    api.say(&session, "second story, NATS is gone").await;
                }
            }
            _ => {}
        }
    }
    assert!(killed && reconnects >= 1, "the kill made the client reconnect ({reconnects})");
    let stored: Vec<String> = api.events(&session).await.iter().map(|e| e["id"].as_str().unwrap().into()).collect();
    let streamed: BTreeSet<&String> = persisted.iter().collect();
    let missing: Vec<&String> = stored.iter().filter(|id| !streamed.contains(id)).collect();
    assert!(missing.is_empty(), "persisted events the client never got: {missing:?}");
    assert_eq!(persisted, stored, "in order");
}
