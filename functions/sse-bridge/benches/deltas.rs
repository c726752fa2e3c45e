//! Delta latency, worker → SSE subscriber: the worker's own event host (`GrpcIterationHost`, the
//! pipelined `EmitEventStream`) emits `output.message.delta` events to server A; an SSE client
//! reads them over HTTP. Each delta's latency is the time from `emit` to the client reading its
//! record (matched by event id).
//!
//! Paths:
//! - in-memory: one server without NATS, the SSE client on it;
//! - NATS, same instance: one server with NATS_URL, the SSE client on it (publish → JetStream →
//!   ordered consumer → SSE);
//! - NATS, cross-instance: servers A and B with NATS_URL, the SSE client on B.
//!
//! Deltas are paced (one every 2 ms) so the figure is latency, not queueing.
//! Run (release): `source scripts/lib/postgres.sh && ensure_postgres; source scripts/lib/nats.sh &&
//! ensure_nats; cargo bench -p everruns-sse-bridge --bench deltas`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use everruns_core::engine::IterationHost;
use everruns_core::events::{EventContext, EventPayload, NewEvent, OutputMessageDeltaData};
use everruns_core::ids::{EventId, OrgId, SessionId, TurnId};
use everruns_worker::DurableWorkerConfig;
use everruns_worker::host::GrpcIterationHost;
use support::{Api, TOKEN, database, durable_vars, required, serve};

const WARMUP: usize = 200;
const MEASURED: usize = 3000;
const PACE: Duration = Duration::from_millis(2);

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn measure(name: &str, emit_to: &support::Server, watch_on: &support::Server) {
    let (api_emit, api_watch) = (Api::new(&emit_to.api), Api::new(&watch_on.api));
    let session = api_emit.session("llmsim-echo").await;
    let session_id = SessionId::parse(&session).unwrap();
    let mut sse = api_watch.sse(&session, None).await;

    let vars: HashMap<&str, String> =
        HashMap::from([("WORKER_GRPC_ADDRESS", emit_to.grpc.clone()), ("WORKER_GRPC_AUTH_TOKEN", TOKEN.to_owned())]);
    let config = DurableWorkerConfig::from_lookup(|name| vars.get(name).cloned());
    let client = everruns_worker::client::connect(&config).await.unwrap();
    let host = GrpcIterationHost::new(client, OrgId::DEFAULT);

    let sent: Arc<Mutex<HashMap<EventId, Instant>>> = Arc::default();
    let total = WARMUP + MEASURED;
    let reader = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(total);
            while latencies.len() < total {
                let Some(record) = sse.next(Duration::from_secs(10)).await else { break };
                let at = Instant::now();
                if record.event != "output.message.delta" {
                    continue;
                }
                let data: serde_json::Value = serde_json::from_str(&record.data).unwrap();
                let id = EventId::parse(data["id"].as_str().unwrap()).unwrap();
                if let Some(start) = sent.lock().unwrap().remove(&id) {
                    latencies.push(at.duration_since(start).as_secs_f64() * 1000.0);
                }
            }
            latencies
        })
    };
    // Let the subscription settle (the NATS consumer is created asynchronously).
    tokio::time::sleep(Duration::from_millis(300)).await;

    let turn = TurnId::new();
    let mut ticks = tokio::time::interval(PACE);
    for i in 0..total {
        ticks.tick().await;
        let payload = EventPayload::OutputMessageDelta(OutputMessageDeltaData {
            turn_id: turn,
            message_id: None,
            delta: format!("token {i} "),
            accumulated: String::new(),
            phase: None,
        });
        let event = NewEvent::new(session_id, EventContext::default(), payload);
        sent.lock().unwrap().insert(event.event.id, Instant::now());
        host.emit(event).await.unwrap();
    }
    host.flush().await.unwrap();
    let latencies = reader.await.unwrap();
    let received = latencies.len();
    let mut measured: Vec<f64> = latencies.into_iter().skip(WARMUP).collect();
    measured.sort_by(f64::total_cmp);
    assert!(!measured.is_empty(), "{name}: no delta arrived");
    println!(
        "{name:<28} received {received}/{total}  p50 {:.3} ms  p90 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
        percentile(&measured, 0.50),
        percentile(&measured, 0.90),
        percentile(&measured, 0.99),
        measured[measured.len() - 1],
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let nats = required("EVERRUNS_TEST_NATS_URL");
        let db = database().await;
        let local = durable_vars(&db);
        let mut with_nats = durable_vars(&db);
        with_nats.insert("NATS_URL", nats);
        println!(
            "delta latency, worker emit → SSE record read ({MEASURED} deltas after {WARMUP} warm-up, one every {PACE:?})"
        );
        let memory = serve(&local).await;
        measure("in-memory (one server)", &memory, &memory).await;
        drop(memory);
        let (a, b) = (serve(&with_nats).await, serve(&with_nats).await);
        measure("NATS, same server", &a, &a).await;
        measure("NATS, server A → server B", &a, &b).await;
    });
}
