//! A loopback fake of Bedrock Runtime (and of STS `AssumeRole`) for the driver's tests.
//!
//! Responses to `ConverseStream` are scripted: an `application/vnd.amazon.eventstream` body
//! (encoded here by hand: prelude with total and headers length and its CRC32, string headers,
//! JSON payload, message CRC32; sent in small pieces so frames straddle reads) or a JSON error with
//! `x-amzn-errortype`. The last reply repeats. `POST /` answers STS `AssumeRole` with fixed
//! role credentials ([`ROLE_KEY_ID`]). Every request is recorded.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Value, json};

/// The access key id of the credentials the fake STS hands out.
pub const ROLE_KEY_ID: &str = "ASIAFAKEROLEKEY";
/// Their session token.
pub const ROLE_SESSION_TOKEN: &str = "fake-role-session-token";

/// CRC32 (IEEE), as the event-stream framing uses it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// One event-stream message with string headers (type 7).
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::new();
    for (name, value) in headers {
        encoded.push(u8::try_from(name.len()).unwrap());
        encoded.extend_from_slice(name.as_bytes());
        encoded.push(7);
        encoded.extend_from_slice(&u16::try_from(value.len()).unwrap().to_be_bytes());
        encoded.extend_from_slice(value.as_bytes());
    }
    let total = 12 + encoded.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&u32::try_from(total).unwrap().to_be_bytes());
    out.extend_from_slice(&u32::try_from(encoded.len()).unwrap().to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&encoded);
    out.extend_from_slice(payload);
    let message_crc = crc32(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// An `event` message of type `kind` with a JSON payload.
pub fn event(kind: &str, payload: Value) -> Vec<u8> {
    let headers = [(":event-type", kind), (":content-type", "application/json"), (":message-type", "event")];
    frame(&headers, payload.to_string().as_bytes())
}

/// An `exception` message (an error inside a 200 stream).
pub fn exception(kind: &str, message: &str) -> Vec<u8> {
    let headers = [(":exception-type", kind), (":content-type", "application/json"), (":message-type", "exception")];
    frame(&headers, json!({ "message": message }).to_string().as_bytes())
}

/// `contentBlockDelta` with text.
pub fn text(index: i32, text: &str) -> Vec<u8> {
    event("contentBlockDelta", json!({"contentBlockIndex": index, "delta": {"text": text}, "p": "abcd"}))
}

/// `messageStop`, then `metadata` with usage (input, output, cache read, cache write).
pub fn stop_and_usage(reason: &str, usage: [i64; 4]) -> Vec<u8> {
    let mut out = event("messageStop", json!({"stopReason": reason}));
    out.extend(event(
        "metadata",
        json!({"usage": {"inputTokens": usage[0], "outputTokens": usage[1], "totalTokens": usage[0] + usage[1],
                         "cacheReadInputTokens": usage[2], "cacheWriteInputTokens": usage[3]},
               "metrics": {"latencyMs": 120}}),
    ));
    out
}

/// A complete text answer.
pub fn text_answer(words: &[&str]) -> Vec<u8> {
    let mut out = event("messageStart", json!({"role": "assistant"}));
    for word in words {
        out.extend(text(0, word));
    }
    out.extend(event("contentBlockStop", json!({"contentBlockIndex": 0})));
    out.extend(stop_and_usage("end_turn", [11, 4, 0, 0]));
    out
}

/// One scripted answer to a ConverseStream call.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `200` with this event-stream body.
    Events(Vec<u8>),
    /// A JSON error: status, `x-amzn-errortype`, message.
    Error(u16, &'static str, &'static str),
}

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`, …
    pub method: String,
    /// Path (percent-encoded as sent).
    pub path: String,
    /// Lowercase header names.
    pub headers: BTreeMap<String, String>,
    /// Raw body text.
    pub body: String,
}

impl Recorded {
    /// A header value.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Whether this is the STS call.
    pub fn is_sts(&self) -> bool {
        self.body.contains("Action=AssumeRole")
    }
}

#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
}

/// The fake on a loopback port; stops when dropped.
pub struct FakeBedrock {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeBedrock {
    /// Starts the fake with its ConverseStream script.
    pub async fn start(replies: Vec<Reply>) -> Self {
        let shared = Arc::new(Shared { replies: Mutex::new(replies.into()), requests: Mutex::default() });
        let router = axum::Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { base_url: format!("http://{address}"), shared, task }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The ConverseStream requests so far.
    pub fn converse_requests(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| !r.is_sts()).collect()
    }
}

impl Drop for FakeBedrock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn sts_reply() -> Response {
    let xml = format!(
        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <AssumedRoleUser><AssumedRoleId>AROAFAKE:everruns-bedrock</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/bedrock/everruns-bedrock</Arn></AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{ROLE_KEY_ID}</AccessKeyId>
      <SecretAccessKey>fake-role-secret</SecretAccessKey>
      <SessionToken>{ROLE_SESSION_TOKEN}</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>sts-request-1</RequestId></ResponseMetadata>
</AssumeRoleResponse>"#
    );
    Response::builder().status(200).header("content-type", "text/xml").body(Body::from(xml)).unwrap()
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let sts = recorded.is_sts();
    shared.requests.lock().unwrap().push(recorded);
    if sts {
        return sts_reply();
    }
    let reply = {
        let mut replies = shared.replies.lock().unwrap();
        if replies.len() > 1 { replies.pop_front() } else { replies.front().cloned() }
    };
    match reply {
        Some(Reply::Events(bytes)) => {
            let pieces: Vec<Vec<u8>> = bytes.chunks(9).map(<[u8]>::to_vec).collect();
            let stream = futures::stream::iter(pieces).then(|piece| async move {
                tokio::task::yield_now().await;
                Ok::<_, Infallible>(piece)
            });
            Response::builder()
                .status(200)
                .header("content-type", "application/vnd.amazon.eventstream")
                .header("x-amzn-requestid", "req-0001")
                .body(Body::from_stream(stream))
                .unwrap()
        }
        Some(Reply::Error(status, kind, message)) => Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-amzn-errortype", format!("{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"))
            .header("x-amzn-requestid", "req-error")
            .body(Body::from(json!({ "message": message }).to_string()))
            .unwrap(),
        None => Response::builder().status(500).body(Body::from("no scripted reply")).unwrap(),
    }
}
