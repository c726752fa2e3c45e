//! The Anthropic driver against a loopback fake of the Messages API: streaming, request shape,
//! retries and error mapping.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};

use everruns_anthropic::{AnthropicDriver, register_driver};
use everruns_core::domain::Message;
use everruns_core::driver::{ChatDriver, ChatRequest, DriverError, DriverErrorKind};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry, ResolvedModel};
use everruns_driver_common::RetryPolicy;
use everruns_driver_common::testing::{
    FakeServer, Reply, collect, finish_of, named_events, sample_request, text_of, thinking_of, tool_calls_of, usage_of,
};

fn driver(server: &FakeServer, api_key: Option<&str>) -> AnthropicDriver {
    let config = DriverConfig {
        model: "claude-test".into(),
        api_key: api_key.map(str::to_owned),
        base_url: Some(server.base_url.clone()),
        ..Default::default()
    };
    AnthropicDriver::new(&config)
        .with_retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(2)))
}

fn event(kind: &str, mut data: Value) -> (&str, Value) {
    data["type"] = json!(kind);
    (kind, data)
}

fn delta(index: u64, delta: Value) -> (&'static str, Value) {
    event("content_block_delta", json!({"index": index, "delta": delta}))
}

fn start(index: u64, block: Value) -> (&'static str, Value) {
    event("content_block_start", json!({"index": index, "content_block": block}))
}

fn stop(index: u64) -> (&'static str, Value) {
    event("content_block_stop", json!({"index": index}))
}

