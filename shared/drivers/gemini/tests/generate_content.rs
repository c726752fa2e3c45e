//! The Gemini driver against a loopback fake of `streamGenerateContent?alt=sse`: streaming, request
//! shape, synthesized call ids, retries and error mapping.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};

use everruns_core::domain::{ContentPart, Message, MessageRole};
use everruns_core::driver::{ChatDriver, ChatRequest, DriverError, DriverErrorKind};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry, ResolvedModel};
use everruns_driver_common::RetryPolicy;
use everruns_driver_common::testing::{
    FakeServer, Reply, collect, data_events, finish_of, sample_request, text_of, thinking_of, tool_calls_of, usage_of,
};
use everruns_gemini::{GeminiDriver, register_driver};

fn driver(server: &FakeServer, api_key: Option<&str>) -> GeminiDriver {
    let config = DriverConfig {
        model: "gemini-test".into(),
        api_key: api_key.map(str::to_owned),
        base_url: Some(server.base_url.clone()),
        ..Default::default()
    };
    GeminiDriver::new(&config).with_retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(2)))
}

fn chunk(parts: Value, finish: Option<&str>, usage: Value) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(reason) = finish {
        candidate["finishReason"] = json!(reason);
    }
    json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": "gemini-test-001", "responseId": "resp-g1"})
}

/// Thinking, text, then two function calls in the final chunk.
fn full_stream() -> String {
    let early = json!({"promptTokenCount": 40, "totalTokenCount": 60, "thoughtsTokenCount": 20});
    data_events(&[
        chunk(json!([{"text": "**Weather lookup** ", "thought": true}]), None, early.clone()),
        chunk(json!([{"text": "The user wants Paris.", "thought": true}]), None, early.clone()),
        chunk(json!([{"text": "Checking the "}]), None, early.clone()),
        chunk(json!([{"text": "forecast…"}]), None, early),
        chunk(
            json!([
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris", "day": 1}}, "thoughtSignature": "CiQBVKhc7g=="},
                {"functionCall": {"name": "now"}},
            ]),
            Some("STOP"),
            json!({"promptTokenCount": 40, "candidatesTokenCount": 15, "totalTokenCount": 75,
                   "cachedContentTokenCount": 8, "thoughtsTokenCount": 20}),
        ),
    ])
}

fn text_stream(text: &str) -> String {
    data_events(&[chunk(
        json!([{"text": text}]),
        Some("STOP"),
        json!({"promptTokenCount": 3, "candidatesTokenCount": 2}),
    )])
}

#[tokio::test]
async fn streams_text_thinking_function_calls_usage_and_finish() {
    let server = FakeServer::start(vec![Reply::sse(full_stream())]).await;
    let stream = driver(&server, Some("g-key")).chat_stream(sample_request("gemini-test")).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&chunks), "Checking the forecast…");
    assert_eq!(thinking_of(&chunks), "**Weather lookup** The user wants Paris.");
    let calls = tool_calls_of(&chunks);
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].name.as_str(), calls[0].arguments.clone()),
        ("get_weather", json!({"city": "Paris", "day": 1}))
    );
    assert_eq!((calls[1].name.as_str(), calls[1].arguments.clone()), ("now", json!({})));
    for call in &calls {
        let hex = call.id.strip_prefix("call_").unwrap();
        assert!(hex.len() == 32 && hex.chars().all(|c| c.is_ascii_hexdigit()), "{}", call.id);
    }
    assert_ne!(calls[0].id, calls[1].id);
    let usage = usage_of(&chunks).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens, usage.cache_read_tokens), (40, 35, Some(8)));
    let finish = finish_of(&chunks).unwrap();
    assert_eq!(finish.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!((finish.response_id.as_deref(), finish.model.as_deref()), (Some("resp-g1"), Some("gemini-test-001")));
}

