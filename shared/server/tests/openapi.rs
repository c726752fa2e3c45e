//! The served OpenAPI document against the router: the routes the `http` modules register are
//! exactly the documented operations, every documented operation is routed (never the JSON
//! 404/405 fallbacks), and every other method on a documented path is 405.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use everruns_server::{ServerAppBuilder, ServerConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

mod support;
use support::app;

/// The sources that register routes (`.route("/path", get(a).post(b))`).
const ROUTE_SOURCES: [&str; 9] = [
    include_str!("../../http/src/routes/mod.rs"),
    include_str!("../../http/src/routes/agents.rs"),
    include_str!("../../http/src/routes/harnesses.rs"),
    include_str!("../../http/src/routes/models.rs"),
    include_str!("../../http/src/routes/sessions.rs"),
    include_str!("../../http/src/routes/settings.rs"),
    include_str!("../../http/src/routes/events.rs"),
    include_str!("../../http/src/routes/capabilities.rs"),
    include_str!("../../http/src/routes/auth.rs"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

async fn call(app: &Router, method: &str, uri: &str) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let request = Request::builder().method(method).uri(uri).body(Body::empty()).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// `/v1/providers/{id}/models` and `/v1/providers/{provider_id}/models` name the same route.
fn normalized(path: &str) -> String {
    path.split('/').map(|s| if s.starts_with('{') { "{}" } else { s }).collect::<Vec<_>>().join("/")
}

/// `(method, path)` of every `.route(...)` call in the sources, REST routes under `prefix`.
fn registered(prefix: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for source in ROUTE_SOURCES {
        for call in source.split(".route(\"").skip(1) {
            let (path, rest) = call.split_once('"').unwrap();
            // The method router runs to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap();
            let methods = &rest[..end];
            let path = if path.starts_with("/v1/") { format!("{prefix}{path}") } else { path.to_owned() };
            for method in METHODS {
                let called = methods.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0 || !methods.as_bytes()[i - 1].is_ascii_alphanumeric() && methods.as_bytes()[i - 1] != b'_'
                });
                if called {
                    routes.insert((method.to_owned(), normalized(&path)));
                }
            }
        }
    }
    routes
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.clone(), normalized(path)));
        }
    }
    operations
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let app = app().await;
    let (status, doc) = call(&app, "get", "/api-doc/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    let documented = documented(&doc);
    let registered = registered("/api");
    assert!(registered.len() >= 47, "the source scan found {} routes", registered.len());
    assert_eq!(
        documented.difference(&registered).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not registered"
    );
    assert_eq!(
        registered.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "registered but not documented"
    );

    // The router agrees: each documented operation is routed, each other method is refused.
    let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();
    for path in paths {
        let uri = path.replace("{}", "x");
        for method in METHODS {
            let (status, body) = call(&app, method, &uri).await;
            let routed = status != StatusCode::METHOD_NOT_ALLOWED && body["code"] != "route_not_found";
            let expected = documented.contains(&(method.to_owned(), path.clone()));
            assert_eq!(routed, expected, "{method} {uri}: {status} {body}");
        }
    }
}

#[tokio::test]
async fn the_document_follows_the_api_prefix() {
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 0;
    config.api_prefix = "/v2api".into();
    let app = ServerAppBuilder::new(config).build().await.unwrap().router;
    let (status, doc) = call(&app, "get", "/api-doc/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/v2api/v1/sessions/{session_id}"]["get"].is_object());
    let (status, _) = call(&app, "get", "/v2api/v1/agents").await;
    assert_eq!(status, StatusCode::OK);
}
