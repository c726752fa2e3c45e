//! Tests of the simulator driver: modes, deltas, usage, latency, failures, model-name switches and
//! registration.

use futures::StreamExt;
use serde_json::json;
use tokio::time::Instant;

use super::*;
use crate::domain::{ContentPart, Message, MessageRole, ToolDefinition};
use crate::driver::{DriverErrorKind, ToolCall};
use crate::driver_registry::ResolvedModel;

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest { model: "llmsim".into(), messages: messages.into(), ..Default::default() }
}

async fn run(driver: &dyn ChatDriver, request: ChatRequest) -> Vec<ChatChunk> {
    let stream = driver.chat_stream(request).await.expect("the call succeeds");
    stream.map(|chunk| chunk.expect("no stream error")).collect().await
}

fn text_of(chunks: &[ChatChunk]) -> String {
    chunks
        .iter()
        .filter_map(|c| match c {
            ChatChunk::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn deltas(chunks: &[ChatChunk]) -> usize {
    chunks.iter().filter(|c| matches!(c, ChatChunk::TextDelta(_))).count()
}

fn tool_calls(chunks: &[ChatChunk]) -> Vec<ToolCall> {
    chunks
        .iter()
        .filter_map(|c| match c {
            ChatChunk::ToolCall(call) => Some(call.clone()),
            _ => None,
        })
        .collect()
}

fn finish(chunks: &[ChatChunk]) -> ChatFinish {
    match chunks.last() {
        Some(ChatChunk::Finished(finish)) => finish.clone(),
        other => panic!("expected a Finished chunk last, got {other:?}"),
    }
}

fn usage(chunks: &[ChatChunk]) -> TokenUsage {
    chunks
        .iter()
        .find_map(|c| match c {
            ChatChunk::Usage(u) => Some(*u),
            _ => None,
        })
        .expect("a usage chunk")
}

#[tokio::test]
async fn fixed_text_streams_word_deltas() {
    let text = "Hello there,  world!\nSecond line ";
    let driver = LlmSimDriver::new(LlmSimConfig::fixed(text), "llmsim-test");
    let chunks = run(&driver, request(vec![Message::user_text("one two three")])).await;
    assert_eq!(text_of(&chunks), text);
    assert_eq!(deltas(&chunks), 5);
    assert!(matches!(&chunks[0], ChatChunk::TextDelta(t) if t == "Hello "));
    let usage = usage(&chunks);
    assert_eq!(usage.output_tokens, 5);
    assert_eq!(usage.input_tokens, 3);
    let finish = finish(&chunks);
    assert_eq!(finish.finish_reason.as_deref(), Some("stop"));
    assert_eq!(finish.model.as_deref(), Some("llmsim-test"));
    let id = finish.response_id.expect("a response id");
    assert!(id.starts_with("llmsim-resp-") && id.len() == "llmsim-resp-".len() + 32);
}

#[tokio::test]
async fn default_config_and_empty_model() {
    let driver = LlmSimDriver::new(LlmSimConfig::default(), "");
    let chunks = run(&driver, ChatRequest::default()).await;
    assert_eq!(text_of(&chunks), DEFAULT_RESPONSE);
    assert_eq!(usage(&chunks).input_tokens, 1);
    assert_eq!(finish(&chunks).model.as_deref(), Some(DEFAULT_MODEL_NAME));
    let a = finish(&run(&driver, ChatRequest::default()).await).response_id;
    assert_ne!(a, finish(&chunks).response_id);
}

#[test]
fn word_deltas_edge_cases() {
    assert!(word_deltas("").is_empty());
    assert_eq!(word_deltas("  "), vec!["  "]);
    assert_eq!(word_deltas(" a b"), vec![" a ", "b"]);
    assert_eq!(word_deltas("héllo wörld"), vec!["héllo ", "wörld"]);
}

#[tokio::test]
async fn echo_repeats_last_user_text() {
    let driver = LlmSimDriver::new(LlmSimConfig::echo(), "m");
    let messages = vec![
        Message::user_text("first"),
        Message::new(MessageRole::Agent, vec![ContentPart::text("reply")]),
        Message::user_text("second message"),
        Message::new(MessageRole::Agent, vec![ContentPart::text("later")]),
    ];
    let chunks = run(&driver, request(messages)).await;
    assert_eq!(text_of(&chunks), "Echo: second message");
    let chunks = run(&driver, request(Vec::new())).await;
    assert_eq!(text_of(&chunks), "Echo: ");
}

#[tokio::test]
async fn lorem_has_exact_word_count() {
    for n in [0, 1, 5, 19, 20, 57] {
        let driver = LlmSimDriver::new(LlmSimConfig::lorem(n), "m");
        let chunks = run(&driver, request(Vec::new())).await;
        let text = text_of(&chunks);
        assert_eq!(text.split_whitespace().count(), n, "{text}");
        assert_eq!(deltas(&chunks), n);
        if n > 0 {
            assert!(text.starts_with("Lorem") && text.ends_with('.'), "{text}");
        }
    }
}

fn weather_tool() -> ToolDefinition {
    ToolDefinition::client_side(
        "get_weather",
        "Weather for a city",
        json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "threshold": {"type": "number", "exclusiveMinimum": 10},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "alerts": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "location": {
                    "type": "object",
                    "properties": {
                        "lat": {"type": "number"},
                        "lon": {"type": "number"},
                        "label": {"type": ["string", "null"]}
                    },
                    "required": ["lat", "lon"]
                }
            },
            "required": ["city", "days", "unit", "location", "extra"]
        }),
    )
}

