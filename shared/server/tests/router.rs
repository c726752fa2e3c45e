//! Router tests with `oneshot` (no socket): the REST surface, its envelopes, and every class of
//! bad input answered with a 4xx JSON body — never a 500.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use everruns_server::{ServerAppBuilder, ServerConfig};
use serde_json::{Value, json};

mod support;
use support::{app, assert_error, call, raw};

#[tokio::test]
async fn health_and_request_ids() {
    let app = app().await;
    let (status, body, headers) = call(&app, Method::GET, "/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(headers.contains_key("x-request-id"));
    let request = Request::get("/api/v1/agents").header("x-request-id", "abc-123").body(Body::empty()).unwrap();
    let (_, _, headers) = raw(&app, request).await;
    assert_eq!(headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn the_ui_is_served_at_the_root_and_an_unknown_asset_is_a_json_404() {
    let app = app().await;
    let (status, body, headers) = call(&app, Method::GET, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let page = body.as_str().unwrap();
    let script = page.split("src=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
    let (status, _, headers) = call(&app, Method::GET, script, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
    let (status, body, _) = call(&app, Method::GET, "/assets/nope.js", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no UI asset at /assets/nope.js");
    assert_eq!(body["error"]["code"], "asset_not_found");
    let (status, body, _) = call(&app, Method::POST, "/", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test]
async fn agent_crud_with_upsert_copy_export_import() {
    let app = app().await;
    let create = json!({"name": "support-bot", "system_prompt": "Be kind.", "capabilities": ["current_time"]});
    let (status, agent, _) = call(&app, Method::POST, "/api/v1/agents", Some(create)).await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let id = agent["id"].as_str().unwrap().to_owned();
    assert_eq!(agent["capabilities"][0]["ref"], "current_time");

    // Upsert by name updates (200), not 409.
    let (status, updated, _) =
        call(&app, Method::POST, "/api/v1/agents", Some(json!({"name": "support-bot", "system_prompt": "Be brief."})))
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(updated["system_prompt"], "Be brief.");

    // By id and by name; also without the /api prefix.
    for path in [format!("/api/v1/agents/{id}"), "/api/v1/agents/support-bot".to_owned(), format!("/v1/agents/{id}")] {
        let (status, body, _) = call(&app, Method::GET, &path, None).await;
        assert_eq!((status, body["id"].as_str()), (StatusCode::OK, Some(id.as_str())), "{path}");
    }

    let (status, page, _) = call(&app, Method::GET, "/api/v1/agents?search=SUPPORT&limit=1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((page["total"].as_u64(), page["limit"].as_u64()), (Some(1), Some(1)));

    let (status, patched, _) =
        call(&app, Method::PATCH, &format!("/api/v1/agents/{id}"), Some(json!({"tags": ["a"]}))).await;
    assert_eq!((status, &patched["tags"]), (StatusCode::OK, &json!(["a"])));

    let (status, copy, _) = call(&app, Method::POST, &format!("/api/v1/agents/{id}/copy"), Some(json!({}))).await;
    assert_eq!((status, copy["name"].as_str()), (StatusCode::CREATED, Some("support-bot-copy")));

    let request = Request::get(format!("/api/v1/agents/{id}/export")).body(Body::empty()).unwrap();
    let (status, markdown, headers) = raw(&app, request).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/markdown"));
    let markdown = markdown.as_str().unwrap().replace("name: support-bot", "name: imported-bot");
    let request = Request::post("/api/v1/agents/import")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(markdown))
        .unwrap();
    let (status, imported, _) = raw(&app, request).await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert_eq!(
        (imported["name"].as_str(), imported["system_prompt"].as_str()),
        (Some("imported-bot"), Some("Be brief."))
    );

    let (status, _, _) = call(&app, Method::DELETE, &format!("/api/v1/agents/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, archived, _) = call(&app, Method::GET, &format!("/api/v1/agents/{id}"), None).await;
    assert_eq!(archived["status"], "archived");
    assert!(archived["archived_at"].is_string());
}

#[tokio::test]
async fn bad_input_is_a_4xx_json_body() {
    let app = app().await;
    // Malformed JSON.
    let request = Request::post("/api/v1/agents")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"name\": "))
        .unwrap();
    let (status, body, headers) = raw(&app, request).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "malformed JSON");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    // Wrong field types.
    let (status, body, _) = call(&app, Method::POST, "/api/v1/agents", Some(json!({"name": 5}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "invalid request body");
    // Invalid names.
    for name in ["Bad Name", "under_score", "-x", ""] {
        let (status, body, _) =
            call(&app, Method::POST, "/api/v1/agents", Some(json!({"name": name, "system_prompt": "p"}))).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "name");
    }
    // Malformed and unknown ids.
    let (status, body, _) = call(&app, Method::GET, "/api/v1/agents/agent_123", None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "32 lowercase hex");
    let (status, body, _) = call(&app, Method::GET, "/api/v1/sessions/session_nope", None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "session");
    let unknown = "session_0190a1b2c3d47e8f9a0b1c2d3e4f5a6b";
    let (status, body, _) = call(&app, Method::GET, &format!("/api/v1/sessions/{unknown}"), None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not found");
    assert_eq!(body["error"]["code"], "session_not_found");
    let (status, body, _) =
        call(&app, Method::GET, "/api/v1/agents/agent_0190a1b2c3d47e8f9a0b1c2d3e4f5a6b", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not found");
    // Both harness_id and harness_name.
    let both = json!({"name": "x", "system_prompt": "p", "harness_id": "harness_0190a1b2c3d47e8f9a0b1c2d3e4f5a6b", "harness_name": "generic"});
    let (status, body, _) = call(&app, Method::POST, "/api/v1/agents", Some(both)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "mutually exclusive");
    let both = json!({"harness_id": "harness_0190a1b2c3d47e8f9a0b1c2d3e4f5a6b", "harness_name": "generic"});
    let (status, body, _) = call(&app, Method::POST, "/api/v1/sessions", Some(both)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "mutually exclusive");
    // Unknown capability.
    let (status, body, _) = call(
        &app,
        Method::POST,
        "/api/v1/agents",
        Some(json!({"name": "x", "system_prompt": "p", "capabilities": ["nope"]})),
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "unknown capability 'nope'");
    // Oversize body.
    let big = format!("{{\"name\":\"x\",\"system_prompt\":\"{}\"}}", "a".repeat(11 * 1024 * 1024));
    let request =
        Request::post("/api/v1/agents").header(header::CONTENT_TYPE, "application/json").body(Body::from(big)).unwrap();
    let (status, body, _) = raw(&app, request).await;
    assert_error(status, &body, StatusCode::PAYLOAD_TOO_LARGE, "limit of 10485760 bytes");
    // Unknown route and wrong method.
    let (status, body, _) = call(&app, Method::GET, "/api/v1/nothing-here", None).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "no route");
    let (status, body, headers) = call(&app, Method::PUT, "/api/v1/sessions", Some(json!({}))).await;
    assert_error(status, &body, StatusCode::METHOD_NOT_ALLOWED, "method PUT is not allowed");
    assert_eq!(body["title"], "Method Not Allowed");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    // Messages say what JSON is expected, never which Rust type.
    let (status, body, _) = call(&app, Method::POST, "/api/v1/agents", Some(json!("a string"))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "expected a JSON object");
    assert!(!body.to_string().contains("struct"), "{body}");
    // A text body that is not UTF-8 is a problem+json 400, not axum's text/plain.
    let request = Request::post("/api/v1/agents/import")
        .header(header::CONTENT_TYPE, "text/markdown")
        .body(Body::from(vec![0xff, 0xfe, 0x00, 0x41]))
        .unwrap();
    let (status, body, headers) = raw(&app, request).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "not UTF-8");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    // An error disclosure that is not a mode.
    let (_, session, _) = call(&app, Method::POST, "/api/v1/sessions", Some(json!({}))).await;
    let message = json!({"message": {"content": [{"type": "text", "text": "hi"}]}, "controls": {"error_disclosure": "everything"}});
    let path = format!("/api/v1/sessions/{}/messages", session["id"].as_str().unwrap());
    let (status, body, _) = call(&app, Method::POST, &path, Some(message)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "controls.error_disclosure");
    // Garbage that used to be stored: each refusal names its field.
    let tags: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
    for (input, field) in [
        (json!({"title": "nul\u{0}title"}), "title"),
        (json!({"locale": "not a locale !!!"}), "locale"),
        (json!({"tags": tags}), "tags"),
        (json!({"initial_files": [{"path": "../../etc/passwd", "content": "x"}]}), "initial_files[0].path"),
        (
            json!({"initial_files": [{"path": "a.txt", "content": "x", "encoding": "rot13"}]}),
            "initial_files[0].encoding",
        ),
        (
            json!({"initial_files": [{"path": "a.bin", "content": "not base64!!", "encoding": "base64"}]}),
            "initial_files[0].content",
        ),
    ] {
        let (status, body, _) = call(&app, Method::POST, "/api/v1/sessions", Some(input)).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, field);
    }
    let (status, body, _) =
        call(&app, Method::POST, "/api/v1/providers", Some(json!({"name": "bad\u{7}name", "provider_type": "openai"})))
            .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "name must not contain control characters");
    // Pagination bounds.
    let (status, body, _) = call(&app, Method::GET, "/api/v1/agents?limit=0", None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "limit");
    let (status, body, _) = call(&app, Method::GET, "/api/v1/agents?limit=abc", None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "query");
}

#[tokio::test]
async fn harness_parent_cycles_and_empty_images_are_refused() {
    let app = app().await;
    let (status, a, _) =
        call(&app, Method::POST, "/api/v1/harnesses", Some(json!({"name": "cycle-a", "system_prompt": "a"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let b = json!({"name": "cycle-b", "system_prompt": "b", "parent_harness_id": a["id"]});
    let (status, b, _) = call(&app, Method::POST, "/api/v1/harnesses", Some(b)).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let path = format!("/api/v1/harnesses/{}", a["id"].as_str().unwrap());
    let (status, body, _) = call(&app, Method::PATCH, &path, Some(json!({"parent_harness_id": b["id"]}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "cycle");

    let (_, session, _) = call(&app, Method::POST, "/api/v1/sessions", Some(json!({}))).await;
    let path = format!("/api/v1/sessions/{}/messages", session["id"].as_str().unwrap());
    let image = json!({"message": {"content": [{"type": "image"}]}});
    let (status, body, _) = call(&app, Method::POST, &path, Some(image)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "image part");
}

#[tokio::test]
async fn provider_base_urls_follow_the_outbound_policy() {
    // DEV_MODE reaches loopback (local model servers) but never the metadata service.
    let dev = app().await;
    let create = |url: &str| json!({"name": "p", "provider_type": "openai", "base_url": url});
    let (status, _, _) = call(&dev, Method::POST, "/api/v1/providers", Some(create("http://127.0.0.1:11434/v1"))).await;
    assert_eq!(status, StatusCode::CREATED);
    for url in ["http://169.254.169.254/latest/meta-data", "file:///etc/passwd", "not a url\u{0}", "http://10.0.0.1/v1"]
    {
        let (status, body, _) = call(&dev, Method::POST, "/api/v1/providers", Some(create(url))).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "base_url");
    }
    // Outside DEV_MODE nothing internal, by address or by name; updates are checked too.
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 0;
    config.outbound = everruns_driver_common::outbound::OutboundPolicy::STRICT;
    let strict = ServerAppBuilder::new(config).build().await.unwrap().router;
    for url in
        ["http://127.0.0.1:9000/v1/agents?x=", "http://127.0.0.1:1/", "http://localhost:8080/v1", "http://[::1]/"]
    {
        let (status, body, _) = call(&strict, Method::POST, "/api/v1/providers", Some(create(url))).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, "internal address");
    }
    let (status, provider, _) =
        call(&strict, Method::POST, "/api/v1/providers", Some(json!({"name": "p", "provider_type": "openai"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/api/v1/providers/{}", provider["id"].as_str().unwrap());
    let (status, body, _) = call(&strict, Method::PATCH, &path, Some(json!({"base_url": "http://127.0.0.1:1/"}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "base_url");
}

#[tokio::test]
async fn sessions_messages_events_and_filters() {
    let app = app().await;
    let (status, session, _) = call(&app, Method::POST, "/api/v1/sessions", Some(json!({"title": "t"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(session["status"], "started");
    let id = session["id"].as_str().unwrap().to_owned();

    // Unknown event types in filters → 400 naming the parameter.
    let (status, body, _) =
        call(&app, Method::GET, &format!("/api/v1/sessions/{id}/events?types=bogus.type"), None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "types: unknown event type 'bogus.type'");
    let (status, body, _) = call(&app, Method::GET, &format!("/api/v1/sessions/{id}/sse?exclude=nope"), None).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "exclude: unknown event type 'nope'");

    // A turn runs in the in-process worker.
    let message = json!({"message": {"role": "user", "content": [{"type": "text", "text": "ping"}]}});
    let (status, posted, _) = call(&app, Method::POST, &format!("/api/v1/sessions/{id}/messages"), Some(message)).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let mut events = Value::Null;
    for _ in 0..200 {
        let (_, body, _) = call(&app, Method::GET, &format!("/api/v1/sessions/{id}/events"), None).await;
        if body["data"].as_array().unwrap().iter().any(|e| e["type"] == "session.idled") {
            events = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let types: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"session.started"));
    assert!(types.contains(&"turn.completed"), "{types:?}");
    assert!(!types.contains(&"output.message.delta"), "deltas are never listed");

    let (_, filtered, _) =
        call(&app, Method::GET, &format!("/api/v1/sessions/{id}/events?types=turn.started&types=turn.completed"), None)
            .await;
    let filtered: Vec<&str> =
        filtered["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(filtered, ["turn.started", "turn.completed"]);
    let (_, excluded, _) =
        call(&app, Method::GET, &format!("/api/v1/sessions/{id}/events?exclude=llm.generation"), None).await;
    assert!(excluded["data"].as_array().unwrap().iter().all(|e| e["type"] != "llm.generation"));
    let (_, last, headers) = call(&app, Method::GET, &format!("/api/v1/sessions/{id}/events?limit=2"), None).await;
    assert_eq!(last["data"].as_array().unwrap().len(), 2);
    assert!(headers.contains_key("x-total-count"));

    let (_, messages, _) = call(&app, Method::GET, &format!("/api/v1/sessions/{id}/messages"), None).await;
    let texts: Vec<&str> =
        messages["data"].as_array().unwrap().iter().map(|m| m["content"][0]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["ping", "Echo: ping"]);

    // Tool results while not waiting → 409 with the SDK's substring; empty → 400.
    let body = json!({"tool_results": [{"tool_call_id": "call_1", "result": 1}]});
    let (status, err, _) = call(&app, Method::POST, &format!("/api/v1/sessions/{id}/tool-results"), Some(body)).await;
    assert_error(status, &err, StatusCode::CONFLICT, "not waiting for tool results");
    let (status, err, _) =
        call(&app, Method::POST, &format!("/api/v1/sessions/{id}/tool-results"), Some(json!({"tool_results": []})))
            .await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "empty");

    // Cancel when idle is a no-op; a user cannot post agent messages.
    let (status, cancel, _) = call(&app, Method::POST, &format!("/api/v1/sessions/{id}/cancel"), Some(json!({}))).await;
    assert_eq!((status, cancel["status"].as_str()), (StatusCode::OK, Some("no_op")));
    let agent_msg = json!({"message": {"role": "agent", "content": [{"type": "text", "text": "x"}]}});
    let (status, err, _) = call(&app, Method::POST, &format!("/api/v1/sessions/{id}/messages"), Some(agent_msg)).await;
    assert_error(status, &err, StatusCode::BAD_REQUEST, "user");
}

#[tokio::test]
async fn providers_never_echo_keys_and_models_list_llmsim() {
    let app = app().await;
    let (status, provider, _) = call(
        &app,
        Method::POST,
        "/api/v1/providers",
        Some(json!({"name": "OpenAI", "provider_type": "openai", "api_key": "sk-test-SECRET123"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(provider["api_key_set"], true);
    let id = provider["id"].as_str().unwrap();
    for path in ["/api/v1/providers".to_owned(), format!("/api/v1/providers/{id}")] {
        let (_, body, _) = call(&app, Method::GET, &path, None).await;
        assert!(!body.to_string().contains("SECRET123"), "{path} leaked the key");
    }
    assert!(!provider.to_string().contains("SECRET123"));
    let (status, body, _) =
        call(&app, Method::POST, "/api/v1/providers", Some(json!({"name": "x", "provider_type": "  "}))).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "configuration error");

    let (_, models, _) = call(&app, Method::GET, "/api/v1/models", None).await;
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["model_id"].as_str().unwrap()).collect();
    for expected in [
        "llmsim-echo",
        "llmsim-tools",
        "llmsim-slow",
        "llmsim-fail",
        "gpt-4.1-mini",
        "claude-sonnet-4-5",
        "gemini-2.5-flash",
    ] {
        assert!(ids.contains(&expected), "{ids:?}");
    }
    let (_, caps, _) = call(&app, Method::GET, "/api/v1/capabilities", None).await;
    assert!(caps["data"].as_array().unwrap().iter().any(|c| c["id"] == "test_math"), "dev grade shows experimental");
    let (status, _, _) = call(&app, Method::GET, "/api/v1/capabilities/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, harnesses, _) = call(&app, Method::GET, "/api/v1/harnesses", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(harnesses["data"].as_array().unwrap().iter().any(|h| h["name"] == "generic" && h["is_built_in"] == true));
    let (status, body, _) =
        call(&app, Method::PATCH, "/api/v1/harnesses/generic", Some(json!({"description": "x"}))).await;
    assert_error(status, &body, StatusCode::FORBIDDEN, "read-only");
    let (status, examples, _) = call(&app, Method::GET, "/api/v1/harness-examples", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(examples.as_array().is_some_and(|a| !a.is_empty()));
}

#[tokio::test]
async fn custom_routes_and_platform_from_the_embedding_guide() {
    use axum::routing::get;
    use everruns_core::{BuiltInCapabilityDefinition, BuiltInHarnessDefinition, BuiltInHarnessRole};
    let mut platform = everruns_server::oss_platform_definition();
    platform.built_in_harnesses_mut().retain(|h| !h.has_role(BuiltInHarnessRole::Default));
    platform.built_in_harnesses_mut().push(
        BuiltInHarnessDefinition::new("minimal", "Minimal", "Small default harness.", "You are a helpful assistant.")
            .with_roles([BuiltInHarnessRole::Default])
            .with_capabilities([BuiltInCapabilityDefinition::new("current_time")]),
    );
    let custom = Router::new().route("/v1/ping", get(|| async { "pong" }));
    let config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    let app = ServerAppBuilder::new(config).platform_definition(platform).routes(custom).build().await.unwrap().router;
    let (status, body, _) = call(&app, Method::GET, "/api/v1/ping", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, Some("pong")));
    // Sessions without a harness land on the renamed Default-role harness.
    let (_, session, _) = call(&app, Method::POST, "/api/v1/sessions", Some(json!({}))).await;
    let (_, harness, _) =
        call(&app, Method::GET, &format!("/api/v1/harnesses/{}", session["harness_id"].as_str().unwrap()), None).await;
    assert_eq!(harness["name"], "minimal");
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 2;
    let app = ServerAppBuilder::new(config).build().await.unwrap().router;
    for _ in 0..2 {
        let (status, _, _) = call(&app, Method::GET, "/api/v1/agents", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body, headers) = call(&app, Method::GET, "/api/v1/agents", None).await;
    assert_error(status, &body, StatusCode::TOO_MANY_REQUESTS, "rate limit");
    assert!(headers.contains_key(header::RETRY_AFTER));
    // Health is never limited.
    assert_eq!(call(&app, Method::GET, "/health", None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn cors_allows_listed_origins_with_credentials() {
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.cors_allowed_origins = vec!["https://app.example.com".into()];
    let app = ServerAppBuilder::new(config).build().await.unwrap().router;
    let request =
        Request::get("/api/v1/agents").header("origin", "https://app.example.com").body(Body::empty()).unwrap();
    let (_, _, headers) = raw(&app, request).await;
    assert_eq!(headers["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let request = Request::get("/api/v1/agents").header("origin", "https://evil.example").body(Body::empty()).unwrap();
    let (_, _, headers) = raw(&app, request).await;
    assert!(!headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn wildcard_cors_and_missing_key_refuse_to_start() {
    let config = ServerConfig::from_lookup(|name| match name {
        "DEV_MODE" => Some("true".into()),
        "CORS_ALLOWED_ORIGINS" => Some("*".into()),
        _ => None,
    });
    let err = ServerAppBuilder::new(config).build().await.err().unwrap().to_string();
    assert!(err.contains("'*' cannot be used"), "{err}");
    let config = ServerConfig::from_lookup(|name| {
        (name == "DEV_MODE")
            .then(|| "true".into())
            .or_else(|| (name == "SECRETS_ENCRYPTION_KEY").then(|| "kek-v1:short".into()))
    });
    let err = ServerAppBuilder::new(config).build().await.err().unwrap().to_string();
    assert!(err.contains("SECRETS_ENCRYPTION_KEY"), "{err}");
}

#[tokio::test]
async fn default_provider_keys_apply_only_when_no_key_is_stored() {
    use everruns_core::ids::{OrgId, SessionId};
    let config = ServerConfig::from_lookup(|name| match name {
        "DEV_MODE" => Some("true".into()),
        "DEFAULT_OPENAI_API_KEY" => Some("sk-from-env".into()),
        _ => None,
    });
    let app = ServerAppBuilder::new(config).build().await.unwrap();
    let router = app.router.clone();
    let mut resolved = Vec::new();
    for key in [None, Some("sk-stored")] {
        let mut body = json!({"name": "OpenAI", "provider_type": "openai"});
        if let Some(key) = key {
            body["api_key"] = json!(key);
        }
        let (_, provider, _) = call(&router, Method::POST, "/api/v1/providers", Some(body)).await;
        let path = format!("/api/v1/providers/{}/models", provider["id"].as_str().unwrap());
        let (_, model, _) =
            call(&router, Method::POST, &path, Some(json!({"model_id": "gpt-4o", "display_name": "GPT-4o"}))).await;
        let (_, session, _) =
            call(&router, Method::POST, "/api/v1/sessions", Some(json!({"model_id": model["id"]}))).await;
        let session = SessionId::parse(session["id"].as_str().unwrap()).unwrap();
        let context = app.state.turns.load_context(OrgId::DEFAULT, session).await.unwrap();
        resolved.push(context.model.and_then(|m| m.api_key));
    }
    assert_eq!(resolved, [Some("sk-from-env".to_owned()), Some("sk-stored".to_owned())], "a stored key wins");
}

/// Deleting a session: an idle one goes at once; a running one has its turn cancelled first, and
/// both are gone afterwards (404); an unknown id is a 404 and a malformed one a 400, each a JSON body.
#[tokio::test]
async fn deleting_sessions_idle_running_unknown_and_malformed() {
    let app = app().await;
    let models = call(&app, Method::GET, "/api/v1/models", None).await.1;
    let slow =
        models["data"].as_array().unwrap().iter().find(|m| m["model_id"] == "llmsim-slow").unwrap()["id"].clone();
    let mut ids = Vec::new();
    for body in [json!({}), json!({"model_id": slow})] {
        let (status, session, _) = call(&app, Method::POST, "/api/v1/sessions", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{session}");
        ids.push(session["id"].as_str().unwrap().to_owned());
    }
    let (idle, running) = (&ids[0], &ids[1]);
    let message = json!({"message": {"role": "user", "content": [{"type": "text", "text": "a long story"}]}});
    let (status, _, _) = call(&app, Method::POST, &format!("/api/v1/sessions/{running}/messages"), Some(message)).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, session, _) = call(&app, Method::GET, &format!("/api/v1/sessions/{running}"), None).await;
    assert_eq!(session["status"], "active", "{session}");

    for id in [idle, running] {
        let (status, body, _) = call(&app, Method::DELETE, &format!("/api/v1/sessions/{id}"), None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        let (status, body, _) = call(&app, Method::GET, &format!("/api/v1/sessions/{id}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not found");
        let (status, body, _) = call(&app, Method::DELETE, &format!("/api/v1/sessions/{id}"), None).await;
        assert_error(status, &body, StatusCode::NOT_FOUND, "not found");
    }
    let (status, body, _) = call(&app, Method::DELETE, "/api/v1/sessions/not-a-session-id", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}
