//! `VALKEY_URL` on real servers: two control-plane instances share one per-IP budget (without
//! Valkey each has its own), a stopped Valkey lets requests through (fail-open), and a bad URL
//! scheme stops startup with a clear error.
//!
//! Needs `EVERRUNS_TEST_VALKEY_URL` and `EVERRUNS_VALKEY_SERVER` (scripts/test provides them).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::time::Duration;

use everruns_server::{ServerAppBuilder, ServerConfig};
use support::{TempDir, closed_port, required, serve, wait_for_port};

/// A DEV_MODE server's variables with a budget of `per_minute`.
fn vars(per_minute: u32, valkey: Option<&str>) -> HashMap<&'static str, String> {
    let mut vars = HashMap::from([
        ("DEV_MODE", "true".to_owned()),
        ("RATE_LIMIT_API_REQUESTS_PER_MINUTE", per_minute.to_string()),
    ]);
    if let Some(url) = valkey {
        vars.insert("VALKEY_URL", url.to_owned());
    }
    vars
}

/// A client address no earlier run has used (the budget is per IP, `X-Forwarded-For` first).
fn fresh_ip() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("10.{}.{}.{}", (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

/// Sends `count` requests alternating between `servers`; returns (allowed, limited), checking
/// every 429 names its wait.
async fn hammer(servers: &[&str], ip: &str, count: usize) -> (usize, usize) {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let (mut allowed, mut limited) = (0, 0);
    for i in 0..count {
        let base = servers[i % servers.len()];
        let response = http.get(format!("{base}/v1/agents")).header("x-forwarded-for", ip).send().await.unwrap();
        match response.status().as_u16() {
            200 => allowed += 1,
            429 => {
                let wait: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=121).contains(&wait), "Retry-After {wait}");
                let body: serde_json::Value = response.json().await.unwrap();
                assert!(body.to_string().contains("rate limit exceeded"), "{body}");
                limited += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    (allowed, limited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_with_valkey_share_one_budget() {
    let valkey = required("EVERRUNS_TEST_VALKEY_URL");
    let shared = vars(20, Some(&valkey));
    let (a, b) = (serve(&shared).await, serve(&shared).await);
    let (allowed, limited) = hammer(&[&a.api, &b.api], &fresh_ip(), 60).await;
    assert_eq!((allowed, limited), (20, 40), "the sum across both servers stays within the budget");

    // Another client has its own budget.
    assert_eq!(hammer(&[&a.api, &b.api], &fresh_ip(), 4).await, (4, 0));

    // Without Valkey each instance counts alone: two servers allow twice the budget.
    let alone = vars(20, None);
    let (c, d) = (serve(&alone).await, serve(&alone).await);
    assert_eq!(hammer(&[&c.api, &d.api], &fresh_ip(), 60).await.0, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_valkey_lets_requests_through() {
    let binary = required("EVERRUNS_VALKEY_SERVER");
    let port = closed_port();
    let dir = TempDir::new();
    let mut valkey = std::process::Command::new(binary)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
        .current_dir(&dir.0)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port).await;
    let server = serve(&vars(5, Some(&format!("valkey://127.0.0.1:{port}")))).await;
    let ip = fresh_ip();
    assert_eq!(hammer(&[&server.api], &ip, 8).await, (5, 3), "limited while Valkey runs");

    let _ = valkey.kill();
    let _ = valkey.wait();
    let started = std::time::Instant::now();
    assert_eq!(hammer(&[&server.api], &ip, 20).await, (20, 0), "fail-open once Valkey is gone");
    assert!(started.elapsed() < Duration::from_secs(5), "and without stalling: {:?}", started.elapsed());
}

#[tokio::test]
async fn a_bad_url_scheme_stops_startup_with_a_clear_error() {
    for (name, url, expected) in [
        ("VALKEY_URL", "http://127.0.0.1:6379", "unsupported scheme `http://`"),
        ("VALKEY_URL", "127.0.0.1:6379", "has no scheme"),
        ("NATS_URL", "redis://127.0.0.1:4222", "'redis://' is not supported"),
    ] {
        let config = ServerConfig::from_lookup(|var| match var {
            "DEV_MODE" => Some("true".to_owned()),
            v if v == name => Some(url.to_owned()),
            _ => None,
        });
        let error = ServerAppBuilder::new(config).build().await.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(name) && error.contains(expected), "{name}={url}: {error}");
    }
}