#[tokio::test]
async fn sends_contents_tools_and_config_in_gemini_shape() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let mut request = sample_request("gemini-test");
    request.reasoning_effort = Some("high".into());
    let (_, error) = collect(driver(&server, Some("g-key")).chat_stream(request).await.unwrap()).await;
    assert_eq!(error, None);

    let sent = &server.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str()),
        ("POST", "/v1beta/models/gemini-test:streamGenerateContent")
    );
    assert_eq!(sent.query.as_deref(), Some("alt=sse"), "the key never travels in the URL");
    assert_eq!(sent.header("x-goog-api-key"), Some("g-key"));
    let body = &sent.body;
    assert_eq!(body["systemInstruction"], json!({"parts": [{"text": "You are a weather bot."}]}));
    assert_eq!(
        body["generationConfig"],
        json!({"maxOutputTokens": 8192, "thinkingConfig": {"thinkingBudget": 16384, "includeThoughts": true}})
    );
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [{"name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}])
    );
    let expected = json!([
        {"role": "user", "parts": [
            {"text": "What is the weather in Paris?"},
            {"inlineData": {"mimeType": "image/jpeg", "data": "aGVsbG8="}}]},
        {"role": "model", "parts": [
            {"text": "Let me check."},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"name": "lookup", "args": {}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"output": {"temp_c": 21}}}},
            {"functionResponse": {"name": "lookup", "response": {"error": "down"}}}]},
        {"role": "model", "parts": [{"text": "It is 21 °C."}]},
        {"role": "user", "parts": [{"text": "And tomorrow?"}]},
    ]);
    assert_eq!(body["contents"], expected);
}

#[tokio::test]
async fn synthesized_call_ids_map_results_back_to_their_names() {
    let server = FakeServer::start(vec![Reply::sse(full_stream()), Reply::sse(text_stream("done"))]).await;
    let driver = driver(&server, Some("g-key"));
    let first = ChatRequest { messages: vec![Message::user_text("weather?")].into(), ..Default::default() };
    let calls = tool_calls_of(&collect(driver.chat_stream(first).await.unwrap()).await.0);

    let agent = Message::new(
        MessageRole::Agent,
        calls
            .iter()
            .map(|c| ContentPart::ToolCall { id: c.id.clone(), name: c.name.clone(), arguments: c.arguments.clone() })
            .collect(),
    );
    // Results arrive in the reverse order of the calls; each keeps its own call's name.
    let results = Message::new(
        MessageRole::ToolResult,
        calls
            .iter()
            .rev()
            .map(|c| ContentPart::ToolResult { tool_call_id: c.id.clone(), result: Some(json!(c.name)), error: None })
            .collect(),
    );
    let second =
        ChatRequest { messages: vec![Message::user_text("weather?"), agent, results].into(), ..Default::default() };
    let (chunks, error) = collect(driver.chat_stream(second).await.unwrap()).await;
    assert_eq!((text_of(&chunks), error), ("done".to_owned(), None));
    let contents = &server.requests()[1].body["contents"];
    assert_eq!(
        contents[2]["parts"],
        json!([{"functionResponse": {"name": "now", "response": {"output": "now"}}},
               {"functionResponse": {"name": "get_weather", "response": {"output": "get_weather"}}}])
    );
}

#[tokio::test]
async fn gemini_3_replays_calls_with_the_placeholder_signature() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let (_, error) =
        collect(driver(&server, Some("k")).chat_stream(sample_request("gemini-3-pro-preview")).await.unwrap()).await;
    assert_eq!(error, None);
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1beta/models/gemini-3-pro-preview:streamGenerateContent");
    let parts = &sent.body["contents"][1]["parts"];
    assert_eq!(parts[1]["thoughtSignature"], "skip_thought_signature_validator");
    assert!(parts[2].get("thoughtSignature").is_none(), "only the first call of a turn carries it");
}

