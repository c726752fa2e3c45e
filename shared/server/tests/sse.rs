//! SSE over real TCP through the connection front: `connected` first, heartbeats, connection
//! cycling with `disconnecting`, the shutdown goodbye, and 4xx answers before streaming.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use everruns_server::{ServerAppBuilder, ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

async fn start(config: ServerConfig) -> (u16, oneshot::Sender<()>) {
    let app = ServerAppBuilder::new(config).build().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    (port, stop)
}

/// A server serving until the test ends, and its state (to write to its stores directly).
async fn start_with_state(config: ServerConfig) -> (u16, everruns_http::AppState) {
    let app = ServerAppBuilder::new(config).build().await.unwrap();
    let state = app.state.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(app.serve(listener, std::future::pending()));
    (port, state)
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 0;
    config
}

async fn send(port: u16, request: &str) -> BufReader<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    BufReader::new(stream)
}

async fn create_session(port: u16) -> String {
    let mut conn = send(port, "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}").await;
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
    serde_json::from_str::<serde_json::Value>(body).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn next_line(conn: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_line(&mut line)).await.unwrap().unwrap();
    line.trim_end().to_owned()
}

async fn wait_line(conn: &mut BufReader<TcpStream>, predicate: impl Fn(&str) -> bool) -> String {
    loop {
        let line = next_line(conn).await;
        if predicate(&line) {
            return line;
        }
    }
}

