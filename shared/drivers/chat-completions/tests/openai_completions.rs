//! The `openai_completions` driver against a loopback fake of the Chat Completions API:
//! streaming, request shape, retries and error mapping.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;

use everruns_chat_completions::{ChatCompletionsDriver, register_drivers};
use everruns_core::driver::{ChatDriver, ChatRequest, DriverErrorKind};
use everruns_core::driver_registry::{DriverId, DriverRegistry, ResolvedModel};
use everruns_driver_common::testing::{
    FakeServer, Reply, collect, finish_of, sample_request, text_of, thinking_of, tool_calls_of, usage_of,
};
use support::{chunk, config, error_reply, failure, fast, only_request, sse, text_stream, usage_chunk};

fn driver(server: &FakeServer, api_key: Option<&str>) -> ChatCompletionsDriver {
    fast(ChatCompletionsDriver::openai(&config(Some(server.url("/v1")), api_key, None)))
}

/// Thinking, text, and two tool calls whose arguments stream in pieces (interleaved by index).
fn full_stream() -> String {
    let call = |index: u64, id: Option<&str>, name: Option<&str>, arguments: &str| {
        let mut call = json!({"index": index, "function": {"arguments": arguments}});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["type"] = json!("function");
        }
        if let Some(name) = name {
            call["function"]["name"] = json!(name);
        }
        chunk(json!({"tool_calls": [call]}), None)
    };
    sse(&[
        chunk(json!({"role": "assistant", "content": null}), None),
        chunk(json!({"reasoning_content": "Need the "}), None),
        chunk(json!({"reasoning_content": "forecast."}), None),
        chunk(json!({"content": "Checking "}), None),
        chunk(json!({"content": "tomorrow’s weather…"}), None),
        call(0, Some("call_a"), Some("get_weather"), ""),
        call(0, None, None, "{\"city\":"),
        call(1, Some("call_b"), Some("get_weather"), "{\"city\""),
        call(0, None, None, "\"Paris\",\"day\":1}"),
        call(1, None, None, ":\"Lyon\"}"),
        chunk(json!({}), Some("tool_calls")),
        usage_chunk(json!({"prompt_tokens": 120, "completion_tokens": 42, "total_tokens": 162,
                           "prompt_tokens_details": {"cached_tokens": 64},
                           "completion_tokens_details": {"reasoning_tokens": 20}})),
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
    assert_eq!(finish.response_id.as_deref(), Some("chatcmpl-1"));
    assert_eq!(finish.model.as_deref(), Some("gpt-test-2025"));
}

#[tokio::test]
async fn sends_the_history_tools_and_options_in_chat_completions_shape() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let mut request = sample_request("gpt-test");
    request.reasoning_effort = Some("low".into());
    request.parallel_tool_calls = Some(false);
    request.max_tokens = Some(500);
    request.metadata.insert("tenant".into(), "acme".into());
    let (_, error) = collect(driver(&server, Some("sk-test")).chat_stream(request).await.unwrap()).await;
    assert_eq!(error, None);

    let sent = only_request(&server);
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    let body = &sent.body;
    assert_eq!(body["model"], "gpt-test");
    assert_eq!((body["stream"].clone(), body["stream_options"].clone()), (json!(true), json!({"include_usage": true})));
    assert_eq!(body["reasoning_effort"], "low");
    assert_eq!(body["parallel_tool_calls"], false);
    assert_eq!(body["max_tokens"], 500, "a compatible server (custom base URL) gets max_tokens");
    assert!(body.get("metadata").is_none(), "metadata needs stored completions at OpenAI");
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
    );
    let expected = json!([
        {"role": "system", "content": "You are a weather bot."},
        {"role": "user", "content": [
            {"type": "text", "text": "What is the weather in Paris?"},
            {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,aGVsbG8="}}]},
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\":21}"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Error: down"},
        {"role": "assistant", "content": "It is 21 °C."},
        {"role": "user", "content": "And tomorrow?"},
    ]);
    assert_eq!(body["messages"], expected);
}

#[tokio::test]
async fn the_registry_serves_openai_completions_at_a_compatible_server_without_a_key() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("from vLLM"))]).await;
    let mut registry = DriverRegistry::new();
    register_drivers(&mut registry);
    for id in [DriverId::OpenAiCompletions, DriverId::AzureOpenAi, DriverId::OpenRouter] {
        assert!(registry.contains(&id), "{id}");
    }
    let model = ResolvedModel {
        model: "qwen2.5".into(),
        provider_type: DriverId::OpenAiCompletions,
        api_key: None,
        base_url: Some(format!("{}/", server.url("/ollama/v1"))),
        provider_metadata: None,
    };
    let driver = registry.create(&model).unwrap();
    let request =
        ChatRequest { messages: vec![everruns_core::domain::Message::user_text("hi")].into(), ..Default::default() };
    let (chunks, error) = collect(driver.chat_stream(request).await.unwrap()).await;
    assert_eq!((text_of(&chunks), error), ("from vLLM".to_owned(), None));
    assert_eq!(finish_of(&chunks).unwrap().finish_reason.as_deref(), Some("stop"));
    assert_eq!(usage_of(&chunks).map(|u| (u.input_tokens, u.output_tokens)), Some((3, 2)));
    let sent = only_request(&server);
    assert_eq!(sent.path, "/ollama/v1/chat/completions");
    assert_eq!(sent.header("authorization"), None, "no key, no header");
    assert_eq!(sent.body["model"], "qwen2.5", "the config model is used when the request names none");
    assert_eq!(sent.body["messages"], json!([{"role": "user", "content": "hi"}]));
}

