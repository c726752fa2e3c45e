//! Shared by the multi-instance tests: fresh databases, servers built from variables and served
//! on loopback ports, in-process workers, a small REST client and an SSE reader.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use everruns_server::{ServerAppBuilder, ServerConfig};
use everruns_worker::{DurableWorkerConfig, WorkerAppBuilder};
use futures::StreamExt;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::net::TcpListener;

pub const TOKEN: &str = "nats-test-token";

/// A variable the test needs (scripts/test sets it), or a clear failure.
pub fn required(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!("{name} is not set: run scripts/test (it starts PostgreSQL, NATS and Valkey on 127.0.0.1)")
    })
}

/// A fresh database on the test cluster.
pub async fn database() -> String {
    let admin = required("EVERRUNS_TEST_DATABASE_URL");
    let name = format!("everruns_multi_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await.unwrap();
    let (base, _) = admin.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}

/// The variables of a durable server on `database`.
pub fn durable_vars(database: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("DATABASE_URL", database.to_owned()),
        ("SECRETS_ENCRYPTION_KEY", "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned()),
        ("WORKER_GRPC_AUTH_TOKEN", TOKEN.to_owned()),
        ("DEPLOYMENT_GRADE", "dev".to_owned()),
        ("RATE_LIMIT_API_REQUESTS_PER_MINUTE", "0".to_owned()),
    ])
}

/// A served control plane.
pub struct Server {
    /// `http://127.0.0.1:<port>/api`.
    pub api: String,
    /// The worker gRPC address.
    pub grpc: String,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Builds and serves a server (REST + SSE + worker gRPC) from `vars`.
pub async fn serve(vars: &HashMap<&'static str, String>) -> Server {
    let config = ServerConfig::from_lookup(|name| vars.get(name).cloned());
    let app = ServerAppBuilder::new(config).build().await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/api", http.local_addr().unwrap());
    let grpc_addr = grpc.local_addr().unwrap().to_string();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(app.serve_all(http, Some(grpc), async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    Server { api, grpc: grpc_addr, stop }
}

/// Runs a worker against `grpc`, polling every `poll` when no notification wakes it.
pub fn spawn_worker(grpc: &str, poll: Duration) -> tokio::task::JoinHandle<()> {
    let millis = poll.as_millis().to_string();
    let vars: HashMap<&str, String> = HashMap::from([
        ("WORKER_GRPC_ADDRESS", grpc.to_owned()),
        ("WORKER_GRPC_AUTH_TOKEN", TOKEN.to_owned()),
        ("DEPLOYMENT_GRADE", "dev".to_owned()),
        ("WORKER_POLL_INTERVAL_MS", millis.clone()),
        ("WORKER_POLL_BACKOFF_MAX_MS", millis),
    ]);
    let config = DurableWorkerConfig::from_lookup(|name| vars.get(name).cloned());
    tokio::spawn(async move {
        if let Err(error) = WorkerAppBuilder::new(config).run().await {
            panic!("worker stopped: {error}");
        }
    })
}

/// A REST client for one server.
pub struct Api {
    pub base: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str) -> Self {
        Self { base: base.to_owned(), http: reqwest::Client::builder().no_proxy().build().unwrap() }
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {body}");
        body
    }

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
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.events(session).await.iter().any(|e| e["type"] == kind) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} within {within:?}");
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
    pub event: String,
    pub id: Option<String>,
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

/// A private NATS server (JetStream on) this test can kill.
pub struct NatsServer {
    pub url: String,
    child: std::process::Child,
    _dir: TempDir,
}

impl NatsServer {
    pub async fn start() -> Self {
        let binary = required("EVERRUNS_NATS_SERVER");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = TempDir::new();
        let child = std::process::Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd", dir.0.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port).await;
        Self { url: format!("nats://127.0.0.1:{port}"), child, _dir: dir }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("everruns-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Waits (up to 2 s) until something accepts connections on the loopback `port`.
pub async fn wait_for_port(port: u16) {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
