//! `post_stream` against the loopback fake: which statuses are retried, how often, error bodies,
//! `retry-after`, refused connections and the request it sends.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::json;

use everruns_core::driver::{ChatChunk, DriverError, DriverErrorKind};
use everruns_core::driver_registry::DriverConfig;
use everruns_driver_common::sse::SseEvent;
use everruns_driver_common::stream::{EventDecoder, Flow, truncated_stream};
use everruns_driver_common::testing::{FakeServer, Reply, collect, refused_base_url, text_of};
use everruns_driver_common::{DriverSettings, RetryPolicy, post_stream};

/// Each `data:` is a text delta; `[END]` ends the response.
struct Echo;

impl EventDecoder for Echo {
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        if event.data == "[END]" {
            return Ok(Flow::Done);
        }
        out.push(ChatChunk::TextDelta(event.data.clone()));
        Ok(Flow::Continue)
    }

    fn on_end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        Err(truncated_stream("[END]"))
    }
}

fn settings(base_url: &str) -> DriverSettings {
    let config = DriverConfig { model: "m".into(), base_url: Some(base_url.into()), ..Default::default() };
    let mut settings = DriverSettings::from_config(&config, "https://unused.invalid");
    settings.retry = RetryPolicy::default().with_initial_backoff(Duration::from_millis(5));
    settings
}

async fn call(base_url: &str) -> Result<String, DriverError> {
    let mut headers = HeaderMap::new();
    headers.insert("x-test", HeaderValue::from_static("1"));
    let stream =
        post_stream(&settings(base_url), &format!("{base_url}/chat"), headers, &json!({"q": 1}), || Echo).await?;
    let (chunks, error) = collect(stream).await;
    error.map_or(Ok(text_of(&chunks)), Err)
}

const OK: &str = "data: hel\n\ndata: lo\n\ndata: [END]\n\n";

#[tokio::test]
async fn sends_json_with_the_given_headers_and_decodes_the_stream() {
    let server = FakeServer::start(vec![Reply::sse(OK)]).await;
    assert_eq!(call(&server.base_url).await.unwrap(), "hello");
    let sent = &server.requests()[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/chat"));
    assert_eq!(sent.body, json!({"q": 1}));
    assert_eq!(sent.header("x-test"), Some("1"));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert!(sent.header("user-agent").is_some_and(|ua| ua.starts_with("everruns/")));
}

#[tokio::test]
async fn retryable_statuses_are_retried_twice() {
    for status in [408, 409, 429, 500, 502, 503, 504, 529] {
        let server = FakeServer::start(vec![Reply::json(status, json!({"error": {"message": "busy"}}))]).await;
        let error = call(&server.base_url).await.unwrap_err();
        assert_eq!((error.status, error.message.as_str()), (Some(status), "busy"));
        assert_eq!(server.requests().len(), 3, "status {status}");
    }
}

#[tokio::test]
async fn other_statuses_are_not_retried() {
    for (status, kind) in [
        (400, DriverErrorKind::InvalidRequest),
        (401, DriverErrorKind::Authentication),
        (403, DriverErrorKind::Authentication),
        (404, DriverErrorKind::ModelNotAvailable),
        (413, DriverErrorKind::RequestTooLarge),
        (501, DriverErrorKind::ProviderUnavailable),
    ] {
        let server = FakeServer::start(vec![Reply::json(status, json!({"error": {"message": "no"}}))]).await;
        let error = call(&server.base_url).await.unwrap_err();
        assert_eq!((error.kind, error.status), (kind, Some(status)));
        assert_eq!(server.requests().len(), 1, "status {status}");
    }
}

#[tokio::test]
async fn recovery_after_failures_and_non_json_error_bodies() {
    let html = Reply::text(502, "text/html", "<html>Bad gateway</html>");
    let server = FakeServer::start(vec![html.clone(), html, Reply::sse(OK)]).await;
    assert_eq!(call(&server.base_url).await.unwrap(), "hello");
    assert_eq!(server.requests().len(), 3);

    let server = FakeServer::start(vec![Reply::text(500, "text/plain", "upstream\nexploded")]).await;
    let error = call(&server.base_url).await.unwrap_err();
    assert!(error.message.contains("upstream exploded"), "{}", error.message);
}

#[tokio::test]
async fn retry_after_is_reported_and_honoured() {
    let past = Reply::json(429, json!({"error": {"message": "slow"}}))
        .with_header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT");
    let server = FakeServer::start(vec![past.clone(), Reply::sse(OK)]).await;
    assert_eq!(call(&server.base_url).await.unwrap(), "hello");

    let waiting = Reply::json(429, json!({"error": {"message": "slow"}})).with_header("retry-after", "0.2");
    let server = FakeServer::start(vec![waiting]).await;
    let started = Instant::now();
    let error = call(&server.base_url).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(400), "two waits of 200 ms: {:?}", started.elapsed());
    assert_eq!((error.kind, error.retry_after), (DriverErrorKind::RateLimited, Some(Duration::from_millis(200))));
}

#[tokio::test]
async fn refused_connections_are_network_errors_after_retries() {
    let base_url = refused_base_url().await;
    let started = Instant::now();
    let error = call(&base_url).await.unwrap_err();
    assert_eq!((error.kind, error.status), (DriverErrorKind::Network, None));
    assert!(started.elapsed() >= Duration::from_millis(5), "at least one backoff");
}

#[tokio::test]
async fn an_unusable_url_is_not_retried() {
    let error = call("not a url").await.unwrap_err();
    assert_eq!(error.kind, DriverErrorKind::InvalidRequest);
}
