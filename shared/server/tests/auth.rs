//! `AUTH_MODE=api_key` over real TCP (REST through hyper, SSE through the connection front):
//! credentials required, the accepted header forms, the bootstrap key, sign-up, key management,
//! and organization isolation — another org's resource answers 404, on every path.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use everruns_server::{ServerAppBuilder, ServerConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const BOOTSTRAP: &str = "evr_bootstrap0123456789abcdef0123456789abcdef";

struct Server {
    base: String,
    port: u16,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

async fn start(signup: bool) -> Server {
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 0;
    config.auth_mode = everruns_server::config::AuthMode::ApiKey;
    config.auth_bootstrap_api_key = Some(BOOTSTRAP.to_owned());
    config.auth_signup_enabled = signup;
    let app = ServerAppBuilder::new(config).build().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.serve(listener, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Server { base: format!("http://127.0.0.1:{port}/api"), port, http, _stop: stop }
}

impl Server {
    async fn call(&self, method: Method, path: &str, auth: Option<&str>, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn register(&self, name: &str) -> (String, String) {
        let (status, body) =
            self.call(Method::POST, "/v1/auth/register", None, Some(json!({"organization_name": name}))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        (body["organization"]["id"].as_str().unwrap().to_owned(), body["api_key"]["key"].as_str().unwrap().to_owned())
    }

    /// The status line of an SSE request made with a raw socket through the connection front.
    async fn sse_status(&self, session: &str, auth: Option<&str>) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let auth = auth.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let request = format!("GET /api/v1/sessions/{session}/sse HTTP/1.1\r\nHost: x\r\n{auth}\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.unwrap().unwrap();
        String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_owned()
    }
}

fn assert_problem(status: StatusCode, body: &Value, expected: StatusCode, code: &str) {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test]
async fn credentials_are_required_and_every_header_form_is_accepted() {
    let server = start(false).await;
    let (status, body) = server.call(Method::GET, "/v1/agents", None, None).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    for bad in [
        "fake-key",
        "evr_wrong0123456789abcdef0123456789abcdef",
        "Bearer",
        "evr_\u{e9}0123456789abcdef0123456789abcdef",
    ] {
        let (status, body) = server.call(Method::GET, "/v1/agents", Some(bad), None).await;
        assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    for form in [BOOTSTRAP.to_owned(), format!("Bearer {BOOTSTRAP}"), format!("ApiKey {BOOTSTRAP}")] {
        let (status, body) = server.call(Method::GET, "/v1/agents", Some(&form), None).await;
        assert_eq!(status, StatusCode::OK, "{form}: {body}");
    }
    let (status, me) = server.call(Method::GET, "/v1/auth/me", Some(BOOTSTRAP), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["organization"]["id"], "org_00000000000000000000000000000001");
    assert_eq!(me["auth_mode"], "api_key");

    // Public: health, the document, the auth configuration. Sign-up is off by default.
    let health = server.http.get(format!("http://127.0.0.1:{}/health", server.port)).send().await.unwrap();
    assert_eq!(health.json::<Value>().await.unwrap()["auth_mode"], "api_key");
    let (status, config) = server.call(Method::GET, "/v1/auth/config", None, None).await;
    assert_eq!(
        (status, config["mode"].clone(), config["signup_enabled"].clone()),
        (StatusCode::OK, json!("api_key"), json!(false))
    );
    let (status, body) =
        server.call(Method::POST, "/v1/auth/register", None, Some(json!({"organization_name": "acme"}))).await;
    assert_problem(status, &body, StatusCode::FORBIDDEN, "forbidden");

    // X-Org-Id must name the key's organization.
    let other = "org_0192f0c0a0b07c3d8e9f000000000001";
    let request = |org: &str| {
        server.http.get(format!("{}/v1/agents", server.base)).header("authorization", BOOTSTRAP).header("x-org-id", org)
    };
    assert_eq!(request(other).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(request("acme").send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    assert_eq!(request("org_00000000000000000000000000000001").send().await.unwrap().status(), StatusCode::OK);

    // SSE, served by the connection front, authenticates too.
    let (_, session) = server.call(Method::POST, "/v1/sessions", Some(BOOTSTRAP), Some(json!({}))).await;
    let session = session["id"].as_str().unwrap();
    assert_eq!(server.sse_status(session, None).await, "HTTP/1.1 401 Unauthorized");
    assert_eq!(
        server.sse_status(session, Some("evr_nope0123456789abcdef0123456789abcdef")).await,
        "HTTP/1.1 401 Unauthorized"
    );
    assert_eq!(server.sse_status(session, Some(BOOTSTRAP)).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn organizations_are_isolated_on_every_path() {
    let server = start(true).await;
    let (org_a, key_a) = server.register("acme").await;
    let (org_b, key_b) = server.register("globex").await;
    assert_ne!(org_a, org_b);
    assert!(key_a.starts_with("evr_") && key_a.len() == 68);

    // Each organization is seeded: models to run turns with, and built-in harnesses.
    let (status, models) = server.call(Method::GET, "/v1/models", Some(&key_a), None).await;
    assert_eq!(status, StatusCode::OK, "{models}");
    assert!(!models["data"].as_array().unwrap().is_empty());

    let (status, agent) = server
        .call(Method::POST, "/v1/agents", Some(&key_a), Some(json!({"name": "secret-agent", "system_prompt": "hi"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let agent = agent["id"].as_str().unwrap().to_owned();
    let (_, session) = server.call(Method::POST, "/v1/sessions", Some(&key_a), Some(json!({"agent_id": agent}))).await;
    let session = session["id"].as_str().unwrap().to_owned();
    let message = json!({"message": {"role": "user", "content": [{"type": "text", "text": "hello"}]}});
    let (status, _) = server
        .call(Method::POST, &format!("/v1/sessions/{session}/messages"), Some(&key_a), Some(message.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // Org B sees none of it: reads, writes, deletes and streams all answer 404.
    for (method, path, body) in [
        (Method::GET, format!("/v1/agents/{agent}"), None),
        (Method::PATCH, format!("/v1/agents/{agent}"), Some(json!({"description": "pwned"}))),
        (Method::DELETE, format!("/v1/agents/{agent}"), None),
        (Method::GET, format!("/v1/sessions/{session}"), None),
        (Method::GET, format!("/v1/sessions/{session}/messages"), None),
        (Method::POST, format!("/v1/sessions/{session}/messages"), Some(message.clone())),
        (Method::GET, format!("/v1/sessions/{session}/events"), None),
        (Method::POST, format!("/v1/sessions/{session}/cancel"), None),
        (Method::DELETE, format!("/v1/sessions/{session}"), None),
    ] {
        let (status, body) = server.call(method.clone(), &path, Some(&key_b), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    assert_eq!(server.sse_status(&session, Some(&key_b)).await, "HTTP/1.1 404 Not Found");
    let (_, listed) = server.call(Method::GET, "/v1/agents", Some(&key_b), None).await;
    assert_eq!(listed["total"], 0, "{listed}");
    let (_, listed) = server.call(Method::GET, "/v1/sessions", Some(&key_b), None).await;
    assert_eq!(listed["total"], 0, "{listed}");

    // Org A still has everything, untouched.
    let (status, read) = server.call(Method::GET, &format!("/v1/agents/{agent}"), Some(&key_a), None).await;
    assert_eq!((status, read.get("description").cloned()), (StatusCode::OK, None));
    assert_eq!(server.sse_status(&session, Some(&key_a)).await, "HTTP/1.1 200 OK");
    // And the bootstrap key (default org) sees neither.
    let (status, _) = server.call(Method::GET, &format!("/v1/sessions/{session}"), Some(BOOTSTRAP), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn api_keys_are_created_listed_and_revoked_within_the_org() {
    let server = start(true).await;
    let (_, key_a) = server.register("acme").await;
    let (_, key_b) = server.register("globex").await;

    let (status, created) = server
        .call(Method::POST, "/v1/auth/api-keys", Some(&key_a), Some(json!({"name": "ci", "expires_in_days": 30})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("key_") && created["expires_at"].is_string());
    assert_eq!(created["key_prefix"], secret[..12]);
    let (status, _) = server.call(Method::GET, "/v1/agents", Some(&secret), None).await;
    assert_eq!(status, StatusCode::OK);

    // Listed without secrets; another org does not see it and cannot revoke it.
    let (_, listed) = server.call(Method::GET, "/v1/auth/api-keys", Some(&key_a), None).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    assert!(!listed.to_string().contains(&secret[12..]), "a secret leaked into the list");
    let (_, theirs) = server.call(Method::GET, "/v1/auth/api-keys", Some(&key_b), None).await;
    assert!(!theirs.to_string().contains(&id));
    let (status, body) = server.call(Method::DELETE, &format!("/v1/auth/api-keys/{id}"), Some(&key_b), None).await;
    assert_problem(status, &body, StatusCode::NOT_FOUND, "api_key_not_found");

    // Revoked: the key stops working at once.
    let (status, _) = server.call(Method::DELETE, &format!("/v1/auth/api-keys/{id}"), Some(&key_a), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = server.call(Method::GET, "/v1/agents", Some(&secret), None).await;
    assert_problem(status, &body, StatusCode::UNAUTHORIZED, "unauthorized");

    // Bad input.
    for (body, needle) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "scopes": ["agents:read"]}), "scopes"),
        (json!({"name": "x", "expires_at": "2001-01-01T00:00:00Z"}), "expires_at"),
        (json!({"name": "x", "expires_in_days": 0}), "expires_in_days"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!({"nom": "x"}), "name"),
    ] {
        let (status, answer) = server.call(Method::POST, "/v1/auth/api-keys", Some(&key_a), Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains(needle), "{body}: {answer}");
    }
    let (status, _) = server.call(Method::DELETE, "/v1/auth/api-keys/not-an-id", Some(&key_a), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) =
        server.call(Method::POST, "/v1/auth/register", None, Some(json!({"organization_name": "  "}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
