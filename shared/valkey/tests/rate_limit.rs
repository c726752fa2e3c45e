//! The sliding-window budget against a real server (`EVERRUNS_TEST_VALKEY_URL`, started by
//! `scripts/test`): exact counts, atomicity across instances, the window sliding, `valkey://`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{fresh_key, valkey_url};
use everruns_core::ports::{RateDecision, RateLimiter};
use everruns_valkey::ValkeyRateLimiter;

#[tokio::test]
async fn exactly_the_limit_is_allowed_then_limited_with_a_retry_after() {
    let window = Duration::from_secs(60);
    let limiter = ValkeyRateLimiter::new(&valkey_url(), 10, window).unwrap();
    let key = fresh_key();
    let started = Instant::now();
    let mut decisions = Vec::new();
    for _ in 0..25 {
        decisions.push(limiter.check(&key).await);
    }
    eprintln!("25 sequential checks took {:?}", started.elapsed());
    assert!(decisions[..10].iter().all(|d| *d == RateDecision::Allowed), "{decisions:?}");
    for decision in &decisions[10..] {
        let RateDecision::Limited { retry_after } = *decision else {
            panic!("over the limit but {decision:?}");
        };
        // The budget was used up within this window: at least the previous-window weight of the
        // next window has to drain (window / limit), and never more than window + window / limit.
        assert!(retry_after >= window / 10, "{retry_after:?}");
        assert!(retry_after <= window + window / 10, "{retry_after:?}");
    }
    // Another key has its own budget.
    assert_eq!(limiter.check(&fresh_key()).await, RateDecision::Allowed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_budget_atomically() {
    let url = valkey_url();
    let window = Duration::from_secs(60);
    let servers = [
        Arc::new(ValkeyRateLimiter::new(&url, 50, window).unwrap()),
        Arc::new(ValkeyRateLimiter::new(&url, 50, window).unwrap()),
    ];
    let key = Arc::new(fresh_key());
    let allowed = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..20 {
        let (limiter, key, allowed) = (servers[task % 2].clone(), key.clone(), allowed.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                if limiter.check(&key).await == RateDecision::Allowed {
                    allowed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    eprintln!("200 concurrent checks from two instances took {:?}", started.elapsed());
    assert_eq!(allowed.load(Ordering::SeqCst), 50);
}

#[tokio::test]
async fn the_window_slides_and_the_retry_after_is_accurate() {
    let window = Duration::from_secs(1);
    let limiter = ValkeyRateLimiter::new(&valkey_url(), 5, window).unwrap();
    let key = fresh_key();
    for _ in 0..5 {
        assert_eq!(limiter.check(&key).await, RateDecision::Allowed);
    }
    let RateDecision::Limited { retry_after } = limiter.check(&key).await else {
        panic!("the sixth request within a window must be limited");
    };
    assert!(retry_after > Duration::ZERO && retry_after <= 2 * window, "{retry_after:?}");
    // Honouring retry_after is enough (with a little slack for the round trip)...
    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert_eq!(limiter.check(&key).await, RateDecision::Allowed, "after waiting {retry_after:?}");
    // ...and once the old counts have slid out entirely, the whole budget is back.
    tokio::time::sleep(2 * window).await;
    for i in 0..5 {
        assert_eq!(limiter.check(&key).await, RateDecision::Allowed, "request {i} of a fresh window");
    }
    assert!(matches!(limiter.check(&key).await, RateDecision::Limited { .. }));
}

#[tokio::test]
async fn a_valkey_scheme_url_works() {
    let url = valkey_url().replacen("redis://", "valkey://", 1);
    assert!(url.starts_with("valkey://"), "{url}");
    let limiter = ValkeyRateLimiter::new(&url, 2, Duration::from_secs(60)).unwrap();
    let key = fresh_key();
    assert_eq!(limiter.check(&key).await, RateDecision::Allowed);
    assert_eq!(limiter.check(&key).await, RateDecision::Allowed);
    assert!(matches!(limiter.check(&key).await, RateDecision::Limited { .. }));
}
