//! The `azure_openai` and `openrouter` drivers against loopback fakes: Azure's deployment URL,
//! `api-version` query and `api-key` (or Entra bearer) header; OpenRouter's attribution headers,
//! model names, reasoning and usage.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::json;

use everruns_chat_completions::ChatCompletionsDriver;
use everruns_core::driver::{ChatDriver, DriverErrorKind};
use everruns_driver_common::testing::{
    FakeServer, Reply, collect, finish_of, sample_request, text_of, thinking_of, usage_of,
};
use support::{chunk, config, error_reply, failure, fast, only_request, sse, text_stream, usage_chunk};

#[tokio::test]
async fn azure_calls_the_deployment_url_with_the_api_key_header() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("from Azure"))]).await;
    let driver = fast(ChatCompletionsDriver::azure(&config(Some(server.base_url.clone()), Some("az-key"), None)));
    let mut request = sample_request("gpt-4o");
    request.max_tokens = Some(64);
    let (chunks, error) = collect(driver.chat_stream(request).await.unwrap()).await;
    assert_eq!((text_of(&chunks), error), ("from Azure".to_owned(), None));
    let sent = only_request(&server);
    assert_eq!(sent.path, "/openai/deployments/gpt-4o/chat/completions", "the deployment defaults to the model");
    assert_eq!(sent.query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(sent.header("api-key"), Some("az-key"));
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.body["max_completion_tokens"], 64);
    assert_eq!(sent.body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn azure_metadata_names_the_deployment_the_version_and_entra_auth() {
    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let extra = json!({"deployment": "prod-gpt4o", "api_version": "2025-01-01-preview", "auth": "entra"});
    let base = format!("{}/openai/", server.base_url);
    let driver = ChatCompletionsDriver::azure(&config(Some(base), Some("eyJ.token"), Some(extra)));
    let (_, error) = collect(driver.chat_stream(sample_request("gpt-4o")).await.unwrap()).await;
    assert_eq!(error, None);
    let sent = only_request(&server);
    assert_eq!(sent.path, "/openai/deployments/prod-gpt4o/chat/completions");
    assert_eq!(sent.query.as_deref(), Some("api-version=2025-01-01-preview"));
    assert_eq!(sent.header("authorization"), Some("Bearer eyJ.token"));
    assert_eq!(sent.header("api-key"), None);
}

#[tokio::test]
async fn azure_without_an_endpoint_or_a_key_is_a_configuration_error_at_turn_time() {
    let error = failure(&ChatCompletionsDriver::azure(&config(None, Some("az-key"), None))).await;
    assert_eq!((error.kind, error.error_code()), (DriverErrorKind::Authentication, "provider_misconfigured"));
    assert!(error.message.contains("no base_url"), "{}", error.message);

    let server = FakeServer::start(vec![Reply::sse(text_stream("never"))]).await;
    let error = failure(&ChatCompletionsDriver::azure(&config(Some(server.base_url.clone()), None, None))).await;
    assert_eq!(error.kind, DriverErrorKind::Authentication);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn azure_errors_are_typed_and_a_429_is_retried() {
    let replies = vec![
        error_reply(429, "Requests to the ChatCompletions_Create Operation have exceeded the rate limit")
            .with_header("retry-after", "0"),
        error_reply(401, "Access denied due to invalid subscription key"),
    ];
    let server = FakeServer::start(replies).await;
    let driver = fast(ChatCompletionsDriver::azure(&config(Some(server.base_url.clone()), Some("bad"), None)));
    let error = failure(&driver).await;
    assert_eq!((error.kind, error.status), (DriverErrorKind::Authentication, Some(401)));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn openrouter_sends_attribution_headers_and_reads_reasoning_and_usage() {
    let stream = sse(&[
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"reasoning": "Thinking…"}), None),
        chunk(json!({"content": "Hello from "}), None),
        chunk(json!({"content": "Claude"}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(json!({"prompt_tokens": 194, "completion_tokens": 2, "total_tokens": 196, "cost": 0.95,
                           "prompt_tokens_details": {"cached_tokens": 10, "cache_write_tokens": 100}})),
    ]);
    let server = FakeServer::start(vec![Reply::sse(stream)]).await;
    let driver = ChatCompletionsDriver::openrouter(&config(Some(server.url("/api/v1")), Some("sk-or-1"), None));
    let mut request = sample_request("anthropic/claude-sonnet-4");
    request.reasoning_effort = Some("high".into());
    request.max_tokens = Some(100);
    let (chunks, error) = collect(driver.chat_stream(request).await.unwrap()).await;
    assert_eq!(error, None);
    assert_eq!((text_of(&chunks), thinking_of(&chunks)), ("Hello from Claude".to_owned(), "Thinking…".to_owned()));
    let usage = usage_of(&chunks).unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_creation_tokens),
        (194, 2, Some(10), Some(100))
    );
    assert_eq!(finish_of(&chunks).unwrap().finish_reason.as_deref(), Some("stop"));

    let sent = only_request(&server);
    assert_eq!(sent.path, "/api/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-or-1"));
    assert_eq!(sent.header("http-referer"), Some("https://everruns.dev"));
    assert_eq!(sent.header("x-title"), Some("Everruns"));
    assert_eq!(sent.body["model"], "anthropic/claude-sonnet-4");
    assert_eq!(sent.body["reasoning"], json!({"effort": "high"}));
    assert_eq!((sent.body["max_tokens"].clone(), sent.body.get("reasoning_effort")), (json!(100), None));
}

