//! Benchmark: one in-process turn with a 0-latency llmsim (fixed text), measured end to end —
//! `start_turn` (input.message, session.activated, turn.started) through the iteration engine to
//! `session.idled` — on the in-memory stores and bus.
//!
//! `cargo bench -p everruns-runtime --bench turn` prints p50/p99 per turn and turns/s, for
//! sequential turns and for 8 sessions running concurrently. Each turn runs in a fresh session
//! (history does not grow across samples); session creation and deletion are not timed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use everruns_core::domain::Message;
use everruns_core::ids::OrgId;
use everruns_core::llmsim_driver::LlmSimConfig;
use everruns_runtime::{InProcessRuntime, InProcessRuntimeBuilder, RuntimeBackends};
use everruns_store_memory::MemoryEventBus;

const WARMUP: usize = 2_000;
const SAMPLES: usize = 20_000;
const CONCURRENT_SESSIONS: usize = 8;
const CONCURRENT_TURNS_EACH: usize = 2_500;

async fn one_turn(runtime: &InProcessRuntime) -> Duration {
    let session = runtime.create_session().await.expect("session");
    let started = Instant::now();
    let report = runtime.send(session.id, Message::user_text("Hello, simulator!")).await.expect("turn");
    let elapsed = started.elapsed();
    assert!(report.outcome.is_terminal());
    runtime.turn_service().stores().sessions.delete_session(OrgId::DEFAULT, session.id).await.expect("delete");
    elapsed
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    rt.block_on(async {
        let runtime = Arc::new(
            InProcessRuntimeBuilder::new()
                .llm_sim(LlmSimConfig::default())
                .backends(RuntimeBackends::in_memory().with_event_bus(MemoryEventBus::new()))
                .build()
                .await
                .expect("runtime"),
        );
        for _ in 0..WARMUP {
            one_turn(&runtime).await;
        }

        let mut samples = Vec::with_capacity(SAMPLES);
        let started = Instant::now();
        for _ in 0..SAMPLES {
            samples.push(one_turn(&runtime).await);
        }
        let wall = started.elapsed();
        samples.sort_unstable();
        let mean = samples.iter().sum::<Duration>() / SAMPLES as u32;
        println!("in-process turn, 0-latency llmsim, sequential ({SAMPLES} turns):");
        println!(
            "  p50 {:.1} µs | p99 {:.1} µs | mean {:.1} µs | max {:.1} µs | {:.0} turns/s (timed turns only: {:.0})",
            micros(percentile(&samples, 0.50)),
            micros(percentile(&samples, 0.99)),
            micros(mean),
            micros(samples[SAMPLES - 1]),
            SAMPLES as f64 / wall.as_secs_f64(),
            SAMPLES as f64 / samples.iter().sum::<Duration>().as_secs_f64(),
        );

        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENT_SESSIONS)
            .map(|_| {
                let runtime = runtime.clone();
                tokio::spawn(async move {
                    let mut samples = Vec::with_capacity(CONCURRENT_TURNS_EACH);
                    for _ in 0..CONCURRENT_TURNS_EACH {
                        samples.push(one_turn(&runtime).await);
                    }
                    samples
                })
            })
            .collect();
        let mut samples = Vec::new();
        for task in tasks {
            samples.extend(task.await.expect("task"));
        }
        let wall = started.elapsed();
        samples.sort_unstable();
        let total = samples.len();
        println!("in-process turn, 0-latency llmsim, {CONCURRENT_SESSIONS} concurrent sessions ({total} turns, 2 worker threads):");
        println!(
            "  p50 {:.1} µs | p99 {:.1} µs | {:.0} turns/s",
            micros(percentile(&samples, 0.50)),
            micros(percentile(&samples, 0.99)),
            total as f64 / wall.as_secs_f64(),
        );
    });
}
