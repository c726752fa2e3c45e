//! The Bedrock driver through the real AWS SDK against a loopback fake speaking ConverseStream's
//! event-stream encoding: streaming, tool use, usage, the request's wire shape, credentials (static
//! keys, the default chain, an API key, an assumed role), retries and error classes.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aws_sdk_bedrockruntime::config::Credentials;
use serde_json::{Value, json};

use everruns_bedrock::{BedrockDriver, register_driver};
use everruns_core::domain::{Message, TokenUsage};
use everruns_core::driver::{ChatDriver, ChatRequest, DriverError, DriverErrorKind, ToolCall};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry, ProviderMetadata, ResolvedModel};
use everruns_driver_common::RetryPolicy;
use everruns_driver_common::testing::{collect, finish_of, sample_request, text_of, tool_calls_of, usage_of};
use support::{FakeBedrock, ROLE_KEY_ID, ROLE_SESSION_TOKEN, Reply, event, exception, stop_and_usage, text_answer};

const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
const KEYS: &str = r#"{"access_key_id":"AKIDEXAMPLE","secret_access_key":"wJalrXUtnFEMI","session_token":"session-tok","region":"eu-west-3"}"#;

fn config(fake: &FakeBedrock, secret: Option<&str>, extra: Option<Value>) -> DriverConfig {
    DriverConfig {
        model: MODEL.into(),
        api_key: secret.map(str::to_owned),
        base_url: Some(fake.base_url.clone()),
        metadata: ProviderMetadata { extra, ..Default::default() },
    }
}

fn fast(driver: BedrockDriver) -> BedrockDriver {
    driver.with_retry_policy(RetryPolicy::default().with_initial_backoff(Duration::from_millis(2)))
}

fn keyed(fake: &FakeBedrock) -> BedrockDriver {
    fast(BedrockDriver::new(&config(fake, Some(KEYS), None)))
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest { messages: vec![Message::user_text(text)].into(), ..Default::default() }
}

async fn run(
    driver: &BedrockDriver,
    request: ChatRequest,
) -> (Vec<everruns_core::driver::ChatChunk>, Option<DriverError>) {
    match driver.chat_stream(request).await {
        Ok(stream) => collect(stream).await,
        Err(error) => (Vec::new(), Some(error)),
    }
}

/// The `Credential=` scope of a SigV4 `Authorization` header.
fn credential_scope(authorization: &str) -> &str {
    authorization.split("Credential=").nth(1).and_then(|rest| rest.split(',').next()).unwrap_or_default()
}

#[tokio::test]
async fn streams_text_with_usage_and_signs_with_the_document_keys() {
    let mut body = event("messageStart", json!({"role": "assistant"}));
    for word in ["Hel", "lo ", "there"] {
        body.extend(support::text(0, word));
    }
    body.extend(event("contentBlockStop", json!({"contentBlockIndex": 0})));
    body.extend(stop_and_usage("end_turn", [25, 7, 100, 40]));
    let fake = FakeBedrock::start(vec![Reply::Events(body)]).await;
    let mut request = sample_request("");
    request.max_tokens = Some(512);
    let (chunks, error) = run(&keyed(&fake), request).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&chunks), "Hello there");
    let usage = TokenUsage {
        input_tokens: 25,
        output_tokens: 7,
        cache_read_tokens: Some(100),
        cache_creation_tokens: Some(40),
    };
    assert_eq!(usage_of(&chunks), Some(usage));
    let finish = finish_of(&chunks).unwrap();
    assert_eq!(finish.finish_reason.as_deref(), Some("stop"));
    assert_eq!((finish.model.as_deref(), finish.response_id.as_deref()), (Some(MODEL), Some("req-0001")));

    let requests = fake.converse_requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream");
    let scope = credential_scope(sent.header("authorization"));
    assert!(scope.starts_with("AKIDEXAMPLE/") && scope.ends_with("/eu-west-3/bedrock/aws4_request"), "{scope}");
    assert_eq!(sent.header("x-amz-security-token"), "session-tok");

    let body = sent.json();
    assert_eq!(body["system"], json!([{"text": "You are a weather bot."}]));
    assert_eq!(body["inferenceConfig"], json!({"maxTokens": 512}));
    let spec = &body["toolConfig"]["tools"][0]["toolSpec"];
    assert_eq!(
        (spec["name"].as_str(), spec["description"].as_str()),
        (Some("get_weather"), Some("Weather for a city"))
    );
    assert_eq!(spec["inputSchema"]["json"]["required"], json!(["city"]));
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages.iter().map(|m| m["role"].as_str().unwrap_or_default()).collect();
    assert_eq!(roles, ["user", "assistant", "user", "assistant", "user"]);
    assert_eq!(messages[0]["content"][1], json!({"image": {"format": "jpeg", "source": {"bytes": "aGVsbG8="}}}));
    assert_eq!(
        messages[1]["content"][1],
        json!({"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}})
    );
    assert_eq!(
        messages[2]["content"][0],
        json!({"toolResult": {"toolUseId": "call_1", "content": [{"text": "{\"temp_c\":21}"}]}})
    );
    assert_eq!(
        messages[2]["content"][1],
        json!({"toolResult": {"toolUseId": "call_2", "content": [{"text": "Error: down"}], "status": "error"}})
    );
    assert_eq!(messages[4]["content"], json!([{"text": "And tomorrow?"}]));
}

#[tokio::test]
async fn a_tool_call_streams_its_input_in_pieces() {
    let mut body = event("messageStart", json!({"role": "assistant"}));
    body.extend(support::text(0, "Checking."));
    body.extend(event("contentBlockStop", json!({"contentBlockIndex": 0})));
    body.extend(event(
        "contentBlockStart",
        json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather"}}}),
    ));
    for piece in ["", "{\"city\": \"Pa", "ris\", \"days\"", ": 2}"] {
        body.extend(event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": piece}}}),
        ));
    }
    body.extend(event("contentBlockStop", json!({"contentBlockIndex": 1})));
    body.extend(stop_and_usage("tool_use", [30, 12, 0, 0]));
    let fake = FakeBedrock::start(vec![Reply::Events(body)]).await;
    let (chunks, error) = run(&keyed(&fake), sample_request(MODEL)).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&chunks), "Checking.");
    let call =
        ToolCall { id: "tooluse_1".into(), name: "get_weather".into(), arguments: json!({"city": "Paris", "days": 2}) };
    assert_eq!(tool_calls_of(&chunks), vec![call]);
    assert_eq!(finish_of(&chunks).and_then(|f| f.finish_reason).as_deref(), Some("tool_calls"));
    assert_eq!(usage_of(&chunks).map(|u| (u.input_tokens, u.output_tokens)), Some((30, 12)));
}

