//! The connection front of the long-lived host. Every accepted TCP connection is sniffed: a
//! `GET …/v1/sessions/{id}/sse` request is served here by a lean HTTP/1.1 writer (a chunked
//! `text/event-stream`, no per-connection hyper buffers), so 10,000 idle subscribers cost a few KiB
//! each; every other connection is handed, bytes already read included, to hyper through axum's
//! `Listener`.
//!
//! Decision: SSE connections are one request each (the stream ends the connection), so they
//! need none of hyper's keep-alive machinery; what they need is a small footprint.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::StatusCode;
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::error::ApiError;
use crate::sse::StreamParams;
use crate::state::AppState;
use everruns_services::idle::IdleIo;

/// The longest request head accepted (a longer one is answered 431).
const MAX_HEAD: usize = 32 * 1024;

/// A connection handed to hyper: the bytes already read, then the socket (closed after
/// `HTTP_IDLE_TIMEOUT_SECS` without a byte either way).
pub struct PrefixedIo {
    prefix: Vec<u8>,
    position: usize,
    inner: IdleIo<TcpStream>,
}

impl AsyncRead for PrefixedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.position < self.prefix.len() {
            let remaining = &self.prefix[self.position..];
            let n = remaining.len().min(buf.remaining());
            buf.put_slice(&remaining[..n]);
            self.position += n;
            if self.position == self.prefix.len() {
                self.prefix = Vec::new();
                self.position = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PrefixedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.get_ref().is_write_vectored()
    }
}

