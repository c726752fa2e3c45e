//! The OpenAI driver against a loopback fake of the Responses API: streaming, request shape,
//! retries and error mapping.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use serde_json::{Value, json};

use everruns_core::driver::{ChatDriver, ChatRequest, DriverError, DriverErrorKind};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry, ResolvedModel};
use everruns_driver_common::RetryPolicy;
use everruns_driver_common::testing::{
    FakeServer, Reply, collect, finish_of, named_events, sample_request, text_of, thinking_of, tool_calls_of, usage_of,
};
use everruns_openai::{OpenAiDriver, register_driver};

fn driver(server: &FakeServer, api_key: Option<&str>) -> OpenAiDriver {
    let config = DriverConfig {
        model: "gpt-test".into(),
        api_key: api_key.map(str::to_owned),
        base_url: Some(server.url("/v1")),
        ..Default::default()
    };
    OpenAiDriver::new(&config).with_retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(2)))
}

fn event(kind: &str, mut data: Value) -> (&str, Value) {
    data["type"] = json!(kind);
    (kind, data)
}

/// A response with reasoning summary, text, and two function calls whose arguments stream.
fn full_stream() -> String {
    let call = |id: &str, call_id: &str, name: &str, arguments: &str| json!({"id": id, "type": "function_call", "status": "completed", "call_id": call_id, "name": name, "arguments": arguments});
    named_events(&[
        event(
            "response.created",
            json!({"response": {"id": "resp_1", "model": "gpt-test-2025", "status": "in_progress"}}),
        ),
        event(
            "response.output_item.added",
            json!({"output_index": 0, "item": {"id": "rs_1", "type": "reasoning", "summary": []}}),
        ),
        event(
            "response.reasoning_summary_part.added",
            json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0}),
        ),
        event(
            "response.reasoning_summary_text.delta",
            json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "Need the "}),
        ),
        event(
            "response.reasoning_summary_text.delta",
            json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "forecast."}),
        ),
        event(
            "response.output_item.added",
            json!({"output_index": 1, "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []}}),
        ),
        event(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "Checking "}),
        ),
        event(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "tomorrow’s weather…"}),
        ),
        event(
            "response.output_text.done",
            json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "text": "Checking tomorrow’s weather…"}),
        ),
        event(
            "response.output_item.added",
            json!({"output_index": 2, "item": call("fc_1", "call_a", "get_weather", "")}),
        ),
        event(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 2, "delta": "{\"city\":"}),
        ),
        event(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 2, "delta": "\"Paris\",\"day\":1}"}),
        ),
        event(
            "response.function_call_arguments.done",
            json!({"item_id": "fc_1", "output_index": 2, "arguments": "{\"city\":\"Paris\",\"day\":1}"}),
        ),
        event(
            "response.output_item.done",
            json!({"output_index": 2, "item": call("fc_1", "call_a", "get_weather", "{\"city\":\"Paris\",\"day\":1}")}),
        ),
        event(
            "response.output_item.added",
            json!({"output_index": 3, "item": call("fc_2", "call_b", "get_weather", "")}),
        ),
        event(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_2", "output_index": 3, "delta": "{\"city\":\"Lyon\"}"}),
        ),
        event("response.output_item.done", json!({"output_index": 3, "item": {"id": "fc_2", "type": "function_call"}})),
        event(
            "response.completed",
            json!({"response": {
            "id": "resp_1", "model": "gpt-test-2025", "status": "completed",
            "usage": {"input_tokens": 120, "input_tokens_details": {"cached_tokens": 64}, "output_tokens": 42,
                      "output_tokens_details": {"reasoning_tokens": 20}, "total_tokens": 162}}}),
        ),
    ])
}

fn text_stream(text: &str) -> String {
    named_events(&[
        event("response.output_text.delta", json!({"item_id": "m", "output_index": 0, "delta": text})),
        event("response.completed", json!({"response": {"id": "r", "usage": {"input_tokens": 1, "output_tokens": 1}}})),
    ])
}

#[tokio::test]
async fn streams_text_thinking_tool_calls_usage_and_finish() {
    let server = FakeServer::start(vec![Reply::sse(full_stream())]).await;
    let stream = driver(&server, Some("sk-test")).chat_stream(sample_request("gpt-test")).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!(error, None);
    assert_eq!(text_of(&chunks), "Checking tomorrow’s weather…");
    assert_eq!(thinking_of(&chunks), "Need the forecast.");
    let calls = tool_calls_of(&chunks);
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].id.as_str(), calls[0].name.as_str()), ("call_a", "get_weather"));
    assert_eq!(calls[0].arguments, json!({"city": "Paris", "day": 1}));
    assert_eq!((calls[1].id.as_str(), calls[1].arguments.clone()), ("call_b", json!({"city": "Lyon"})));
    let usage = usage_of(&chunks).unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens, usage.cache_read_tokens), (120, 42, Some(64)));
    let finish = finish_of(&chunks).unwrap();
    assert_eq!(finish.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(finish.response_id.as_deref(), Some("resp_1"));
    assert_eq!(finish.model.as_deref(), Some("gpt-test-2025"));
}