/// Thinking, text, and two tool uses (one with streamed input, one without input deltas).
fn full_stream() -> String {
    named_events(&[
        event(
            "message_start",
            json!({"message": {
            "id": "msg_01", "type": "message", "role": "assistant", "content": [], "model": "claude-test-20250101",
            "stop_reason": null, "usage": {"input_tokens": 25, "cache_creation_input_tokens": 100,
                                           "cache_read_input_tokens": 200, "output_tokens": 1}}}),
        ),
        start(0, json!({"type": "thinking", "thinking": "", "signature": ""})),
        delta(0, json!({"type": "thinking_delta", "thinking": "The user wants "})),
        delta(0, json!({"type": "thinking_delta", "thinking": "a forecast."})),
        delta(0, json!({"type": "signature_delta", "signature": "EqQBCgIYAhIM"})),
        stop(0),
        start(1, json!({"type": "text", "text": ""})),
        event("ping", json!({})),
        delta(1, json!({"type": "text_delta", "text": "Checking the "})),
        delta(1, json!({"type": "text_delta", "text": "forecast…"})),
        stop(1),
        start(2, json!({"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}})),
        delta(2, json!({"type": "input_json_delta", "partial_json": ""})),
        delta(2, json!({"type": "input_json_delta", "partial_json": "{\"city\": \"Par"})),
        delta(2, json!({"type": "input_json_delta", "partial_json": "is\", \"day\": 1}"})),
        stop(2),
        start(3, json!({"type": "tool_use", "id": "toolu_02", "name": "now", "input": {}})),
        stop(3),
        event(
            "message_delta",
            json!({"delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 89}}),
        ),
        event("message_stop", json!({})),
    ])
}

fn text_stream(text: &str) -> String {
    named_events(&[
        event(
            "message_start",
            json!({"message": {"id": "m", "model": "c", "usage": {"input_tokens": 3, "output_tokens": 1}}}),
        ),
        start(0, json!({"type": "text", "text": ""})),
        delta(0, json!({"type": "text_delta", "text": text})),
        stop(0),
        event("message_delta", json!({"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}})),
        event("message_stop", json!({})),
    ])
}

#[tokio::test]
async fn streams_text_thinking_tool_uses_usage_and_finish() {
    let server = FakeServer::start(vec![Reply::sse(full_stream())]).await;
    let stream = driver(&server, Some("sk-ant")).chat_stream(sample_request("claude-test")).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&chunks), "Checking the forecast…");
    assert_eq!(thinking_of(&chunks), "The user wants a forecast.");
    let calls = tool_calls_of(&chunks);
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("toolu_01", "get_weather"));
    assert_eq!(calls[0].arguments, json!({"city": "Paris", "day": 1}));
    assert_eq!((calls[1].id.as_str(), calls[1].arguments.clone()), ("toolu_02", json!({})));
    let usage = usage_of(&chunks).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (25, 89));
    assert_eq!((usage.cache_read_tokens, usage.cache_creation_tokens), (Some(200), Some(100)));
    let finish = finish_of(&chunks).unwrap();
    assert_eq!(finish.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(finish.response_id.as_deref(), Some("msg_01"));
    assert_eq!(finish.model.as_deref(), Some("claude-test-20250101"));
}

#[tokio::test]
async fn sends_the_history_tools_and_headers_in_messages_shape() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let mut request = sample_request("claude-test");
    request.reasoning_effort = Some("medium".into());
    request.parallel_tool_calls = Some(false);
    request.metadata.insert("user_id".into(), "u-1".into());
    let (_, error) = collect(driver(&server, Some("sk-ant")).chat_stream(request).await.unwrap()).await;
    assert_eq!(error, None);

    let sent = &server.requests()[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(sent.header("x-api-key"), Some("sk-ant"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None);
    let body = &sent.body;
    assert_eq!(body["model"], "claude-test");
    assert_eq!(body["stream"], true);
    assert_eq!(body["max_tokens"], 16384);
    assert_eq!(body["thinking"], json!({"type": "enabled", "budget_tokens": 4096}));
    assert_eq!(body["metadata"], json!({"user_id": "u-1"}));
    assert_eq!(body["tool_choice"], json!({"type": "auto", "disable_parallel_tool_use": true}));
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are a weather bot.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        body["tools"],
        json!([{"name": "get_weather", "description": "Weather for a city",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
    );
    let expected = json!([
        {"role": "user", "content": [
            {"type": "text", "text": "What is the weather in Paris?"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "aGVsbG8="}}]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "lookup", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "{\"temp_c\":21}"},
            {"type": "tool_result", "tool_use_id": "call_2", "content": "Error: down", "is_error": true}]},
        {"role": "assistant", "content": [{"type": "text", "text": "It is 21 °C."}]},
        {"role": "user", "content": [{"type": "text", "text": "And tomorrow?", "cache_control": {"type": "ephemeral"}}]},
    ]);
    assert_eq!(body["messages"], expected);
}

#[tokio::test]
async fn same_role_messages_merge_and_thinking_pauses_inside_a_tool_loop() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let mut request = sample_request("claude-test");
    request.messages = request.messages.iter().take(3).cloned().collect();
    request.messages.push(Message::user_text("Be quick."));
    request.reasoning_effort = Some("high".into());
    request.max_tokens = Some(2048);
    let (_, error) = collect(driver(&server, Some("k")).chat_stream(request).await.unwrap()).await;
    assert_eq!(error, None);
    let body = &server.requests()[0].body;
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 3, "tool results and the next user text share one user message");
    let last: Vec<&str> =
        messages[2]["content"].as_array().unwrap().iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(last, ["tool_result", "tool_result", "text"]);
    assert!(body.get("thinking").is_none(), "no signed thinking to replay inside a tool loop");
    assert_eq!(body["max_tokens"], 2048);
}

#[tokio::test]
async fn the_registry_factory_honours_the_base_url_override() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("from the fake"))]).await;
    let mut registry = DriverRegistry::new();
    register_driver(&mut registry);
    let model = ResolvedModel {
        model: "claude-registry".into(),
        provider_type: DriverId::Anthropic,
        api_key: Some("sk-reg".into()),
        base_url: Some(server.url("/proxy")),
        provider_metadata: None,
    };
    let request = ChatRequest { messages: vec![Message::user_text("hi")].into(), ..Default::default() };
    let stream = registry.create(&model).unwrap().chat_stream(request).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!((text_of(&chunks), error), ("from the fake".to_owned(), None));
    assert_eq!(finish_of(&chunks).unwrap().finish_reason.as_deref(), Some("stop"));
    assert_eq!(usage_of(&chunks).map(|u| (u.input_tokens, u.output_tokens)), Some((3, 2)));
    let sent = &server.requests()[0];
    assert_eq!((sent.path.as_str(), sent.body["model"].as_str()), ("/proxy/v1/messages", Some("claude-registry")));
    assert!(sent.body.get("system").is_none() && sent.body.get("thinking").is_none());
}