#[tokio::test]
async fn tool_calling_calls_then_reports_result() {
    let driver = LlmSimDriver::new(LlmSimConfig::tool_calling(), "llmsim-tools");
    let tools = vec![ToolDefinition::client_side("noop", "", json!({})), weather_tool()];
    let mut req = request(vec![Message::user_text("Please call GET_WEATHER for Paris")]);
    req.tools = tools.clone().into();
    let chunks = run(&driver, req).await;
    let calls = tool_calls(&chunks);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.name, "get_weather");
    assert!(call.id.starts_with("call_") && call.id.len() == 37);
    let args = &call.arguments;
    assert_eq!(args["city"], json!("example"));
    assert_eq!(args["days"], json!(2));
    assert!(args["threshold"].as_f64().is_some_and(|v| v > 10.0));
    assert_eq!(args["unit"], json!("celsius"));
    assert_eq!(args["alerts"], json!(true));
    assert_eq!(args["tags"], json!(["example"]));
    assert_eq!(args["location"]["lat"], json!(2.5));
    assert_eq!(args["location"]["lon"], json!(2.5));
    assert_eq!(args["location"]["label"], json!("example"));
    assert_eq!(args["extra"], json!("example"));
    assert_eq!(text_of(&chunks), "Let me use the get_weather tool.");
    assert_eq!(finish(&chunks).finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(usage(&chunks).output_tokens, deltas(&chunks) as u64 + 1);

    // Without a named tool, the first one is called.
    let mut req = request(vec![Message::user_text("do something")]);
    req.tools = tools.clone().into();
    let calls = tool_calls(&run(&driver, req).await);
    assert_eq!(calls[0].name, "noop");
    assert_eq!(calls[0].arguments, json!({}));

    // Then the tool result is reported.
    let mut req = request(vec![
        Message::user_text("Please call get_weather"),
        Message::new(
            MessageRole::Agent,
            vec![ContentPart::ToolCall {
                id: call.id.clone(),
                name: call.name.clone(),
                arguments: call.arguments.clone(),
            }],
        ),
        Message::new(
            MessageRole::ToolResult,
            vec![ContentPart::ToolResult {
                tool_call_id: call.id.clone(),
                result: Some(json!({"temp": 21, "sky": "clear"})),
                error: None,
            }],
        ),
    ]);
    req.tools = tools.clone().into();
    let chunks = run(&driver, req).await;
    assert!(tool_calls(&chunks).is_empty());
    let text = text_of(&chunks);
    assert!(text.contains(r#"{"sky":"clear","temp":21}"#) || text.contains(r#"{"temp":21,"sky":"clear"}"#), "{text}");
    assert!(text.starts_with("The tool returned: "), "{text}");
    assert_eq!(finish(&chunks).finish_reason.as_deref(), Some("stop"));

    // A failed tool.
    let mut req = request(vec![Message::new(
        MessageRole::ToolResult,
        vec![ContentPart::ToolResult { tool_call_id: "call_x".into(), result: None, error: Some("boom".into()) }],
    )]);
    req.tools = tools.into();
    assert_eq!(text_of(&run(&driver, req).await), "The tool failed: boom");
}

#[tokio::test]
async fn tool_calling_without_tools() {
    let driver = LlmSimDriver::new(LlmSimConfig::tool_calling(), "m");
    let chunks = run(&driver, request(vec![Message::user_text("hi")])).await;
    assert_eq!(text_of(&chunks), "I have no tools available.");
    assert_eq!(finish(&chunks).finish_reason.as_deref(), Some("stop"));
}

#[tokio::test(start_paused = true)]
async fn latency_delays_first_token() {
    let config =
        LlmSimConfig::fixed("one two three").with_latency(Duration::from_millis(500), Duration::from_millis(20));
    let driver = LlmSimDriver::new(config, "m");
    let start = Instant::now();
    let mut stream = driver.chat_stream(request(Vec::new())).await.expect("the call succeeds");
    assert!(start.elapsed() < Duration::from_millis(500));
    let first = stream.next().await.expect("a chunk").expect("no error");
    assert_eq!(first, ChatChunk::TextDelta("one ".into()));
    assert!(start.elapsed() >= Duration::from_millis(500));
    let rest: Vec<_> = stream.collect().await;
    assert_eq!(rest.len(), 4);
    assert!(start.elapsed() >= Duration::from_millis(540));
}

#[tokio::test(start_paused = true)]
async fn zero_latency_never_sleeps() {
    let driver = LlmSimDriver::new(LlmSimConfig::lorem(50), "m");
    let start = Instant::now();
    let chunks = run(&driver, request(Vec::new())).await;
    assert_eq!(deltas(&chunks), 50);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn failures_map_to_kinds() {
    let cases = [
        (LlmSimFailure::RateLimited, DriverErrorKind::RateLimited, 429),
        (LlmSimFailure::ProviderError, DriverErrorKind::ProviderUnavailable, 503),
        (LlmSimFailure::Authentication, DriverErrorKind::Authentication, 401),
    ];
    for (failure, kind, status) in cases {
        let driver = LlmSimDriver::new(LlmSimConfig::default().with_failure(failure), "m");
        let Err(error) = driver.chat_stream(request(Vec::new())).await else {
            panic!("{failure:?} should fail");
        };
        assert_eq!(error.kind, kind);
        assert_eq!(error.status, Some(status));
        assert!(error.message.starts_with("llmsim: "));
        let retry_after = (failure == LlmSimFailure::RateLimited).then_some(Duration::from_secs(1));
        assert_eq!(error.retry_after, retry_after);
    }
}

#[tokio::test]
async fn a_prompt_past_the_context_window_is_refused_as_too_large() {
    let driver = LlmSimDriver::new(LlmSimConfig::echo().with_context_window(4), "m");
    let short = vec![Message::user_text("one two three")];
    assert!(driver.chat_stream(request(short)).await.is_ok(), "3 words fit in 4 tokens");
    let long = vec![Message::user_text("one two three four five")];
    let Err(error) = driver.chat_stream(request(long)).await else { panic!("5 words exceed 4 tokens") };
    assert_eq!(error.kind, DriverErrorKind::RequestTooLarge);
    assert_eq!(error.error_code(), "request_too_large");
    assert!(!error.is_retryable(), "a retry cannot make the prompt fit");
}

#[tokio::test]
async fn failure_rates() {
    let never = LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, 0.0), "m");
    let always = LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, 1.0), "m");
    let half = LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, 0.5), "m");
    let nan = LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, f64::NAN), "m");
    let mut half_failures = 0;
    for _ in 0..400 {
        assert!(never.chat_stream(request(Vec::new())).await.is_ok());
        assert!(nan.chat_stream(request(Vec::new())).await.is_ok());
        assert!(always.chat_stream(request(Vec::new())).await.is_err());
        if half.chat_stream(request(Vec::new())).await.is_err() {
            half_failures += 1;
        }
    }
    assert!((100..=300).contains(&half_failures), "{half_failures}");
}