#[tokio::test]
async fn sends_the_history_tools_and_options_in_responses_shape() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let mut request = sample_request("gpt-test");
    request.reasoning_effort = Some("low".into());
    request.parallel_tool_calls = Some(false);
    request.max_tokens = Some(500);
    request.metadata.insert("tenant".into(), "acme".into());
    let (_, error) = collect(driver(&server, Some("sk-test")).chat_stream(request).await.unwrap()).await;
    assert_eq!(error, None);

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/responses"));
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let body = &sent.body;
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["stream"], true);
    assert_eq!(body["instructions"], "You are a weather bot.");
    assert_eq!(body["reasoning"], json!({"effort": "low", "summary": "auto"}));
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(body["max_output_tokens"], 500);
    assert_eq!(body["metadata"], json!({"tenant": "acme"}));
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "name": "get_weather", "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])
    );
    let expected_input = json!([
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is the weather in Paris?"},
            {"type": "input_image", "image_url": "data:image/jpeg;base64,aGVsbG8="}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Let me check."}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
        {"type": "function_call", "call_id": "call_2", "name": "lookup", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp_c\":21}"},
        {"type": "function_call_output", "call_id": "call_2", "output": "Error: down"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It is 21 °C."}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "And tomorrow?"}]},
    ]);
    assert_eq!(body["input"], expected_input);
}

#[tokio::test]
async fn the_registry_factory_honours_the_base_url_override() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("from the fake"))]).await;
    let mut registry = DriverRegistry::new();
    register_driver(&mut registry);
    let model = ResolvedModel {
        model: "gpt-registry".into(),
        provider_type: DriverId::OpenAi,
        api_key: Some("sk-reg".into()),
        base_url: Some(format!("{}/", server.url("/custom/v1"))),
        provider_metadata: None,
    };
    let driver = registry.create(&model).unwrap();
    let request =
        ChatRequest { messages: vec![everruns_core::domain::Message::user_text("hi")].into(), ..Default::default() };
    let (chunks, error) = collect(driver.chat_stream(request).await.unwrap()).await;
    assert_eq!((text_of(&chunks), error), ("from the fake".to_owned(), None));
    assert_eq!(finish_of(&chunks).unwrap().finish_reason.as_deref(), Some("stop"));
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/custom/v1/responses");
    assert_eq!(sent.body["model"], "gpt-registry", "the config model is used when the request names none");
    assert!(sent.body.get("instructions").is_none() && sent.body.get("tools").is_none());
}

fn error_reply(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({"error": {"message": message, "type": "invalid_request_error", "code": null}}))
}

async fn failure(server: &FakeServer, api_key: Option<&str>) -> DriverError {
    match driver(server, api_key).chat_stream(sample_request("gpt-test")).await {
        Err(error) => error,
        Ok(stream) => collect(stream).await.1.expect("an error"),
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    let replies =
        vec![error_reply(429, "Rate limit reached").with_header("retry-after", "0"), Reply::sse(text_stream("ok"))];
    let server = FakeServer::start(replies).await;
    let stream = driver(&server, Some("sk")).chat_stream(sample_request("gpt-test")).await.unwrap();
    assert_eq!(text_of(&collect(stream).await.0), "ok");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_persistent_503_fails_after_three_attempts() {
    let server = FakeServer::start(vec![error_reply(503, "The server is overloaded")]).await;
    let error = failure(&server, Some("sk")).await;
    assert_eq!((error.kind, error.status), (DriverErrorKind::ProviderUnavailable, Some(503)));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_400_is_not_retried_and_keeps_the_provider_message() {
    let server = FakeServer::start(vec![error_reply(400, "Invalid value for 'input'.")]).await;
    let error = failure(&server, Some("sk")).await;
    assert_eq!((error.kind, error.status), (DriverErrorKind::InvalidRequest, Some(400)));
    assert_eq!(error.message, "Invalid value for 'input'.");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_401_is_an_authentication_error() {
    let server = FakeServer::start(vec![error_reply(401, "Incorrect API key provided")]).await;
    let error = failure(&server, Some("sk-bad")).await;
    assert_eq!(error.kind, DriverErrorKind::Authentication);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_missing_api_key_fails_closed_without_a_request() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("never"))]).await;
    for key in [None, Some("   ")] {
        assert_eq!(failure(&server, key).await.kind, DriverErrorKind::Authentication);
    }
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn malformed_stream_json_is_an_error_not_a_panic() {
    let body = format!(
        "{}event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"delta\":\n\n",
        named_events(&[event("response.output_text.delta", json!({"delta": "partial"}))])
    );
    let server = FakeServer::start(vec![Reply::sse(body)]).await;
    let stream = driver(&server, Some("sk")).chat_stream(sample_request("gpt-test")).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!(text_of(&chunks), "partial");
    let error = error.unwrap();
    assert_eq!(error.kind, DriverErrorKind::Other);
    assert!(error.message.contains("malformed JSON"), "{}", error.message);

    let server = FakeServer::start(vec![Reply::sse("data: not json\n\n")]).await;
    assert_eq!(failure(&server, Some("sk")).await.kind, DriverErrorKind::Other);
    assert_eq!(server.requests().len(), 1, "a malformed stream is not retried");
}

#[tokio::test]
async fn failed_responses_and_truncated_streams_are_errors() {
    let failed = named_events(&[event(
        "response.failed",
        json!({"response": {"id": "r", "status": "failed", "error": {"code": "invalid_prompt", "message": "Flagged."}}}),
    )]);
    let server = FakeServer::start(vec![Reply::sse(failed)]).await;
    let error = failure(&server, Some("sk")).await;
    assert_eq!((error.kind, error.message.as_str()), (DriverErrorKind::InvalidRequest, "Flagged."));

    let cut = named_events(&[event("response.output_text.delta", json!({"delta": "half"}))]);
    let server = FakeServer::start(vec![Reply::sse(cut)]).await;
    let stream = driver(&server, Some("sk")).chat_stream(sample_request("gpt-test")).await.unwrap();
    let (chunks, error) = collect(stream).await;
    assert_eq!(text_of(&chunks), "half");
    assert_eq!(error.map(|e| e.kind), Some(DriverErrorKind::Network));
}