fn error_reply(status: u16, kind: &str, message: &str) -> Reply {
    Reply::json(status, json!({"type": "error", "error": {"type": kind, "message": message}}))
}

async fn failure(server: &FakeServer, api_key: Option<&str>) -> DriverError {
    match driver(server, api_key).chat_stream(sample_request("claude-test")).await {
        Err(error) => error,
        Ok(stream) => collect(stream).await.1.expect("an error"),
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    let limited = error_reply(429, "rate_limit_error", "Number of requests has exceeded your rate limit");
    let server = FakeServer::start(vec![limited.with_header("retry-after", "0"), Reply::sse(text_stream("ok"))]).await;
    let stream = driver(&server, Some("k")).chat_stream(sample_request("claude-test")).await.unwrap();
    assert_eq!(text_of(&collect(stream).await.0), "ok");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_persistent_503_fails_after_three_attempts() {
    let server = FakeServer::start(vec![error_reply(503, "api_error", "Service unavailable")]).await;
    let error = failure(&server, Some("k")).await;
    assert_eq!((error.kind, error.status), (DriverErrorKind::ProviderUnavailable, Some(503)));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn an_overloaded_event_before_the_first_chunk_is_retried() {
    let overloaded =
        named_events(&[event("error", json!({"error": {"type": "overloaded_error", "message": "Overloaded"}}))]);
    let server = FakeServer::start(vec![Reply::sse(overloaded), Reply::sse(text_stream("recovered"))]).await;
    let stream = driver(&server, Some("k")).chat_stream(sample_request("claude-test")).await.unwrap();
    assert_eq!(text_of(&collect(stream).await.0), "recovered");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_400_is_not_retried_and_keeps_the_provider_message() {
    let server =
        FakeServer::start(vec![error_reply(400, "invalid_request_error", "max_tokens: must be positive")]).await;
    let error = failure(&server, Some("k")).await;
    assert_eq!((error.kind, error.message.as_str()), (DriverErrorKind::InvalidRequest, "max_tokens: must be positive"));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_401_is_an_authentication_error() {
    let server = FakeServer::start(vec![error_reply(401, "authentication_error", "invalid x-api-key")]).await;
    assert_eq!(failure(&server, Some("bad")).await.kind, DriverErrorKind::Authentication);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_missing_api_key_fails_closed_without_a_request() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("never"))]).await;
    assert_eq!(failure(&server, None).await.kind, DriverErrorKind::Authentication);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn malformed_stream_json_is_an_error_not_a_panic() {
    let mut body = named_events(&[
        event("message_start", json!({"message": {"id": "m", "usage": {"input_tokens": 1}}})),
        start(0, json!({"type": "text", "text": ""})),
        delta(0, json!({"type": "text_delta", "text": "partial"})),
    ]);
    body.push_str("event: content_block_delta\ndata: {\"type\": \"content_block_delta\", \"index\": 0, \n\n");
    let server = FakeServer::start(vec![Reply::sse(body)]).await;
    let stream = driver(&server, Some("k")).chat_stream(sample_request("claude-test")).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!(text_of(&chunks), "partial");
    assert_eq!(error.map(|e| e.kind), Some(DriverErrorKind::Other));

    let bad_input = named_events(&[
        start(0, json!({"type": "tool_use", "id": "t", "name": "x", "input": {}})),
        delta(0, json!({"type": "input_json_delta", "partial_json": "{\"a\": "})),
        stop(0),
    ]);
    let server = FakeServer::start(vec![Reply::sse(bad_input)]).await;
    let error = failure(&server, Some("k")).await;
    assert_eq!(error.kind, DriverErrorKind::Other);
    assert!(error.message.contains("malformed arguments"), "{}", error.message);
    assert_eq!(server.requests().len(), 1);
}
