//! A fake web server on 127.0.0.1 for the capability's tests, and helpers to call the tools.

#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use everruns_core::capabilities::{Capability, ToolContext, ToolOutcome};
use everruns_core::ids::SessionId;
use everruns_core::ports::StoreWorkspace;
use everruns_driver_common::outbound::OutboundPolicy;
use everruns_web_fetch::WebFetchCapability;
use serde_json::{Value, json};

/// The page `/page` serves.
pub const PAGE: &str = r#"<!doctype html><html><head><title>Fake &amp; Page</title>
<style>body { font: serif }</style><script>alert("hidden")</script></head>
<body><h1>Welcome</h1><p>Hello,   <b>world</b>!</p>
<p>Read <a href="/data.json">the data</a>.</p><noscript>no js</noscript></body></html>"#;

/// Bytes `/file.bin` serves.
pub const FILE_BYTES: &[u8] = &[0, 1, 2, 3, 254, 255, b'x'];

/// A policy that reaches the fake server (loopback) but nothing private.
pub const LOOPBACK: OutboundPolicy = OutboundPolicy { allow_loopback: true, allow_private: false };

/// Starts the fake server; returns its base URL (`http://127.0.0.1:<port>`).
pub async fn serve() -> String {
    let router = Router::new()
        .route("/page", get(|| async { html(PAGE) }))
        .route(
            "/data.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], r#"{"a": [1, 2], "b": "x<y"}"#) }),
        )
        .route("/big", get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "0123456789".repeat(1000)) }))
        .route("/redirect", get(|| async { Redirect::temporary("/page") }))
        .route("/twice", get(|| async { Redirect::to("/redirect") }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/to-metadata", get(|| async { Redirect::temporary("http://169.254.169.254/latest/meta-data") }))
        .route("/to-file", get(|| async { Redirect::temporary("file:///etc/passwd") }))
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, html("<h1>Not here</h1>")) }))
        .route("/image.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], FILE_BYTES) }))
        .route("/file.bin", get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], FILE_BYTES) }))
        .route(
            "/huge.bin",
            get(|| async { ([(header::CONTENT_TYPE, "application/octet-stream")], vec![7u8; 3 * 1024 * 1024]) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let address = listener.local_addr().expect("the bound address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}")
}

fn html(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// A workspace over the in-memory stores.
pub fn workspace() -> StoreWorkspace {
    let stores = everruns_store_memory::memory_stores();
    StoreWorkspace::new(stores.files.clone(), stores.values.clone(), None)
}

/// Runs a tool with the given config in a fresh context over `workspace`.
pub async fn run(
    capability: &WebFetchCapability,
    tool: &str,
    arguments: Value,
    config: Value,
    ctx: &ToolContext<'_>,
) -> ToolOutcome {
    capability.execute_tool(tool, &arguments, &config, ctx).await
}

/// `web_fetch` of `url` with no config, under `policy`, in a context without a network list.
pub async fn fetch(policy: OutboundPolicy, url: &str) -> ToolOutcome {
    let workspace = workspace();
    let ctx = ToolContext::new(SessionId::new(), &workspace);
    run(&WebFetchCapability::with_policy(policy), "web_fetch", json!({"url": url}), json!({}), &ctx).await
}