#[tokio::test]
async fn the_registry_factory_honours_the_base_url_override() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("from the fake"))]).await;
    let mut registry = DriverRegistry::new();
    register_driver(&mut registry);
    let model = ResolvedModel {
        model: "gemini-registry".into(),
        provider_type: DriverId::Gemini,
        api_key: Some("g-reg".into()),
        base_url: Some(server.url("/proxy/")),
        provider_metadata: None,
    };
    let request =
        ChatRequest { messages: vec![Message::user_text("hi")].into(), max_tokens: Some(100), ..Default::default() };
    let (chunks, error) = collect(registry.create(&model).unwrap().chat_stream(request).await.unwrap()).await;
    assert_eq!((text_of(&chunks), error), ("from the fake".to_owned(), None));
    assert_eq!(finish_of(&chunks).unwrap().finish_reason.as_deref(), Some("stop"));
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/proxy/v1beta/models/gemini-registry:streamGenerateContent");
    assert_eq!(sent.body["generationConfig"], json!({"maxOutputTokens": 100}));
    assert!(sent.body.get("systemInstruction").is_none() && sent.body.get("tools").is_none());
}

fn error_reply(status: u16, state: &str, message: &str) -> Reply {
    Reply::json(status, json!({"error": {"code": status, "message": message, "status": state}}))
}

async fn failure(server: &FakeServer, api_key: Option<&str>) -> DriverError {
    match driver(server, api_key).chat_stream(sample_request("gemini-test")).await {
        Err(error) => error,
        Ok(stream) => collect(stream).await.1.expect("an error"),
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    let limited = error_reply(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted").with_header("retry-after", "0");
    let server = FakeServer::start(vec![limited, Reply::sse(text_stream("ok"))]).await;
    let stream = driver(&server, Some("k")).chat_stream(sample_request("gemini-test")).await.unwrap();
    assert_eq!(text_of(&collect(stream).await.0), "ok");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_persistent_503_fails_after_three_attempts() {
    let server = FakeServer::start(vec![error_reply(503, "UNAVAILABLE", "The model is overloaded.")]).await;
    let error = failure(&server, Some("k")).await;
    assert_eq!((error.kind, error.status), (DriverErrorKind::ProviderUnavailable, Some(503)));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_400_is_not_retried_and_keeps_the_provider_message() {
    let server = FakeServer::start(vec![error_reply(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")]).await;
    let error = failure(&server, Some("k")).await;
    assert_eq!(
        (error.kind, error.message.as_str()),
        (DriverErrorKind::InvalidRequest, "Invalid JSON payload received.")
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_401_is_an_authentication_error() {
    let server = FakeServer::start(vec![error_reply(401, "UNAUTHENTICATED", "API key not valid.")]).await;
    assert_eq!(failure(&server, Some("bad")).await.kind, DriverErrorKind::Authentication);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_missing_api_key_fails_closed_without_a_request() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("never"))]).await;
    assert_eq!(failure(&server, Some("")).await.kind, DriverErrorKind::Authentication);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn malformed_stream_json_and_truncation_are_errors_not_panics() {
    let mut body = data_events(&[chunk(json!([{"text": "partial"}]), None, json!({}))]);
    body.push_str("data: {\"candidates\": [{\"content\": \r\n\r\n");
    let server = FakeServer::start(vec![Reply::sse(body)]).await;
    let stream = driver(&server, Some("k")).chat_stream(sample_request("gemini-test")).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!(text_of(&chunks), "partial");
    assert_eq!(error.map(|e| e.kind), Some(DriverErrorKind::Other));

    let cut = data_events(&[chunk(json!([{"text": "half"}]), None, json!({}))]);
    let server = FakeServer::start(vec![Reply::sse(cut)]).await;
    let (chunks, error) =
        collect(driver(&server, Some("k")).chat_stream(sample_request("gemini-test")).await.unwrap()).await;
    assert_eq!((text_of(&chunks), error.map(|e| e.kind)), ("half".to_owned(), Some(DriverErrorKind::Network)));

    let in_stream =
        data_events(&[json!({"error": {"code": 400, "message": "Bad part", "status": "INVALID_ARGUMENT"}})]);
    let server = FakeServer::start(vec![Reply::sse(in_stream)]).await;
    let error = failure(&server, Some("k")).await;
    assert_eq!((error.kind, error.message.as_str()), (DriverErrorKind::InvalidRequest, "Bad part"));
}