#[tokio::test]
async fn openrouter_headers_come_from_metadata_and_its_default_endpoint_is_openrouter() {
    let default = ChatCompletionsDriver::openrouter(&config(None, Some("k"), None));
    assert_eq!(default.settings().base_url, "https://openrouter.ai/api/v1");

    let server = FakeServer::start(vec![Reply::sse(text_stream("ok"))]).await;
    let extra = json!({"http_referer": "https://acme.example", "x_title": "Acme Agents"});
    let driver = ChatCompletionsDriver::openrouter(&config(Some(server.url("/api/v1")), Some("k"), Some(extra)));
    let (_, error) = collect(driver.chat_stream(sample_request("openai/gpt-4.1")).await.unwrap()).await;
    assert_eq!(error, None);
    let sent = only_request(&server);
    assert_eq!(sent.header("http-referer"), Some("https://acme.example"));
    assert_eq!(sent.header("x-title"), Some("Acme Agents"));
}

#[tokio::test]
async fn openrouter_errors_credit_and_in_stream() {
    let server = FakeServer::start(vec![Reply::json(
        402,
        json!({"error": {"code": 402, "message": "Insufficient credits. Add more using https://openrouter.ai/credits"}}),
    )])
    .await;
    let driver = fast(ChatCompletionsDriver::openrouter(&config(Some(server.url("/api/v1")), Some("k"), None)));
    let error = failure(&driver).await;
    assert_eq!((error.kind, error.error_code()), (DriverErrorKind::QuotaExhausted, "provider_quota_exhausted"));
    assert_eq!(server.requests().len(), 1);

    // A mid-stream failure after text: the text is kept, the error ends the stream (no retry).
    let body = format!(
        "{}data: {}\n\n",
        everruns_driver_common::testing::data_events(&[chunk(json!({"content": "par"}), None)]),
        json!({"id": "gen-1", "object": "chat.completion.chunk",
               "error": {"code": "server_error", "message": "Provider disconnected"},
               "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]})
    );
    let server = FakeServer::start(vec![Reply::sse(body)]).await;
    let driver = fast(ChatCompletionsDriver::openrouter(&config(Some(server.url("/api/v1")), Some("k"), None)));
    let (chunks, error) = collect(driver.chat_stream(sample_request("m")).await.unwrap()).await;
    assert_eq!(text_of(&chunks), "par");
    let error = error.unwrap();
    assert_eq!((error.kind, error.message.as_str()), (DriverErrorKind::ProviderUnavailable, "Provider disconnected"));
    assert_eq!(server.requests().len(), 1);
}
