//! `web_fetch` and `save_to_file` against a fake server on loopback, under a policy that allows
//! loopback: HTML reduced, JSON passed through, truncation, redirects, error statuses as results,
//! non-text refused, the timeout, downloads into the workspace, and the tools' shapes.

mod common;

use std::time::Duration;

use everruns_core::capabilities::{Capability, ToolContext};
use everruns_core::ids::SessionId;
use everruns_core::ports::SessionWorkspace;
use everruns_web_fetch::{SAVE_TO_FILE, WEB_FETCH, WebFetchCapability};
use serde_json::json;

use common::{FILE_BYTES, LOOPBACK, fetch, run, serve, workspace};

#[tokio::test]
async fn html_is_reduced_to_text() {
    let base = serve().await;
    let out = fetch(LOOPBACK, &format!("{base}/page")).await.unwrap();
    assert_eq!(out["url"], format!("{base}/page"));
    assert_eq!(out["status"], 200);
    assert_eq!(out["content_type"], "text/html; charset=utf-8");
    assert_eq!(out["title"], "Fake & Page");
    assert_eq!(out["truncated"], false);
    assert_eq!(out["content"], format!("# Welcome\n\nHello, world!\n\nRead [the data]({base}/data.json)."));
}

#[tokio::test]
async fn json_is_passed_through() {
    let base = serve().await;
    let out = fetch(LOOPBACK, &format!("{base}/data.json")).await.unwrap();
    assert_eq!(out["content"], r#"{"a": [1, 2], "b": "x<y"}"#);
    assert_eq!(out["content_type"], "application/json");
    assert!(out.get("title").is_none(), "{out}");
}

#[tokio::test]
async fn bodies_are_cut_at_max_bytes() {
    let base = serve().await;
    let workspace = workspace();
    let ctx = ToolContext::new(SessionId::new(), &workspace);
    let cap = WebFetchCapability::with_policy(LOOPBACK);
    let url = format!("{base}/big");
    let out = run(&cap, WEB_FETCH, json!({"url": url, "max_bytes": 25}), json!({}), &ctx).await.unwrap();
    assert_eq!(out["content"], "0123456789012345678901234");
    assert_eq!(out["truncated"], true);
    let whole = run(&cap, WEB_FETCH, json!({"url": url}), json!({}), &ctx).await.unwrap();
    assert_eq!((whole["content"].as_str().map(str::len), &whole["truncated"]), (Some(10_000), &json!(false)));
    let config = json!({"max_bytes": 100});
    let capped = run(&cap, WEB_FETCH, json!({"url": url, "max_bytes": 5000}), config, &ctx).await.unwrap();
    assert_eq!((capped["content"].as_str().map(str::len), &capped["truncated"]), (Some(100), &json!(true)));
}

#[tokio::test]
async fn redirects_are_followed_and_reported() {
    let base = serve().await;
    let out = fetch(LOOPBACK, &format!("{base}/twice")).await.unwrap();
    assert_eq!(out["url"], format!("{base}/page"), "the final URL");
    assert_eq!(out["title"], "Fake & Page");
    let looped = fetch(LOOPBACK, &format!("{base}/loop")).await.unwrap_err();
    assert!(looped.contains("stopped after 5 redirects"), "{looped}");
}

#[tokio::test]
async fn error_statuses_are_results() {
    let base = serve().await;
    let out = fetch(LOOPBACK, &format!("{base}/missing")).await.unwrap();
    assert_eq!(out["status"], 404);
    assert_eq!(out["content"], "# Not here");
    let none = fetch(LOOPBACK, &format!("{base}/nowhere")).await.unwrap();
    assert_eq!(none["status"], 404);
}

#[tokio::test]
async fn binary_content_is_refused_with_a_hint() {
    let base = serve().await;
    let err = fetch(LOOPBACK, &format!("{base}/image.png")).await.unwrap_err();
    assert!(err.contains("image/png, not text"), "{err}");
    assert!(!err.contains("save_to_file"), "no hint when downloads are off: {err}");
    let workspace = workspace();
    let ctx = ToolContext::new(SessionId::new(), &workspace);
    let cap = WebFetchCapability::with_policy(LOOPBACK);
    let args = json!({"url": format!("{base}/image.png")});
    let err = run(&cap, WEB_FETCH, args, json!({"enable_file_download": true}), &ctx).await.unwrap_err();
    assert!(err.contains("save_to_file"), "{err}");
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let base = serve().await;
    let workspace = workspace();
    let ctx = ToolContext::new(SessionId::new(), &workspace);
    let cap = WebFetchCapability::with_policy(LOOPBACK).with_timeout(Duration::from_millis(300));
    let err = run(&cap, WEB_FETCH, json!({"url": format!("{base}/slow")}), json!({}), &ctx).await.unwrap_err();
    assert!(err.contains("timed out after 0.3 s"), "{err}");
}

#[tokio::test]
async fn save_to_file_writes_into_the_workspace() {
    let base = serve().await;
    let workspace = workspace();
    let session = SessionId::new();
    let ctx = ToolContext::new(session, &workspace);
    let cap = WebFetchCapability::with_policy(LOOPBACK);
    let config = json!({"enable_file_download": true});
    let args = json!({"url": format!("{base}/file.bin"), "path": "/workspace/downloads/file.bin"});
    let out = run(&cap, SAVE_TO_FILE, args.clone(), config.clone(), &ctx).await.unwrap();
    assert_eq!(out["path"], "/workspace/downloads/file.bin");
    assert_eq!((out["bytes"].as_u64(), &out["created"], &out["status"]), (Some(7), &json!(true), &json!(200)));
    let file = workspace.read_file(session, "downloads/file.bin").await.unwrap().unwrap();
    assert_eq!(file.content, FILE_BYTES);
    assert!(!file.is_readonly);
    let again = run(&cap, SAVE_TO_FILE, args, config.clone(), &ctx).await.unwrap();
    assert_eq!(again["created"], false, "an overwrite");

    let follow = json!({"url": format!("{base}/redirect"), "path": "page.html"});
    let page = run(&cap, SAVE_TO_FILE, follow, config.clone(), &ctx).await.unwrap();
    assert_eq!(page["url"], format!("{base}/page"));
    let saved = workspace.read_file(session, "page.html").await.unwrap().unwrap();
    assert_eq!(saved.content, common::PAGE.as_bytes(), "saved as sent, not reduced");
}

#[tokio::test]
async fn save_to_file_refuses_what_it_cannot_keep() {
    let base = serve().await;
    let workspace = workspace();
    let session = SessionId::new();
    let ctx = ToolContext::new(session, &workspace);
    let cap = WebFetchCapability::with_policy(LOOPBACK);
    let config = json!({"enable_file_download": true});
    let huge = json!({"url": format!("{base}/huge.bin"), "path": "huge.bin"});
    let err = run(&cap, SAVE_TO_FILE, huge, config.clone(), &ctx).await.unwrap_err();
    assert!(err.contains("larger than 2097152 bytes"), "{err}");
    let missing = json!({"url": format!("{base}/missing"), "path": "m.html"});
    let err = run(&cap, SAVE_TO_FILE, missing, config.clone(), &ctx).await.unwrap_err();
    assert!(err.contains("404 Not Found; nothing was saved"), "{err}");
    let escape = json!({"url": format!("{base}/file.bin"), "path": "../etc/x"});
    assert!(run(&cap, SAVE_TO_FILE, escape, config.clone(), &ctx).await.unwrap_err().contains(".."));
    let no_path = json!({"url": format!("{base}/file.bin")});
    assert!(run(&cap, SAVE_TO_FILE, no_path, config, &ctx).await.unwrap_err().contains("'path'"));
    let disabled = json!({"url": format!("{base}/file.bin"), "path": "f.bin"});
    let err = run(&cap, SAVE_TO_FILE, disabled, json!({}), &ctx).await.unwrap_err();
    assert!(err.contains("not enabled"), "{err}");
    assert!(workspace.list_files(session, "").await.unwrap().is_empty(), "nothing was written");
}

#[test]
fn tools_info_and_prompt_follow_the_config() {
    let cap = WebFetchCapability::new();
    let names = |config| cap.tools(&config).into_iter().map(|t| t.name).collect::<Vec<_>>();
    assert_eq!(names(json!({})), ["web_fetch"]);
    assert_eq!(names(json!({"enable_file_download": true})), ["web_fetch", "save_to_file"]);
    let info = cap.info();
    assert_eq!((info.id.as_str(), info.name.as_str(), info.status.as_str()), ("web_fetch", "Web Fetch", "available"));
    assert_eq!((info.icon.as_deref(), info.risk_level.as_deref()), (Some("globe"), Some("medium")));
    assert_eq!(cap.id(), "web_fetch");
    assert!(!cap.is_experimental());
    let prompt = cap.system_prompt_contribution(&json!({})).unwrap();
    assert!(prompt.starts_with("<web_fetch>") && prompt.ends_with("</web_fetch>"), "{prompt}");
    assert!(!prompt.contains("save_to_file"));
    let with_download = cap.system_prompt_contribution(&json!({"enable_file_download": true})).unwrap();
    assert!(with_download.contains("save_to_file"));
}
