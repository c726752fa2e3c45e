//! Fail-open against real failures: nothing listening, a server that never answers, and a
//! private server (`EVERRUNS_VALKEY_SERVER`) killed mid-use and restarted.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{CapturedLogs, PrivateServer, free_port, fresh_key};
use everruns_core::ports::{RateDecision, RateLimiter};
use everruns_valkey::ValkeyRateLimiter;

/// Runs `count` checks on one key, asserts all are allowed, and returns the slowest one's time
/// and the total.
async fn all_allowed(limiter: &ValkeyRateLimiter, count: usize) -> (Duration, Duration) {
    let key = fresh_key();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..count {
        let at = Instant::now();
        assert_eq!(limiter.check(&key).await, RateDecision::Allowed, "check {i}");
        slowest = slowest.max(at.elapsed());
    }
    (slowest, started.elapsed())
}

#[tokio::test]
async fn nothing_listening_allows_everything_fast() {
    // A limit of 1 would limit the second check if anything were counting.
    let (logs, _guard) = CapturedLogs::install();
    let limiter =
        ValkeyRateLimiter::new(&format!("redis://127.0.0.1:{}", free_port()), 1, Duration::from_secs(60)).unwrap();
    let (slowest, total) = all_allowed(&limiter, 50).await;
    eprintln!("closed port: 50 checks in {total:?}, slowest {slowest:?}");
    assert!(total < Duration::from_millis(1500), "{total:?}");
    // One warning, not fifty.
    let warnings = logs.at(tracing::Level::WARN);
    eprintln!("{warnings:?}");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("fail-open"), "{warnings:?}");
}

#[tokio::test]
async fn a_tls_url_with_nothing_listening_fails_open_too() {
    let limiter =
        ValkeyRateLimiter::new(&format!("valkeys://127.0.0.1:{}", free_port()), 1, Duration::from_secs(60)).unwrap();
    let (slowest, total) = all_allowed(&limiter, 20).await;
    eprintln!("closed TLS port: 20 checks in {total:?}, slowest {slowest:?}");
    assert!(total < Duration::from_millis(1500), "{total:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_costs_one_timeout_per_back_off() {
    // The kernel completes connections into the backlog; nobody ever reads or replies.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let limiter = ValkeyRateLimiter::new(&url, 1, Duration::from_secs(60)).unwrap();
    let (slowest, total) = all_allowed(&limiter, 50).await;
    eprintln!("silent server: 50 checks in {total:?}, slowest {slowest:?}");
    assert!(slowest <= ValkeyRateLimiter::CHECK_DEADLINE + Duration::from_millis(200), "{slowest:?}");
    assert!(total < Duration::from_secs(2), "{total:?}");
}

#[tokio::test]
async fn a_server_killed_mid_use_fails_open_and_limiting_resumes_after_a_restart() {
    let (logs, _guard) = CapturedLogs::install();
    let mut server = PrivateServer::start();
    let port = server.port();
    let limiter = ValkeyRateLimiter::new(&server.url(), 3, Duration::from_secs(60)).unwrap();
    let key = fresh_key();
    for _ in 0..3 {
        assert_eq!(limiter.check(&key).await, RateDecision::Allowed);
    }
    assert!(matches!(limiter.check(&key).await, RateDecision::Limited { .. }));

    server.kill();
    let (slowest, total) = all_allowed(&limiter, 50).await;
    eprintln!("killed server: 50 checks in {total:?}, slowest {slowest:?}");
    assert!(total < Duration::from_secs(2), "{total:?}");

    // The restarted server has no counts (no persistence): the budget starts over, and limiting
    // resumes once the limiter reconnects (after its back-off).
    let _server = PrivateServer::start_on(port);
    let restarted = Instant::now();
    let mut allowed = 0;
    loop {
        match limiter.check(&key).await {
            RateDecision::Allowed => allowed += 1,
            RateDecision::Limited { .. } => break,
        }
        assert!(restarted.elapsed() < Duration::from_secs(10), "limiting never resumed ({allowed} allowed)");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("limiting resumed {:?} after the restart ({allowed} allowed meanwhile)", restarted.elapsed());
    assert!(restarted.elapsed() < ValkeyRateLimiter::RECONNECT_BACKOFF * 3, "{:?}", restarted.elapsed());
    assert!(allowed >= 3, "the fresh budget of 3 was not counted: {allowed}");
    let (warnings, infos) = (logs.at(tracing::Level::WARN), logs.at(tracing::Level::INFO));
    eprintln!("{warnings:?} {infos:?}");
    assert_eq!(warnings.len(), 1, "one throttled warning for the whole outage: {warnings:?}");
    assert_eq!(infos.len(), 1, "one line when limiting resumes: {infos:?}");
}