/// The peer address of a connection handed to hyper (axum `ConnectInfo`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, FrontListener>> for ClientAddr {
    fn connect_info(stream: axum::serve::IncomingStream<'_, FrontListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// The listener axum serves: connections the front did not keep.
pub struct FrontListener {
    connections: mpsc::Receiver<(PrefixedIo, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for FrontListener {
    type Io = PrefixedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.connections.recv().await {
            Some(connection) => connection,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Starts accepting on `listener`; SSE requests are served here, the rest come out of the
/// returned listener.
pub fn front(listener: TcpListener, state: AppState) -> io::Result<FrontListener> {
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((tcp, addr)) => {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(sniff(tcp, addr, state.clone(), tx.clone()));
                }
                Err(error) => {
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(FrontListener { connections: rx, local })
}

/// The parts of a request head the native SSE path needs.
struct Head {
    path: String,
    query: String,
    request_id: Option<String>,
    origin: Option<String>,
    authorization: Option<String>,
    org_id: Option<String>,
}

fn parse_head(bytes: &[u8], prefix: &str) -> Option<Head> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let (method, target, version) = (request.next()?, request.next()?, request.next()?);
    if method != "GET" || version != "HTTP/1.1" {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    // REST routes are served under the prefix and, for SDK compatibility, at the root.
    let rest =
        path.strip_prefix(prefix).filter(|r| r.starts_with("/v1/")).or(Some(path).filter(|p| p.starts_with("/v1/")))?;
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    if segments.len() != 4 || segments[0] != "v1" || segments[1] != "sessions" || segments[3] != "sse" {
        return None;
    }
    let mut head = Head {
        path: segments[2].to_owned(),
        query: query.to_owned(),
        request_id: None,
        origin: None,
        authorization: None,
        org_id: None,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let value = value.trim();
        if name.eq_ignore_ascii_case("x-request-id")
            && value.len() <= 128
            && value.bytes().all(|b| b.is_ascii_graphic())
        {
            head.request_id = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("origin") {
            head.origin = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("authorization") {
            head.authorization = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("x-org-id") {
            head.org_id = Some(value.to_owned());
        } else if name.eq_ignore_ascii_case("upgrade") || name.eq_ignore_ascii_case("expect") {
            return None;
        }
    }
    Some(head)
}

/// Reads a connection's first request head (whole, within `HTTP_HEADER_READ_TIMEOUT_SECS`), then
/// serves it here (SSE) or hands it to hyper. A head that stalls is answered 408, one past
/// [`MAX_HEAD`] 431 (414 when the request line alone is that long); each closes the connection.
async fn sniff(mut tcp: TcpStream, addr: SocketAddr, state: AppState, hyper: mpsc::Sender<(PrefixedIo, SocketAddr)>) {
    let timeouts = state.config.timeouts.clone();
    let mut buf = Vec::with_capacity(1024);
    let read = tokio::time::timeout(timeouts.header_read, async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(end));
            }
            if buf.len() >= MAX_HEAD {
                // The request line alone is too long (a URI), or the headers are.
                return Err(match buf.windows(2).any(|w| w == b"\r\n") {
                    true => ApiError::HeadersTooLarge(MAX_HEAD),
                    false => ApiError::UriTooLong(MAX_HEAD),
                });
            }
            if buf.len() == buf.capacity() {
                buf.reserve(4096);
            }
            match tcp.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return Ok(None),
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(ApiError::RequestTimeout("the request head did not arrive in time".into())));
    let end = match read {
        Ok(Some(end)) => end,
        // The peer went away first.
        Ok(None) => return,
        Err(error) => {
            if !buf.is_empty() {
                refuse(&mut tcp, &error).await;
            }
            return;
        }
    };
    // A GET with a body is not an SSE request we serve here.
    let head = (end + 4 == buf.len() && buf.starts_with(b"GET "))
        .then(|| parse_head(&buf[..end], &state.config.api_prefix))
        .flatten();
    match head {
        Some(head) => {
            drop(buf);
            serve_sse(tcp, head, state).await;
        }
        None => {
            let inner = IdleIo::new(tcp, timeouts.idle);
            let _ = hyper.send((PrefixedIo { prefix: buf, position: 0, inner }, addr)).await;
        }
    }
}

/// Answers a request the front refuses before any handler sees it, and closes the connection.
async fn refuse(tcp: &mut TcpStream, error: &ApiError) {
    let (status, body, _) = error.problem();
    let out = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/problem+json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.write_all(out.as_bytes())).await;
    let _ = tcp.shutdown().await;
}

fn common_headers(out: &mut String, head: &Head, state: &AppState) {
    let request_id = head.request_id.clone().unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    out.push_str("x-request-id: ");
    out.push_str(&request_id);
    out.push_str("\r\n");
    if let Some(origin) = &head.origin
        && state.config.cors_allowed_origins.iter().any(|o| o == origin)
    {
        out.push_str(&format!(
            "access-control-allow-origin: {origin}\r\naccess-control-allow-credentials: true\r\nvary: origin\r\n"
        ));
    }
}

async fn serve_sse(mut tcp: TcpStream, head: Head, state: AppState) {
    // An open stream keeps the instance awake (its live path needs the database listeners).
    let _awake = state.dormancy.hold();
    let opened = match serde_html_form::from_str::<StreamParams>(&head.query) {
        Ok(params) => {
            match everruns_services::auth::authenticate(&state, head.authorization.as_deref(), head.org_id.as_deref())
                .await
            {
                Ok(caller) => crate::sse::open(&state, caller.org, &head.path, &params).await,
                Err(error) => Err(error.into()),
            }
        }
        Err(e) => Err(ApiError::BadRequest { code: "invalid_query", message: format!("invalid query string: {e}") }),
    };
    let mut stream = match opened {
        Ok(stream) => Box::pin(stream),
        Err(error) => {
            let (status, body, retry_after) = error.problem();
            let mut out = format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or(""));
            out.push_str("content-type: application/problem+json\r\nconnection: close\r\n");
            if let Some(seconds) = retry_after {
                out.push_str(&format!("retry-after: {seconds}\r\n"));
            }
            common_headers(&mut out, &head, &state);
            out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
            let _ = tcp.write_all(out.as_bytes()).await;
            let _ = tcp.shutdown().await;
            return;
        }
    };
    let mut out = format!("HTTP/1.1 {} OK\r\n", StatusCode::OK.as_u16());
    out.push_str("content-type: text/event-stream\r\ncache-control: no-cache\r\nx-accel-buffering: no\r\ntransfer-encoding: chunked\r\n");
    common_headers(&mut out, &head, &state);
    out.push_str("\r\n");
    let write_timeout = state.config.timeouts.sse_write;
    drop((head, state));
    if tcp.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    drop(out);
    let (mut reader, mut writer) = tcp.split();
    let mut probe = [0u8; 64];
    // One write buffer per connection, kept while it is small (10,000 idle connections must not
    // each hold a large conversation's worth).
    let mut out = Vec::new();
    loop {
        tokio::select! {
            item = stream.next() => {
                let Some(Ok(first)) = item else { break };
                // Coalesce the frames that are already ready into one chunked write.
                if out.capacity() > KEPT_WRITE_BUFFER {
                    out = Vec::new();
                }
                out.clear();
                out.reserve(first.len() + 16);
                let mut ended = false;
                push_chunk(&mut out, &first);
                while out.len() < 64 * 1024 {
                    match stream.next().now_or_never() {
                        Some(Some(Ok(bytes))) => push_chunk(&mut out, &bytes),
                        Some(_) => {
                            ended = true;
                            break;
                        }
                        None => break,
                    }
                }
                // A client that stopped reading holds its slots only this long.
                match tokio::time::timeout(write_timeout, writer.write_all(&out)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        tracing::debug!("SSE client stopped reading; dropping the connection");
                        return;
                    }
                }
                if ended {
                    break;
                }
            }
            // The client went away: release the slot now, not at the next heartbeat.
            read = reader.read(&mut probe) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
    let _ = writer.write_all(b"0\r\n\r\n").await;
    let _ = writer.shutdown().await;
}

/// The largest write buffer an SSE connection keeps between writes.
const KEPT_WRITE_BUFFER: usize = 128 * 1024;

/// Appends one HTTP/1.1 chunk.
fn push_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}
