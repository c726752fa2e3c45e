//! A small REST client for one server, and a reader of SSE records.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

/// A REST client for one server.
pub struct Api {
    /// `http://…/api`.
    pub base: String,
    /// The HTTP client (no proxy).
    pub http: reqwest::Client,
}

impl Api {
    /// A client of the API at `base`.
    pub fn new(base: &str) -> Self {
        Self { base: base.to_owned(), http: reqwest::Client::builder().no_proxy().build().unwrap() }
    }

    /// POSTs `body` as JSON to `path`; fails the test unless it succeeds.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

    /// GETs `path`; fails the test unless it succeeds.
    pub async fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.unwrap();
        assert!(response.status().is_success(), "GET {path}: {}", response.status());
        response.json().await.unwrap()
    }

    /// A session on the model named `model`.
    pub async fn session(&self, model: &str) -> String {
        let models = self.get("/v1/models").await;
        let id = models["data"].as_array().unwrap().iter().find(|m| m["model_id"] == model).unwrap()["id"].clone();
        self.post("/v1/sessions", json!({"model_id": id})).await["id"].as_str().unwrap().to_owned()
    }

    /// Posts a user message with `text`.
    pub async fn say(&self, session: &str, text: &str) {
        let body = json!({"message": {"role": "user", "content": [{"type": "text", "text": text}]}});
        self.post(&format!("/v1/sessions/{session}/messages"), body).await;
    }

    /// Every stored event of a session.
    pub async fn events(&self, session: &str) -> Vec<Value> {
        self.get(&format!("/v1/sessions/{session}/events?limit=1000")).await["data"].as_array().unwrap().clone()
    }

    /// Waits until the session's log holds `kind`.
    pub async fn wait_for(&self, session: &str, kind: &str, within: Duration) {
        let found =
            crate::wait::until(within, || async { self.events(session).await.iter().any(|e| e["type"] == kind) }).await;
        assert!(found, "no {kind} within {within:?}");
    }

    /// Opens an SSE stream (after `since` when given).
    pub async fn sse(&self, session: &str, since: Option<&str>) -> Sse {
        let mut url = format!("{}/v1/sessions/{session}/sse", self.base);
        if let Some(since) = since {
            url.push_str(&format!("?since_id={since}"));
        }
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let mut sse = Sse { body: response.bytes_stream().boxed(), buffer: String::new() };
        let first = sse.next(Duration::from_secs(5)).await.unwrap();
        assert_eq!(first.event, "connected");
        sse
    }
}

/// One SSE record.
#[derive(Debug, Clone)]
pub struct Record {
    /// `event:`.
    pub event: String,
    /// `id:`, if any.
    pub id: Option<String>,
    /// `data:`.
    pub data: String,
}

/// Reads SSE records off a response body.
pub struct Sse {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Sse {
    /// The next record (heartbeat comments skipped); `None` when the stream ended or `within`
    /// passed.
    pub async fn next(&mut self, within: Duration) -> Option<Record> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut record = Record { event: String::new(), id: None, data: String::new() };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        record.event = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        record.id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        record.data = v.to_owned();
                    }
                }
                if record.event.is_empty() {
                    continue;
                }
                return Some(record);
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }
}
