//! What `web_fetch` refuses: internal addresses under `OutboundPolicy::STRICT` (literal, by name,
//! behind a redirect), other schemes, credentials in URLs, hosts the session's network access list
//! blocks or does not allow, and bad arguments. Every refusal is a tool error, never a panic.

mod common;

use everruns_core::capabilities::ToolContext;
use everruns_core::domain::NetworkAccessList;
use everruns_core::ids::SessionId;
use everruns_driver_common::outbound::OutboundPolicy;
use everruns_web_fetch::{WEB_FETCH, WebFetchCapability};
use serde_json::{Value, json};

use common::{LOOPBACK, fetch, run, serve, workspace};

const STRICT: OutboundPolicy = OutboundPolicy::STRICT;

#[tokio::test]
async fn internal_addresses_are_refused() {
    let base = serve().await;
    let err = fetch(STRICT, &format!("{base}/page")).await.unwrap_err();
    assert_eq!(err, "refused: 127.0.0.1 is a loopback address, which this deployment does not reach");
    let err = fetch(STRICT, "http://169.254.169.254/latest/meta-data").await.unwrap_err();
    assert!(err.starts_with("refused: 169.254.169.254 is a link-local address"), "{err}");
    let err = fetch(STRICT, "http://10.0.0.1/").await.unwrap_err();
    assert!(err.starts_with("refused: 10.0.0.1 is a private network address"), "{err}");
    let err = fetch(STRICT, "http://[::1]/").await.unwrap_err();
    assert!(err.starts_with("refused: ::1 is a loopback address"), "{err}");
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused() {
    let base = serve().await;
    let port = base.rsplit(':').next().unwrap();
    let err = fetch(STRICT, &format!("http://localhost:{port}/page")).await.unwrap_err();
    assert!(err.starts_with("refused: localhost resolves to "), "{err}");
    assert!(err.contains("internal address"), "{err}");
    let ok = fetch(LOOPBACK, &format!("http://localhost:{port}/page")).await.unwrap();
    assert_eq!(ok["status"], 200, "the same name under a policy allowing loopback");
}

#[tokio::test]
async fn redirects_to_forbidden_places_are_refused() {
    let base = serve().await;
    let err = fetch(LOOPBACK, &format!("{base}/to-metadata")).await.unwrap_err();
    assert!(err.contains("redirect to http://169.254.169.254/latest/meta-data refused: 169.254.169.254"), "{err}");
    let err = fetch(LOOPBACK, &format!("{base}/to-file")).await.unwrap_err();
    assert!(err.contains("must use http or https"), "{err}");
}

#[tokio::test]
async fn other_schemes_and_credentials_are_refused() {
    for (url, why) in [
        ("file:///etc/passwd", "must use http or https (got file)"),
        ("ftp://example.com/x", "must use http or https (got ftp)"),
        ("https://user:secret@example.com/", "must not carry credentials"),
        ("https://user@example.com/", "must not carry credentials"),
        ("not a url", "is not a URL"),
        ("http://exa\nmple.com/", "control characters"),
    ] {
        let err = fetch(STRICT, url).await.unwrap_err();
        assert!(err.starts_with("refused: the URL ") && err.contains(why), "{url}: {err}");
    }
}

#[tokio::test]
async fn the_session_network_access_list_applies() {
    let base = serve().await;
    let port = base.rsplit(':').next().unwrap();
    let workspace = workspace();
    let cap = WebFetchCapability::with_policy(LOOPBACK);
    let call = |list: NetworkAccessList, url: String| {
        let workspace = &workspace;
        let cap = &cap;
        async move {
            let mut ctx = ToolContext::new(SessionId::new(), workspace);
            ctx.network_access = Some(&list);
            run(cap, WEB_FETCH, json!({"url": url}), json!({}), &ctx).await
        }
    };
    let blocked = NetworkAccessList { allowed: vec![], blocked: vec!["localhost".into()] };
    let err = call(blocked.clone(), format!("http://localhost:{port}/page")).await.unwrap_err();
    assert_eq!(err, "refused: localhost is blocked by this session's network access list");
    assert!(call(blocked, format!("{base}/page")).await.is_ok(), "127.0.0.1 is another host");

    let allowed = NetworkAccessList { allowed: vec!["127.0.0.1".into(), "*.example.com".into()], blocked: vec![] };
    assert!(call(allowed.clone(), format!("{base}/page")).await.is_ok());
    let err = call(allowed, format!("http://localhost:{port}/page")).await.unwrap_err();
    assert!(err.contains("not among the hosts"), "{err}");

    let only_localhost = NetworkAccessList { allowed: vec!["localhost".into()], blocked: vec![] };
    let err = call(only_localhost, format!("http://localhost:{port}/redirect-elsewhere")).await;
    assert_eq!(err.unwrap()["status"], 404, "allowed host, unknown path");
    let redirect_out = NetworkAccessList { allowed: vec!["127.0.0.1".into()], blocked: vec![] };
    let err = call(redirect_out, format!("{base}/to-metadata")).await.unwrap_err();
    assert!(err.contains("redirect to http://169.254.169.254"), "{err}");
}

#[tokio::test]
async fn bad_arguments_are_tool_errors() {
    let workspace = workspace();
    let ctx = ToolContext::new(SessionId::new(), &workspace);
    let cap = WebFetchCapability::with_policy(STRICT);
    for (args, why) in [
        (json!({}), "missing required argument 'url'"),
        (json!({"url": null}), "missing required argument 'url'"),
        (json!({"url": 42}), "url must be a string"),
        (json!({"url": ["https://example.com"]}), "url must be a string"),
        (json!({"url": "  "}), "url must not be empty"),
        (json!({"url": "https://example.com", "max_bytes": 0}), "max_bytes must be a positive integer"),
        (json!({"url": "https://example.com", "max_bytes": "10"}), "max_bytes must be a positive integer"),
        (Value::Null, "missing required argument 'url'"),
    ] {
        let err = run(&cap, WEB_FETCH, args.clone(), json!({}), &ctx).await.unwrap_err();
        assert_eq!(err, why, "{args}");
    }
    let err = run(&cap, "web_search", json!({}), json!({}), &ctx).await.unwrap_err();
    assert!(err.contains("unknown tool"), "{err}");
}
