//! A loopback fake provider for the drivers' tests (feature `test-support`).
//!
//! [`FakeServer`] listens on `127.0.0.1:0`, records every request (method, path, query, headers,
//! JSON body) and answers with scripted [`Reply`]s in order, repeating the last one once the script
//! runs out. Streamed bodies are sent in small pieces so lines and UTF-8 sequences straddle chunks.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use futures::StreamExt;
use serde_json::Value;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    /// A `200 text/event-stream` answer with this body.
    pub fn sse(body: impl Into<String>) -> Self {
        Self::text(200, "text/event-stream", body)
    }

    /// A JSON answer (error bodies).
    pub fn json(status: u16, body: Value) -> Self {
        Self::text(status, "application/json", body.to_string())
    }

    /// An answer with any status, content type and body.
    pub fn text(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        let headers = vec![("content-type".to_owned(), content_type.to_owned())];
        Self { status, headers, body: body.into().into_bytes() }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Raw query string, when present.
    pub query: Option<String>,
    /// Headers, names in lowercase (the last value wins).
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON (`Null` when it is not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// A header value by (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
}

/// A scripted provider on a loopback port; stops when dropped.
pub struct FakeServer {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    /// Starts a server answering with `replies` in order (the last one repeats).
    pub async fn start(replies: Vec<Reply>) -> Self {
        let shared = Arc::new(Shared { replies: Mutex::new(replies.into()), requests: Mutex::default() });
        let router = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { base_url: format!("http://{address}"), shared, task }
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The base URL with a path appended.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = RecordedRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    if let Ok(mut requests) = shared.requests.lock() {
        requests.push(recorded);
    }
    let reply = match shared.replies.lock() {
        Ok(mut replies) if replies.len() > 1 => replies.pop_front(),
        Ok(replies) => replies.front().cloned(),
        Err(_) => None,
    };
    let Some(reply) = reply else {
        return Response::builder().status(500).body(Body::from("no scripted reply")).unwrap_or_default();
    };
    let pieces: Vec<Vec<u8>> = reply.body.chunks(7).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::iter(pieces).then(|piece| async move {
        tokio::task::yield_now().await;
        Ok::<_, Infallible>(piece)
    });
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK));
    for (name, value) in &reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::from_stream(stream)).unwrap_or_default()
}

/// An SSE body of named events: `event: <name>\ndata: <json>\n\n` for each.
pub fn named_events(events: &[(&str, Value)]) -> String {
    events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect()
}

/// An SSE body of unnamed events with CRLF line ends: `data: <json>\r\n\r\n` for each.
pub fn data_events(events: &[Value]) -> String {
    events.iter().map(|data| format!("data: {data}\r\n\r\n")).collect()
}

/// A loopback base URL where nothing listens (connections are refused).
pub async fn refused_base_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("local_addr: {e}"));
    drop(listener);
    format!("http://{address}")
}

/// Drains a chat stream: the chunks before the first error, and that error.
pub async fn collect(
    mut stream: everruns_core::driver::ChatStream,
) -> (Vec<everruns_core::driver::ChatChunk>, Option<everruns_core::driver::DriverError>) {
    let mut chunks = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(chunk) => chunks.push(chunk),
            Err(error) => return (chunks, Some(error)),
        }
    }
    (chunks, None)
}

/// The concatenated text deltas.
pub fn text_of(chunks: &[everruns_core::driver::ChatChunk]) -> String {
    chunks
        .iter()
        .filter_map(|c| match c {
            everruns_core::driver::ChatChunk::TextDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The concatenated thinking deltas.
pub fn thinking_of(chunks: &[everruns_core::driver::ChatChunk]) -> String {
    chunks
        .iter()
        .filter_map(|c| match c {
            everruns_core::driver::ChatChunk::ThinkingDelta(text) => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

/// The tool calls, in order.
pub fn tool_calls_of(chunks: &[everruns_core::driver::ChatChunk]) -> Vec<everruns_core::driver::ToolCall> {
    chunks
        .iter()
        .filter_map(|c| match c {
            everruns_core::driver::ChatChunk::ToolCall(call) => Some(call.clone()),
            _ => None,
        })
        .collect()
}

/// The last usage chunk.
pub fn usage_of(chunks: &[everruns_core::driver::ChatChunk]) -> Option<everruns_core::domain::TokenUsage> {
    chunks.iter().rev().find_map(|c| match c {
        everruns_core::driver::ChatChunk::Usage(usage) => Some(*usage),
        _ => None,
    })
}

/// The finish chunk, which must be the last one.
pub fn finish_of(chunks: &[everruns_core::driver::ChatChunk]) -> Option<everruns_core::driver::ChatFinish> {
    match chunks.last() {
        Some(everruns_core::driver::ChatChunk::Finished(finish)) => Some(finish.clone()),
        _ => None,
    }
}

/// A short conversation exercising every mapping: a user text and an image, an agent answer with
/// text and a tool call (`call_1`, `get_weather`, `{"city":"Paris"}`), its result, a failed
/// second call (`call_2`, `lookup`) and a final user question; with one tool and a system prompt.
pub fn sample_request(model: &str) -> everruns_core::driver::ChatRequest {
    use everruns_core::domain::{ContentPart, Message, MessageRole, ToolDefinition};
    let messages = vec![
        Message::new(
            MessageRole::User,
            vec![
                ContentPart::text("What is the weather in Paris?"),
                ContentPart::Image {
                    base64: Some("aGVsbG8=".into()),
                    url: None,
                    media_type: Some("image/jpeg".into()),
                },
            ],
        ),
        Message::new(
            MessageRole::Agent,
            vec![
                ContentPart::text("Let me check."),
                ContentPart::ToolCall {
                    id: "call_1".into(),
                    name: "get_weather".into(),
                    arguments: serde_json::json!({"city": "Paris"}),
                },
                ContentPart::ToolCall { id: "call_2".into(), name: "lookup".into(), arguments: serde_json::json!({}) },
            ],
        ),
        Message::new(
            MessageRole::ToolResult,
            vec![
                ContentPart::ToolResult {
                    tool_call_id: "call_1".into(),
                    result: Some(serde_json::json!({"temp_c": 21})),
                    error: None,
                },
                ContentPart::ToolResult { tool_call_id: "call_2".into(), result: None, error: Some("down".into()) },
            ],
        ),
        Message::new(MessageRole::Agent, vec![ContentPart::text("It is 21 °C.")]),
        Message::user_text("And tomorrow?"),
    ];
    let tool = ToolDefinition::client_side(
        "get_weather",
        "Weather for a city",
        serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    );
    everruns_core::driver::ChatRequest {
        model: model.to_owned(),
        system_prompt: "You are a weather bot.".to_owned(),
        messages: messages.into(),
        tools: vec![tool].into(),
        ..Default::default()
    }
}