#[test]
fn for_model_switches() {
    assert_eq!(LlmSimConfig::for_model("llmsim"), LlmSimConfig::default());
    assert_eq!(LlmSimConfig::for_model(""), LlmSimConfig::default());
    assert_eq!(LlmSimConfig::for_model("LLMSIM-Echo"), LlmSimConfig::echo());
    assert_eq!(LlmSimConfig::for_model("llmsim-tools"), LlmSimConfig::tool_calling());
    let slow = LlmSimConfig::for_model("llmsim-slow");
    assert_eq!(slow.mode, Mode::Lorem(40));
    assert_eq!(slow.time_to_first_token(), Duration::from_millis(200));
    assert_eq!(slow.per_token(), Duration::from_millis(60));
    assert_eq!(LlmSimConfig::for_model("llmsim-fail").failure(), Some((LlmSimFailure::ProviderError, 1.0)));
    assert_eq!(LlmSimConfig::for_model("llmsim-fail-429").failure(), Some((LlmSimFailure::RateLimited, 1.0)));
    assert_eq!(LlmSimConfig::for_model("llmsim-fail-auth").failure(), Some((LlmSimFailure::Authentication, 1.0)));
    assert_eq!(LlmSimConfig::for_model("llmsim-echo-ctx-500").context_window(), Some(500));
    assert_eq!(LlmSimConfig::for_model("llmsim-echo").context_window(), None);

    let ttft = LlmSimConfig::for_model("llmsim-ttft-1500");
    assert_eq!(ttft.time_to_first_token(), Duration::from_millis(1500));
    assert_eq!(ttft.per_token(), Duration::ZERO);
    assert_eq!(ttft.mode, Mode::Fixed(DEFAULT_RESPONSE.into()));
    let echo_ttft = LlmSimConfig::for_model("llmsim-echo-TTFT-250-x");
    assert_eq!(echo_ttft.mode, Mode::Echo);
    assert_eq!(echo_ttft.time_to_first_token(), Duration::from_millis(250));
    let slow_ttft = LlmSimConfig::for_model("slow-ttft-5");
    assert_eq!(slow_ttft.time_to_first_token(), Duration::from_millis(5));
    assert_eq!(slow_ttft.per_token(), Duration::from_millis(60));
    for junk in ["x-ttft-", "x-ttft-abc", "x-ttft-99999999999999999999999", "-ttft-é"] {
        assert_eq!(LlmSimConfig::for_model(junk).time_to_first_token(), Duration::ZERO, "{junk}");
    }
}

