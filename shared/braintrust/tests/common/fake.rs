//! A fake Braintrust API on loopback: `POST /v1/project` (create-or-get by name) and
//! `POST /v1/project_logs/{project_id}/insert`. It checks the bearer token, records every
//! request, and can be told to answer with an error status.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

/// The id of the fake's one project.
pub const PROJECT_ID: &str = "3c90c3cc-0d44-4b50-8888-8dd25736052a";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `project` or `insert`.
    pub kind: &'static str,
    /// The project id of the path (inserts).
    pub project_id: Option<String>,
    /// Whether the bearer token was right.
    pub authorized: bool,
    /// The JSON body.
    pub body: Value,
}

#[derive(Default)]
struct Shared {
    key: String,
    requests: Mutex<Vec<Recorded>>,
    fail_projects: Mutex<Option<StatusCode>>,
    fail_inserts: Mutex<Option<StatusCode>>,
}

/// The running fake.
pub struct FakeBraintrust {
    /// `http://127.0.0.1:{port}`.
    pub url: String,
    shared: Arc<Shared>,
}

impl FakeBraintrust {
    /// Starts the fake, accepting `Bearer {key}`.
    pub async fn start(key: &str) -> Self {
        let shared = Arc::new(Shared { key: key.to_owned(), ..Shared::default() });
        let app = Router::new()
            .route("/v1/project", post(project))
            .route("/v1/project_logs/{project_id}/insert", post(insert))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, shared }
    }

    /// Makes `POST /v1/project` answer `status` (or succeed again with `None`).
    pub fn fail_projects(&self, status: Option<StatusCode>) {
        *self.shared.fail_projects.lock().expect("lock") = status;
    }

    /// Makes inserts answer `status` (or succeed again with `None`).
    pub fn fail_inserts(&self, status: Option<StatusCode>) {
        *self.shared.fail_inserts.lock().expect("lock") = status;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().expect("lock").clone()
    }

    /// The bodies of the authorized project lookups.
    pub fn project_lookups(&self) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.kind == "project" && r.authorized).map(|r| r.body).collect()
    }

    /// The authorized insert requests.
    pub fn inserts(&self) -> Vec<Recorded> {
        self.requests().into_iter().filter(|r| r.kind == "insert" && r.authorized).collect()
    }

    /// The rows of the inserts that succeeded, in order.
    pub fn stored_rows(&self) -> Vec<Value> {
        self.shared
            .requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.kind == "insert" && r.authorized && r.body.get("stored") == Some(&Value::Bool(true)))
            .flat_map(|r| r.body["events"].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Requests with a wrong or missing token.
    pub fn unauthorized(&self) -> usize {
        self.requests().iter().filter(|r| !r.authorized).count()
    }
}

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(format!("Bearer {key}").as_str())
}

async fn project(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let ok = authorized(&headers, &shared.key);
    let name = body["name"].clone();
    shared.requests.lock().expect("lock").push(Recorded { kind: "project", project_id: None, authorized: ok, body });
    if !ok {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "No valid API key provided" })));
    }
    if let Some(status) = *shared.fail_projects.lock().expect("lock") {
        return (status, Json(json!({ "error": "project lookup failed" })));
    }
    let project = json!({
        "id": PROJECT_ID,
        "org_id": "5d7c1a9e-8f1b-4a57-9d53-3f1e2c8a9b10",
        "name": name,
        "created": "2025-05-25T10:00:00.000Z",
    });
    (StatusCode::OK, Json(project))
}

async fn insert(
    State(shared): State<Arc<Shared>>,
    Path(project_id): Path<String>,
    headers: HeaderMap,
    Json(mut body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let ok = authorized(&headers, &shared.key);
    let failure = *shared.fail_inserts.lock().expect("lock");
    let known = project_id == PROJECT_ID;
    let stored = ok && failure.is_none() && known;
    let row_ids: Vec<Value> = body["events"].as_array().into_iter().flatten().map(|e| e["id"].clone()).collect();
    // Marks what was kept, so the test can tell stored rows from rejected ones.
    if let Some(object) = body.as_object_mut() {
        object.insert("stored".into(), Value::Bool(stored));
    }
    let recorded = Recorded { kind: "insert", project_id: Some(project_id), authorized: ok, body };
    shared.requests.lock().expect("lock").push(recorded);
    if !ok {
        return (StatusCode::UNAUTHORIZED, Json(json!({ "error": "No valid API key provided" })));
    }
    if let Some(status) = failure {
        return (status, Json(json!({ "error": "Something went wrong" })));
    }
    if !known {
        return (StatusCode::NOT_FOUND, Json(json!({ "error": "project not found" })));
    }
    (StatusCode::OK, Json(json!({ "row_ids": row_ids })))
}