#[tokio::test]
async fn throttling_is_retried_then_succeeds() {
    let fake = FakeBedrock::start(vec![
        Reply::Error(429, "ThrottlingException", "Too many requests, please wait before trying again."),
        Reply::Events(text_answer(&["after ", "a wait"])),
    ])
    .await;
    let (chunks, error) = run(&keyed(&fake), ask("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&chunks), "after a wait");
    assert_eq!(fake.converse_requests().len(), 2);
}

#[tokio::test]
async fn an_exception_event_before_the_first_chunk_is_retried() {
    let mut throttled = event("messageStart", json!({"role": "assistant"}));
    throttled.extend(exception("throttlingException", "Too many tokens, please wait before trying again."));
    let fake = FakeBedrock::start(vec![Reply::Events(throttled), Reply::Events(text_answer(&["ok"]))]).await;
    let (chunks, error) = run(&keyed(&fake), ask("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&chunks), "ok");
    assert_eq!(fake.converse_requests().len(), 2);
}

#[tokio::test]
async fn throttling_that_persists_is_the_rate_limit_class() {
    let fake = FakeBedrock::start(vec![Reply::Error(429, "ThrottlingException", "Too many requests")]).await;
    let (_, error) = run(&keyed(&fake), ask("hi")).await;
    let error = error.unwrap();
    assert_eq!((error.kind, error.status), (DriverErrorKind::RateLimited, Some(429)));
    assert_eq!(error.error_code(), "provider_rate_limited");
    assert!(error.friendly_message().contains("rate limited by the AI provider"));
    assert_eq!(fake.converse_requests().len(), 3, "two retries");
}

#[tokio::test]
async fn rejected_credentials_are_the_auth_class_without_retries() {
    for (kind, message) in [
        ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
        ("UnrecognizedClientException", "The security token included in the request is invalid."),
    ] {
        let fake = FakeBedrock::start(vec![Reply::Error(403, kind, message)]).await;
        let (_, error) = run(&keyed(&fake), ask("hi")).await;
        let error = error.unwrap();
        assert_eq!((error.kind, error.status), (DriverErrorKind::Authentication, Some(403)), "{kind}");
        assert!(error.message.contains(message));
        assert_eq!(error.error_code(), "provider_misconfigured");
        assert!(error.friendly_message().contains("contact support"));
        assert_eq!(fake.converse_requests().len(), 1);
    }
}

#[tokio::test]
async fn server_errors_are_the_provider_class_after_retries() {
    let fake = FakeBedrock::start(vec![Reply::Error(500, "InternalServerException", "internal failure")]).await;
    let (_, error) = run(&keyed(&fake), ask("hi")).await;
    let error = error.unwrap();
    assert_eq!((error.kind, error.status), (DriverErrorKind::ProviderUnavailable, Some(500)));
    assert!(error.friendly_message().contains("experiencing issues"));
    assert_eq!(fake.converse_requests().len(), 3);

    let fake = FakeBedrock::start(vec![Reply::Error(503, "ServiceUnavailableException", "busy")]).await;
    let (_, error) = run(&keyed(&fake), ask("hi")).await;
    assert_eq!(error.map(|e| e.kind), Some(DriverErrorKind::ProviderUnavailable));
}

#[tokio::test]
async fn input_too_long_is_the_conversation_too_long_class() {
    let fake =
        FakeBedrock::start(vec![Reply::Error(400, "ValidationException", "Input is too long for requested model.")])
            .await;
    let (_, error) = run(&keyed(&fake), ask("hi")).await;
    let error = error.unwrap();
    assert_eq!(error.kind, DriverErrorKind::RequestTooLarge);
    assert!(error.friendly_message().contains("conversation is too long"));
    assert_eq!(fake.converse_requests().len(), 1);
}

#[tokio::test]
async fn without_a_secret_the_default_chain_signs_in_the_metadata_region() {
    let fake = FakeBedrock::start(vec![Reply::Events(text_answer(&["role"]))]).await;
    let worker_role = Credentials::new("ASIAWORKERROLE", "role-secret", Some("role-token".into()), None, "test");
    let driver = fast(BedrockDriver::new(&config(&fake, None, Some(json!({"region": "us-west-2"})))))
        .with_default_credentials(worker_role);
    let (chunks, error) = run(&driver, ask("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&chunks), "role");
    let sent = &fake.converse_requests()[0];
    let scope = credential_scope(sent.header("authorization"));
    assert!(scope.starts_with("ASIAWORKERROLE/") && scope.contains("/us-west-2/bedrock/"), "{scope}");
}

#[tokio::test]
async fn a_plain_secret_is_a_bedrock_api_key() {
    let fake = FakeBedrock::start(vec![Reply::Events(text_answer(&["keyed"]))]).await;
    let driver =
        fast(BedrockDriver::new(&config(&fake, Some("ABSKbedrockapikey"), Some(json!({"region": "us-east-1"})))));
    let (chunks, error) = run(&driver, ask("hi")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(text_of(&chunks), "keyed");
    assert_eq!(fake.converse_requests()[0].header("authorization"), "Bearer ABSKbedrockapikey");
}

#[tokio::test]
async fn a_role_arn_is_assumed_through_sts_with_the_document_keys() {
    let fake = FakeBedrock::start(vec![Reply::Events(text_answer(&["assumed"]))]).await;
    let metadata = json!({"role_arn": "arn:aws:iam::123456789012:role/bedrock", "sts_endpoint_url": fake.base_url});
    let driver = fast(BedrockDriver::new(&config(&fake, Some(KEYS), Some(metadata))));
    for _ in 0..2 {
        let (chunks, error) = run(&driver, ask("hi")).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(text_of(&chunks), "assumed");
    }
    let requests = fake.requests();
    let sts: Vec<_> = requests.iter().filter(|r| r.is_sts()).collect();
    assert_eq!(sts.len(), 1, "the assumed credentials are cached");
    assert!(sts[0].body.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fbedrock"), "{}", sts[0].body);
    assert!(sts[0].body.contains("RoleSessionName=everruns-bedrock"));
    assert!(credential_scope(sts[0].header("authorization")).starts_with("AKIDEXAMPLE/"));
    for sent in fake.converse_requests() {
        assert!(credential_scope(sent.header("authorization")).starts_with(&format!("{ROLE_KEY_ID}/")));
        assert_eq!(sent.header("x-amz-security-token"), ROLE_SESSION_TOKEN);
    }
}

#[tokio::test]
async fn the_registry_builds_the_driver_and_bad_documents_fail_closed() {
    let fake = FakeBedrock::start(vec![Reply::Events(text_answer(&["registered"]))]).await;
    let mut registry = DriverRegistry::new();
    register_driver(&mut registry);
    let resolved = |api_key: &str| ResolvedModel {
        model: MODEL.into(),
        provider_type: DriverId::Bedrock,
        api_key: Some(api_key.into()),
        base_url: Some(fake.base_url.clone()),
        provider_metadata: None,
    };
    let driver = registry.create(&resolved(KEYS)).unwrap();
    let stream = driver.chat_stream(ask("hi")).await.unwrap();
    assert_eq!(text_of(&collect(stream).await.0), "registered");

    let driver = registry.create(&resolved(r#"{"access_key_id": "AKIDONLY"}"#)).unwrap();
    let error = driver.chat_stream(ask("hi")).await.err().unwrap();
    assert_eq!(error.kind, DriverErrorKind::Authentication);
    assert_eq!(fake.converse_requests().len(), 1, "no call without usable credentials");
}

#[tokio::test]
async fn an_exception_after_the_first_chunk_ends_the_stream_without_a_retry() {
    let mut body = event("messageStart", json!({"role": "assistant"}));
    body.extend(support::text(0, "partial"));
    body.extend(exception("modelStreamErrorException", "An error occurred while streaming the response."));
    let fake = FakeBedrock::start(vec![Reply::Events(body)]).await;
    let (chunks, error) = run(&keyed(&fake), ask("hi")).await;
    assert_eq!(text_of(&chunks), "partial");
    assert_eq!(error.map(|e| e.kind), Some(DriverErrorKind::ProviderUnavailable));
    assert_eq!(fake.converse_requests().len(), 1);
}