#[tokio::test]
async fn stream_starts_connected_beats_and_cycles() {
    let mut config = config();
    config.sse.heartbeat_interval = Duration::from_millis(300);
    config.sse.realtime_cycle = Duration::from_millis(1500);
    let (port, _stop) = start(config).await;
    let session = create_session(port).await;
    let mut sse =
        send(port, &format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\nX-Request-Id: req-42\r\n\r\n"))
            .await;
    let status = next_line(&mut sse).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let mut headers = Vec::new();
    loop {
        let line = next_line(&mut sse).await;
        if line.is_empty() {
            break;
        }
        headers.push(line.to_ascii_lowercase());
    }
    assert!(headers.contains(&"content-type: text/event-stream".to_owned()), "{headers:?}");
    assert!(headers.contains(&"x-request-id: req-42".to_owned()), "{headers:?}");
    let first = wait_line(&mut sse, |l| l.starts_with("event:")).await;
    assert_eq!(first, "event: connected", "connected comes first");
    wait_line(&mut sse, |l| l == ": heartbeat").await;
    wait_line(&mut sse, |l| l == ": heartbeat").await;
    wait_line(&mut sse, |l| l == "event: disconnecting").await;
    let data = wait_line(&mut sse, |l| l.starts_with("data:")).await;
    assert_eq!(data, r#"data: {"reason":"connection_cycle","retry_ms":100}"#);
    // The server closes the stream after the goodbye.
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(5), sse.read_to_string(&mut rest)).await.unwrap().unwrap();
}

/// An event stored while a turn runs but never published (its publisher's call dropped between
/// the commit and the publish) reaches the stream at the next beat; after `session.idled` the
/// beat reads nothing.
#[tokio::test]
async fn a_stored_event_that_was_never_published_arrives_with_the_next_beat() {
    use everruns_core::events::{EventContext, EventPayload, NewEvent, SessionActivatedData, SessionIdledData};
    use everruns_core::ids::{MessageId, SessionId, TurnId};
    let mut config = config();
    config.sse.heartbeat_interval = Duration::from_millis(400);
    let (port, state) = start_with_state(config).await;
    let session = create_session(port).await;
    let id = SessionId::parse(&session).unwrap();
    let mut sse = send(port, &format!("GET /v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    wait_line(&mut sse, |l| l == "event: connected").await;

    let turn = TurnId::new();
    let activated = |input| {
        let data = SessionActivatedData { turn_id: turn, input_message_id: input };
        NewEvent::new(id, EventContext::for_turn(turn, Some(input)), EventPayload::SessionActivated(data))
    };
    // Published: the stream has seen the turn running.
    everruns_core::turns::record_event(&state.stores, state.turns.bus().as_ref(), activated(MessageId::new()))
        .await
        .unwrap();
    wait_line(&mut sse, |l| l == "event: session.activated").await;
    // Stored only.
    let lost = state.stores.events.append(activated(MessageId::new())).await.unwrap();
    let at = std::time::Instant::now();
    wait_line(&mut sse, |l| l == "event: session.activated").await;
    assert_eq!(next_line(&mut sse).await, format!("id: {}", lost.id), "the stored event, read at the beat");
    assert!(at.elapsed() < Duration::from_millis(1500), "{:?}", at.elapsed());

    // After `session.idled` (also stored only) the beats read nothing more: a later unpublished
    // event waits for the next published one.
    let idled = SessionIdledData { turn_id: turn, iterations: None, usage: None };
    state
        .stores
        .events
        .append(NewEvent::new(id, EventContext::for_turn(turn, None), EventPayload::SessionIdled(idled)))
        .await
        .unwrap();
    wait_line(&mut sse, |l| l == "event: session.idled").await;
    let after = activated(MessageId::new());
    let mut other = after.clone();
    other.event.context.turn_id = Some(TurnId::new());
    state.stores.events.append(other).await.unwrap();
    for _ in 0..3 {
        let line = wait_line(&mut sse, |l| l.starts_with("event:") || l.starts_with(':')).await;
        assert_eq!(line, ": heartbeat", "nothing is read once the session is idle");
    }
}

#[tokio::test]
async fn shutdown_says_goodbye() {
    let (port, stop) = start(config()).await;
    let session = create_session(port).await;
    let mut sse = send(port, &format!("GET /v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    wait_line(&mut sse, |l| l == "event: connected").await;
    stop.send(()).unwrap();
    wait_line(&mut sse, |l| l == "event: disconnecting").await;
    let data = wait_line(&mut sse, |l| l.starts_with("data:")).await;
    assert_eq!(data, r#"data: {"reason":"shutdown","retry_ms":100}"#);
}

#[tokio::test]
async fn bad_requests_are_answered_before_streaming() {
    let mut config = config();
    config.sse.per_session_max = 1;
    let (port, _stop) = start(config).await;
    let session = create_session(port).await;
    for (path, status, needle) in [
        (format!("/api/v1/sessions/{session}/sse?types=nope"), "400", "types: unknown event type 'nope'"),
        ("/api/v1/sessions/session_bad/sse".to_owned(), "400", "invalid session id"),
        ("/api/v1/sessions/session_0190a1b2c3d47e8f9a0b1c2d3e4f5a6b/sse".to_owned(), "404", "not found"),
        (format!("/api/v1/sessions/{session}/sse?since_id=event_zz"), "400", "invalid event id"),
    ] {
        let mut conn = send(port, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).await;
        let mut text = String::new();
        tokio::time::timeout(Duration::from_secs(5), conn.read_to_string(&mut text)).await.unwrap().unwrap();
        assert!(text.starts_with(&format!("HTTP/1.1 {status}")), "{path}: {text}");
        assert!(text.contains("application/problem+json"), "{text}");
        assert!(text.contains(needle), "{path}: {text}");
    }
    // The per-session limit: the second stream gets 429 with Retry-After; closing frees the slot.
    let mut first = send(port, &format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    wait_line(&mut first, |l| l == "event: connected").await;
    let mut second = send(port, &format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    let mut text = String::new();
    second.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 429"), "{text}");
    assert!(text.to_ascii_lowercase().contains("retry-after: 1"), "{text}");
    assert!(text.contains("per-session SSE connection limit reached"), "{text}");
    drop(first);
    let mut third = None;
    for _ in 0..50 {
        let mut conn = send(port, &format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n")).await;
        if next_line(&mut conn).await == "HTTP/1.1 200 OK" {
            third = Some(conn);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(third.is_some(), "the slot was released when the client left");
}

#[tokio::test]
async fn other_requests_still_reach_the_router_through_the_front() {
    let (port, _stop) = start(config()).await;
    let mut conn = send(port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let mut text = String::new();
    conn.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("\"status\":\"ok\""));
}

/// A live frame that skips a sequence (the missing event was published elsewhere and has not
/// arrived, or never will) makes the stream read the store: the client gets both, in order.
#[tokio::test]
async fn a_sequence_gap_on_the_live_path_is_filled_from_the_store() {
    use everruns_core::events::{EventContext, EventPayload, NewEvent, SessionIdledData};
    use everruns_core::ids::{SessionId, TurnId};
    use std::sync::Arc;

    let (port, state) = start_with_state(config()).await;
    let session = create_session(port).await;
    let id = SessionId::parse(&session).unwrap();
    let mut sse = send(port, &format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n")).await;
    wait_line(&mut sse, |l| l == "event: connected").await;

    let append = async |publish: bool| {
        let data = SessionIdledData { turn_id: TurnId::new(), iterations: None, usage: None };
        let event = NewEvent::new(id, EventContext::default(), EventPayload::SessionIdled(data));
        let stored = state.stores.events.append(event).await.unwrap();
        if publish {
            state.turns.bus().emit(Arc::new(stored.clone()));
        }
        stored.id.to_string()
    };
    let first = append(true).await;
    assert_eq!(wait_line(&mut sse, |l| l.starts_with("id: ")).await, format!("id: {first}"));
    let unpublished = append(false).await;
    let third = append(true).await;
    assert_eq!(wait_line(&mut sse, |l| l.starts_with("id: ")).await, format!("id: {unpublished}"));
    assert_eq!(wait_line(&mut sse, |l| l.starts_with("id: ")).await, format!("id: {third}"));
}
