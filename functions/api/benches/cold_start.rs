//! Init time of the function binaries: process start → the first `GET …/runtime/invocation/next`
//! on the Lambda Runtime API (the function is ready for its first event). A fake Runtime API on
//! 127.0.0.1 records the arrival and the process is killed. Configuration as deployed, secrets
//! given directly (Secrets Manager calls would add their network round trips).
//!
//! `scripts/lambda-zips` first (the shipped binaries), then
//! `cargo bench -p everruns-api-function --bench cold_start`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

const RUNS: usize = 40;

fn binary(name: &str) -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    // What `scripts/lambda-zips` ships (cargo lambda builds for the explicit target), else a
    // plain release build.
    let shipped = target.join("x86_64-unknown-linux-gnu/release").join(name);
    let path = if shipped.exists() { shipped } else { target.join("release").join(name) };
    assert!(path.exists(), "{} is missing: run scripts/lambda-zips first", path.display());
    println!("{}", path.display());
    path
}

async fn first_next(listener: &TcpListener) -> Instant {
    loop {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 2048];
        let n = socket.read(&mut buf).await.unwrap();
        if String::from_utf8_lossy(&buf[..n]).contains("/runtime/invocation/next") {
            return Instant::now();
        }
    }
}

async fn measure(name: &str, env: &[(&str, &str)]) -> Vec<Duration> {
    let path = binary(name);
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let started = Instant::now();
        let mut child = tokio::process::Command::new(&path)
            .env_clear()
            .envs(env.iter().copied())
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let ready = tokio::time::timeout(Duration::from_secs(10), first_next(&listener)).await.expect("no /next call");
        samples.push(ready - started);
        child.kill().await.unwrap();
    }
    samples.sort();
    samples
}

fn report(name: &str, samples: &[Duration]) {
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "{name}: init p50 {:.1} ms, p99 {:.1} ms, min {:.1} ms ({} cold starts)",
        at(0.5),
        at(0.99),
        at(0.0),
        samples.len()
    );
}

#[tokio::main]
async fn main() {
    let api = measure(
        "everruns-api",
        &[
            ("DATABASE_URL", "postgres://everruns@127.0.0.1:5432/everruns"),
            ("SECRETS_ENCRYPTION_KEY", "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="),
            ("TASK_QUEUE_URL", "http://127.0.0.1:1/000000000000/tasks"),
            ("DEPLOYMENT_GRADE", "prod"),
        ],
    )
    .await;
    report("everruns-api", &api);
    let worker = measure(
        "everruns-task-worker",
        &[
            ("WORKER_GRPC_ADDRESS", "127.0.0.1:1"),
            ("WORKER_GRPC_AUTH_TOKEN", "token"),
            ("TASK_QUEUE_URL", "http://127.0.0.1:1/000000000000/tasks"),
        ],
    )
    .await;
    report("everruns-task-worker", &worker);
}