#[tokio::test]
async fn openai_itself_gets_max_completion_tokens_and_fails_closed_without_a_key() {
    let driver = ChatCompletionsDriver::openai(&config(None, None, None));
    assert_eq!(driver.settings().base_url, "https://api.openai.com/v1");
    assert_eq!(driver.dialect(), everruns_chat_completions::Dialect::OpenAi);
    let error = failure(&driver).await;
    assert_eq!(error.kind, DriverErrorKind::Authentication);
    let request = ChatRequest { max_tokens: Some(9), ..Default::default() };
    let body = everruns_chat_completions::request::build_body("o4-mini", &request, driver.dialect());
    assert_eq!((body["max_completion_tokens"].clone(), body.get("max_tokens")), (json!(9), None));
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
async fn a_persistent_503_is_a_provider_error_after_three_attempts() {
    let server = FakeServer::start(vec![error_reply(503, "The server is overloaded")]).await;
    let error = failure(&driver(&server, Some("sk"))).await;
    assert_eq!((error.kind, error.status), (DriverErrorKind::ProviderUnavailable, Some(503)));
    assert_eq!(error.friendly_message(), "The AI provider is experiencing issues. Please try again later.");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_401_is_an_authentication_error_with_the_friendly_message() {
    let server = FakeServer::start(vec![error_reply(401, "Incorrect API key provided")]).await;
    let error = failure(&driver(&server, Some("sk-bad"))).await;
    assert_eq!((error.kind, error.status), (DriverErrorKind::Authentication, Some(401)));
    assert_eq!(error.message, "Incorrect API key provided");
    assert_eq!(error.error_code(), "provider_misconfigured");
    assert_eq!(error.friendly_message(), "The AI provider is not configured correctly. Please contact support.");
    assert_eq!(server.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn a_context_length_400_is_request_too_large() {
    let body = json!({"error": {"message": "This model's maximum context length is 128000 tokens.",
                                "type": "invalid_request_error", "code": "context_length_exceeded"}});
    let server = FakeServer::start(vec![Reply::json(400, body)]).await;
    let error = failure(&driver(&server, Some("sk"))).await;
    assert_eq!(error.kind, DriverErrorKind::RequestTooLarge);
    assert_eq!(error.error_code(), "request_too_large");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn in_stream_errors_truncation_and_a_missing_done() {
    let failed = format!("data: {}\n\n", json!({"error": {"message": "Upstream overloaded", "code": 502}}));
    let server = FakeServer::start(vec![Reply::sse(failed)]).await;
    let error = failure(&driver(&server, Some("sk"))).await;
    assert_eq!((error.kind, error.message.as_str()), (DriverErrorKind::ProviderUnavailable, "Upstream overloaded"));
    assert_eq!(server.requests().len(), 3, "an error before the first chunk is retried");

    let cut = everruns_driver_common::testing::data_events(&[chunk(json!({"content": "half"}), None)]);
    let server = FakeServer::start(vec![Reply::sse(cut)]).await;
    let (chunks, error) = collect(driver(&server, Some("sk")).chat_stream(sample_request("m")).await.unwrap()).await;
    assert_eq!(text_of(&chunks), "half");
    assert_eq!(error.map(|e| e.kind), Some(DriverErrorKind::Network));

    let no_done = everruns_driver_common::testing::data_events(&[
        chunk(json!({"content": "whole"}), None),
        chunk(json!({}), Some("length")),
    ]);
    let server = FakeServer::start(vec![Reply::sse(no_done)]).await;
    let (chunks, error) = collect(driver(&server, Some("sk")).chat_stream(sample_request("m")).await.unwrap()).await;
    assert_eq!((text_of(&chunks), error), ("whole".to_owned(), None));
    assert_eq!(finish_of(&chunks).unwrap().finish_reason.as_deref(), Some("length"));
}

#[tokio::test]
async fn malformed_json_and_bad_arguments_are_errors_not_panics() {
    let server = FakeServer::start(vec![Reply::sse("data: not json\n\n")]).await;
    assert_eq!(failure(&driver(&server, Some("sk"))).await.kind, DriverErrorKind::Other);
    assert_eq!(server.requests().len(), 1, "a malformed stream is not retried");

    let bad = sse(&[
        chunk(
            json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "t", "arguments": "{\"a\":"}}]}),
            None,
        ),
        chunk(json!({}), Some("tool_calls")),
    ]);
    let server = FakeServer::start(vec![Reply::sse(bad)]).await;
    let error = failure(&driver(&server, Some("sk"))).await;
    assert!(error.message.contains("malformed arguments for tool call 't'"), "{}", error.message);
}