fn resolved(model: &str) -> ResolvedModel {
    ResolvedModel {
        model: model.into(),
        provider_type: DriverId::LlmSim,
        api_key: None,
        base_url: None,
        provider_metadata: None,
    }
}

#[tokio::test]
async fn register_driver_uses_model_switches() {
    let mut registry = DriverRegistry::new();
    register_driver(&mut registry);
    assert!(registry.contains(&DriverId::LlmSim));
    let driver = registry.create(&resolved("llmsim-echo")).expect("registered");
    let chunks = run(driver.as_ref(), request(vec![Message::user_text("ping")])).await;
    assert_eq!(text_of(&chunks), "Echo: ping");
    assert_eq!(finish(&chunks).model.as_deref(), Some("llmsim-echo"));

    let driver = registry.create(&resolved("anything")).expect("registered");
    assert_eq!(text_of(&run(driver.as_ref(), request(Vec::new())).await), DEFAULT_RESPONSE);
}

#[tokio::test]
async fn register_with_config_replaces() {
    let mut registry = DriverRegistry::new();
    register_driver(&mut registry);
    register_with_config(&mut registry, LlmSimConfig::fixed("scripted"));
    let driver = registry.create(&resolved("llmsim-echo")).expect("registered");
    let chunks = run(driver.as_ref(), request(vec![Message::user_text("ping")])).await;
    assert_eq!(text_of(&chunks), "scripted");
    assert_eq!(finish(&chunks).model.as_deref(), Some("llmsim-echo"));
}

