//! Cancel latency in the container deployment: `POST /cancel` → the worker drops the driver's
//! stream. A server on PostgreSQL and a worker over gRPC (task heartbeat at its 5 s default, so
//! the figure is the pushed `WatchTurn` path); the worker's llmsim driver is wrapped to record
//! when each chunk is handed to the engine and when the stream is dropped.
//!
//! Per run: a fresh `llmsim-slow` session (200 ms to the first token, then one word every 60 ms
//! for ~2.6 s), an SSE client, the message, the first delta, 200–400 ms more, then the cancel.
//! Reported: cancel sent → stream dropped (p50/p99), cancel sent → session idle as read over
//! REST, and chunks the driver yielded after the cancel was sent (target: none beyond the one in
//! flight).
//! Run (release): `source scripts/lib/postgres.sh && ensure_postgres;
//! cargo bench -p everruns-sse-bridge --bench cancel`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use everruns_core::driver::{ChatChunk, ChatDriver, ChatRequest, ChatStream, DriverError};
use everruns_core::llmsim_driver::{LlmSimConfig, LlmSimDriver};
use everruns_core::{CapabilityRegistry, DriverId, DriverRegistry, PlatformDefinition};
use everruns_worker::{DurableWorkerConfig, WorkerAppBuilder};
use futures::Stream;
use serde_json::json;
use support::{Api, TOKEN, database, durable_vars, serve};

const RUNS: usize = 40;

/// When chunks were yielded and when streams were dropped, across the process.
static CHUNKS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());
static DROPS: Mutex<Vec<Instant>> = Mutex::new(Vec::new());

struct Timed(ChatStream);

impl Stream for Timed {
    type Item = Result<ChatChunk, DriverError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.0.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(ChatChunk::TextDelta(_)))) = &item {
            CHUNKS.lock().unwrap().push(Instant::now());
        }
        item
    }
}

impl Drop for Timed {
    fn drop(&mut self) {
        DROPS.lock().unwrap().push(Instant::now());
    }
}

struct TimedDriver(LlmSimDriver);

#[async_trait::async_trait]
impl ChatDriver for TimedDriver {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        Ok(Box::pin(Timed(self.0.chat_stream(request).await?)))
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let server = serve(&durable_vars(&database().await)).await;
        let mut drivers = DriverRegistry::new();
        drivers.register(DriverId::LlmSim, |config| {
            Box::new(TimedDriver(LlmSimDriver::new(LlmSimConfig::for_model(&config.model), config.model.clone())))
        });
        let vars: HashMap<&str, String> = HashMap::from([
            ("WORKER_GRPC_ADDRESS", server.grpc.clone()),
            ("WORKER_GRPC_AUTH_TOKEN", TOKEN.to_owned()),
            ("DEPLOYMENT_GRADE", "dev".to_owned()),
        ]);
        let config = DurableWorkerConfig::from_lookup(|name| vars.get(name).cloned());
        let platform = PlatformDefinition::new(CapabilityRegistry::with_builtins(), drivers);
        tokio::spawn(WorkerAppBuilder::new(config).platform_definition(platform).run());

        let api = Api::new(&server.api);
        let (mut dropped_ms, mut idle_ms, mut late_chunks) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..RUNS {
            let session = api.session("llmsim-slow").await;
            let mut sse = api.sse(&session, None).await;
            api.say(&session, "a long story").await;
            while sse.next(Duration::from_secs(10)).await.unwrap().event != "output.message.delta" {}
            tokio::time::sleep(Duration::from_millis(200 + (run as u64 * 37) % 200)).await;
            let sent = Instant::now();
            api.post(&format!("/v1/sessions/{session}/cancel"), json!({})).await;
            loop {
                let status = api.get(&format!("/v1/sessions/{session}")).await["status"].clone();
                if status == "idle" {
                    break;
                }
                assert!(sent.elapsed() < Duration::from_secs(5), "run {run}: not idle after 5 s");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            idle_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
            while sse.next(Duration::from_secs(5)).await.is_some_and(|r| r.event != "session.idled") {}
            let drop = DROPS.lock().unwrap().iter().copied().filter(|d| *d >= sent).min();
            let drop = drop.unwrap_or_else(|| panic!("run {run}: the stream was not dropped after the cancel"));
            dropped_ms.push(drop.duration_since(sent).as_secs_f64() * 1000.0);
            late_chunks.push(CHUNKS.lock().unwrap().iter().filter(|c| **c >= sent).count());
            CHUNKS.lock().unwrap().clear();
            DROPS.lock().unwrap().clear();
        }
        dropped_ms.sort_by(f64::total_cmp);
        idle_ms.sort_by(f64::total_cmp);
        println!("cancel in the container deployment ({RUNS} runs, llmsim-slow, worker heartbeat 5 s)");
        println!(
            "cancel sent → driver stream dropped   p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(&dropped_ms, 0.5),
            percentile(&dropped_ms, 0.99),
            dropped_ms[RUNS - 1]
        );
        println!(
            "cancel sent → session idle (REST)     p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(&idle_ms, 0.5),
            percentile(&idle_ms, 0.99),
            idle_ms[RUNS - 1]
        );
        println!(
            "chunks yielded after the cancel was sent: total {} in {RUNS} runs, at most {} in one run",
            late_chunks.iter().sum::<usize>(),
            late_chunks.iter().max().unwrap()
        );
    });
}
