//! The long-lived server stays up, over real TCP: a request head that stalls is answered 408 and
//! closed, a request body that stalls and an idle keep-alive connection are closed after the idle
//! timeout, an oversized head is answered 431, SSE clients that stop reading lose their slots
//! within the write timeout (new clients get in again), and a session's SSE fan-out is gone as
//! soon as its last stream closes.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use everruns_server::{ServerAppBuilder, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

async fn start(config: ServerConfig) -> (u16, oneshot::Sender<()>) {
    let (port, stop, _) = Box::pin(start_with_state(config)).await;
    (port, stop)
}

async fn start_with_state(config: ServerConfig) -> (u16, oneshot::Sender<()>, everruns_server::state::AppState) {
    let app = ServerAppBuilder::new(config).build().await.unwrap();
    let state = app.state.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    (port, stop, state)
}

fn config() -> ServerConfig {
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 0;
    config.timeouts.header_read = Duration::from_secs(1);
    config.timeouts.idle = Duration::from_secs(2);
    config
}

/// Creates a session over raw HTTP/1.1; returns its id.
async fn create_session(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";
    stream.write_all(request.as_bytes()).await.unwrap();
    let (text, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    let json: serde_json::Value = serde_json::from_str(&text[text.find("\r\n\r\n").unwrap() + 4..]).unwrap();
    json["id"].as_str().unwrap().to_owned()
}

/// Reads until the server closes the connection; returns what it sent and when it closed.
async fn until_closed(stream: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&text).into_owned(), started.elapsed()),
            Ok(Ok(n)) => text.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection stayed open past {within:?}"),
        }
    }
}

#[tokio::test]
async fn a_stalled_request_head_is_answered_408_and_closed() {
    let (port, _stop) = start(config()).await;
    for partial in ["", "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\n"] {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(partial.as_bytes()).await.unwrap();
        let (text, after) = until_closed(&mut stream, Duration::from_secs(5)).await;
        assert!(after < Duration::from_millis(2500), "closed after {after:?}");
        if partial.is_empty() {
            assert!(text.is_empty(), "a silent socket is just closed: {text}");
        } else {
            assert!(text.starts_with("HTTP/1.1 408"), "{text}");
            assert!(text.contains("application/problem+json") && text.contains("request_timeout"), "{text}");
        }
    }
}

#[tokio::test]
async fn a_stalled_body_and_an_idle_keep_alive_are_closed() {
    let (port, _stop) = start(config()).await;
    // 8 of 100 announced bytes, then nothing.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head =
        "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(format!("{head}{{\"title\"").as_bytes()).await.unwrap();
    let (_, after) = until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(after >= Duration::from_millis(1500) && after < Duration::from_secs(4), "closed after {after:?}");

    // A served request, then an idle keep-alive connection.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(b"GET /api/v1/agents HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let (text, after) = until_closed(&mut stream, Duration::from_secs(6)).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(after >= Duration::from_millis(1500) && after < Duration::from_secs(4), "closed after {after:?}");
}

#[tokio::test]
async fn an_oversized_request_head_is_answered_431() {
    let (port, _stop) = start(config()).await;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let padding = "x".repeat(40 * 1024);
    let _ = stream.write_all(format!("GET /api/v1/agents HTTP/1.1\r\nX-Pad: {padding}\r\n\r\n").as_bytes()).await;
    let (text, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 431"), "{}", &text[..text.len().min(200)]);
    assert!(text.contains("application/problem+json"), "{text}");
    // A request line that long is a URI too long.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let _ = stream.write_all(format!("GET /api/v1/agents?q={padding} HTTP/1.1\r\n\r\n").as_bytes()).await;
    let (text, _) = until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 414"), "{}", &text[..text.len().min(200)]);
    assert!(text.contains("uri_too_long"), "{text}");
}

#[tokio::test]
async fn sse_clients_that_stop_reading_lose_their_slots() {
    let mut config = config();
    config.sse.per_session_max = 2;
    config.timeouts.sse_write = Duration::from_secs(1);
    let (port, _stop) = start(config).await;
    let session = create_session(port).await;
    let sse = format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n");

    // Two readers that never read, holding both slots.
    let mut stuck = Vec::new();
    for _ in 0..2 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
        stream.write_all(sse.as_bytes()).await.unwrap();
        stuck.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = refused_with_429(port, &sse).await;
    assert!(refused, "both slots are taken");

    // Large outputs for the session: echo turns with 32 KiB messages (each turn's
    // `llm.generation` carries the whole history) fill the stuck sockets' buffers.
    let text = "y".repeat(32 * 1024);
    for _ in 0..14 {
        let body = serde_json::json!({"message": {"content": [{"type": "text", "text": text}]}}).to_string();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let request = format!(
            "POST /api/v1/sessions/{session}/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let _ = until_closed(&mut stream, Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Within the write timeout (1 s) and a margin, the stuck readers are gone.
    let started = Instant::now();
    while refused_with_429(port, &sse).await {
        assert!(started.elapsed() < Duration::from_secs(4), "stuck SSE readers still hold their slots");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(stuck);
}

/// Opens an SSE request and says whether it was refused for the per-session limit.
async fn refused_with_429(port: u16, request: &str) -> bool {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await.unwrap().unwrap();
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 429")
}

#[tokio::test]
async fn a_sessions_fan_out_ends_with_its_last_stream() {
    let (port, _stop, state) = start_with_state(config()).await;
    for _ in 0..20 {
        let session = create_session(port).await;
        let mut sse = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        sse.write_all(format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let _ = sse.read(&mut buf).await.unwrap();
        assert!(state.sse.fanouts() >= 1);
        drop(sse);
    }
    let started = Instant::now();
    while state.sse.fanouts() > 0 {
        assert!(started.elapsed() < Duration::from_secs(2), "{} fan-outs outlived their streams", state.sse.fanouts());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deleting_a_session_ends_its_streams_with_disconnecting() {
    let (port, _stop) = start(config()).await;
    let session = create_session(port).await;
    let mut sse = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    sse.write_all(format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut buf = [0u8; 512];
    let _ = sse.read(&mut buf).await.unwrap();

    let mut delete = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    delete
        .write_all(
            format!("DELETE /api/v1/sessions/{session} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let (text, _) = until_closed(&mut delete, Duration::from_secs(5)).await;
    assert!(text.starts_with("HTTP/1.1 204"), "{text}");
    let (rest, after) = until_closed(&mut sse, Duration::from_secs(5)).await;
    assert!(rest.contains("event: disconnecting") && rest.contains("session_deleted"), "{rest}");
    assert!(after < Duration::from_secs(2), "the stream ended {after:?} after the delete");
}