#[test]
fn a_pace_applies_unless_the_name_says_otherwise() {
    let pace = LlmSimPacing::from_millis(600, 25);
    let echo = LlmSimConfig::for_model_paced("llmsim-echo", pace);
    assert_eq!((echo.time_to_first_token(), echo.per_token()), (Duration::from_millis(600), Duration::from_millis(25)));
    assert_eq!(echo.mode, Mode::Echo);
    assert_eq!(LlmSimConfig::for_model_paced("llmsim-echo-instant", pace), LlmSimConfig::echo(), "instant wins");
    let ttft = LlmSimConfig::for_model_paced("llmsim-echo-ttft-50", pace);
    assert_eq!((ttft.time_to_first_token(), ttft.per_token()), (Duration::from_millis(50), Duration::from_millis(25)));
    let slow = LlmSimConfig::for_model_paced("llmsim-slow", pace);
    assert_eq!((slow.time_to_first_token(), slow.per_token()), (Duration::from_millis(600), Duration::from_millis(60)));
    let slow = LlmSimConfig::for_model_paced("llmsim-slow", LlmSimPacing::INSTANT);
    assert_eq!(slow, LlmSimConfig::for_model("llmsim-slow"), "slow keeps its own pace");
    let fail = LlmSimConfig::for_model_paced("llmsim-fail", pace);
    assert_eq!(fail.failure(), Some((LlmSimFailure::ProviderError, 1.0)));
    assert_eq!(fail.time_to_first_token(), Duration::from_millis(600));
    for model in ["llmsim-echo", "llmsim-tools", "llmsim", "llmsim-fail"] {
        let instant = LlmSimConfig::for_model_paced(model, LlmSimPacing::INSTANT);
        assert_eq!(instant, LlmSimConfig::for_model(model), "{model}");
        assert_eq!((instant.time_to_first_token(), instant.per_token()), (Duration::ZERO, Duration::ZERO), "{model}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_registry_paces_by_provider_metadata() {
    let mut registry = DriverRegistry::new();
    register_driver(&mut registry);
    let paced = |model: &str| ResolvedModel {
        provider_metadata: LlmSimPacing::from_millis(600, 25).apply_to(None),
        ..resolved(model)
    };
    let driver = registry.create(&paced("llmsim-echo")).expect("registered");
    let start = Instant::now();
    let chunks = run(driver.as_ref(), request(vec![Message::user_text("one two three")])).await;
    assert_eq!(text_of(&chunks), "Echo: one two three");
    // 600 ms before "Echo: ", then 25 ms before each of the three later words.
    assert_eq!(start.elapsed(), Duration::from_millis(675));

    let start = Instant::now();
    let driver = registry.create(&paced("llmsim-fail")).expect("registered");
    assert!(driver.chat_stream(request(Vec::new())).await.is_err());
    assert_eq!(start.elapsed(), Duration::from_millis(600), "a failure, too, after the first-token delay");

    for instant in [paced("llmsim-echo-instant"), resolved("llmsim-echo")] {
        let driver = registry.create(&instant).expect("registered");
        let start = Instant::now();
        let chunks = run(driver.as_ref(), request(vec![Message::user_text("ping")])).await;
        assert_eq!(text_of(&chunks), "Echo: ping");
        assert_eq!(start.elapsed(), Duration::ZERO, "{}", instant.model);
    }
}
