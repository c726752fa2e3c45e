//! Shared pieces of the Chat Completions driver tests: chunk builders and driver constructors.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{Value, json};

use everruns_chat_completions::ChatCompletionsDriver;
use everruns_core::driver::{ChatDriver, DriverError};
use everruns_core::driver_registry::{DriverConfig, ProviderMetadata};
use everruns_driver_common::RetryPolicy;
use everruns_driver_common::testing::{FakeServer, Reply, collect, data_events, sample_request};

/// A config for `model` at `base_url` with `api_key` and metadata `extra`.
pub fn config(base_url: Option<String>, api_key: Option<&str>, extra: Option<Value>) -> DriverConfig {
    DriverConfig {
        model: "gpt-test".into(),
        api_key: api_key.map(str::to_owned),
        base_url,
        metadata: ProviderMetadata { extra, ..Default::default() },
    }
}

/// Millisecond backoffs, so retry tests run fast.
pub fn fast(driver: ChatCompletionsDriver) -> ChatCompletionsDriver {
    driver.with_retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(2)))
}

/// One `chat.completion.chunk` with the given first-choice `delta` and `finish_reason`.
pub fn chunk(delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test-2025",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    })
}

/// The final usage chunk (empty `choices`).
pub fn usage_chunk(usage: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-test-2025", "choices": [], "usage": usage})
}

/// An SSE body of these chunks followed by `data: [DONE]`.
pub fn sse(chunks: &[Value]) -> String {
    format!("{}data: [DONE]\n\n", data_events(chunks))
}

/// A plain streamed answer with usage.
pub fn text_stream(text: &str) -> String {
    sse(&[
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"content": text}), None),
        chunk(json!({}), Some("stop")),
        usage_chunk(json!({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5})),
    ])
}

/// An OpenAI-style error body.
pub fn error_reply(status: u16, message: &str) -> Reply {
    Reply::json(status, json!({"error": {"message": message, "type": "invalid_request_error", "code": null}}))
}

/// The error a call ends with (before or during the stream).
pub async fn failure(driver: &ChatCompletionsDriver) -> DriverError {
    match driver.chat_stream(sample_request("gpt-test")).await {
        Err(error) => error,
        Ok(stream) => collect(stream).await.1.expect("an error"),
    }
}

/// The one request the fake received.
pub fn only_request(server: &FakeServer) -> everruns_driver_common::testing::RecordedRequest {
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests[0].clone()
}
