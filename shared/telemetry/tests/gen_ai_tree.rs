//! The Gen-AI span tree built from real events, exported over OTLP/gRPC to a local receiver.

mod common;

use common::events::*;
use common::harness::harness;
use common::{Attr, Received, all, assert_child, one};
use everruns_telemetry::ListenerOptions;
use everruns_telemetry::attributes::{self as key, CONTENT_KEYS};

/// A turn that thinks, calls two tools (one fails), then answers.
fn tool_turn() -> Script {
    let mut s = Script::new();
    let (weather, time) = (call("call_1", "get_weather"), call("call_2", "get_time"));
    let p = s.turn_started();
    s.at(0, p);
    for (at, payload) in [
        (10, s.reason_started("gpt-4o")),
        (12, s.output_started(1)),
        (20, s.thinking_started()),
        (25, s.thinking_delta()),
        (120, s.thinking_completed()),
        (
            500,
            generation(
                usage(100, 20, Some(50), Some(10)),
                480,
                "tool_calls",
                None,
                vec![weather.clone(), time.clone()],
            ),
        ),
        (505, s.output_completed("")),
        (510, reason_completed(true, 2, Some(usage(100, 20, Some(50), Some(10))), None)),
        (520, act_started(&[weather.clone(), time.clone()])),
        (530, tool_started(weather)),
        (531, tool_started(time)),
        (600, tool_completed("call_2", "get_time", Ok("{\"time\":\"14:40\"}"), 69)),
        (700, tool_completed("call_1", "get_weather", Err("upstream timeout"), 170)),
        (710, act_completed(1, 1)),
        (800, s.reason_started("gpt-4o")),
        (802, s.output_started(2)),
        (1500, generation(usage(150, 30, None, None), 650, "stop", Some("Sunny, 22°C; it is 14:40."), vec![])),
        (1510, s.output_completed("Sunny, 22°C; it is 14:40.")),
        (1520, reason_completed(true, 0, Some(usage(150, 30, None, None)), None)),
        (1600, s.turn_completed(2, usage(250, 50, None, None))),
        (1610, s.session_idled()),
    ] {
        s.at(at, payload);
    }
    s
}

fn assert_times(span: &Received, start: i64, end: i64) {
    assert_eq!((span.start_ms() - BASE_MS, span.end_ms() - BASE_MS), (start, end), "times of {}", span.span.name);
    assert_eq!(span.int(key::DURATION_MS), end - start, "duration_ms of {}", span.span.name);
}

fn assert_usage(span: &Received, input: i64, output: i64) {
    assert_eq!(span.int(key::USAGE_INPUT_TOKENS), input, "{}", span.span.name);
    assert_eq!(span.int(key::USAGE_OUTPUT_TOKENS), output, "{}", span.span.name);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_using_turn_becomes_the_gen_ai_tree() {
    let h = harness(ListenerOptions::default()).await;
    let script = tool_turn();
    let spans = h.export(script.events()).await;
    assert_eq!(spans.len(), 9, "{:?}", common::names(&spans));

    let root = one(&spans, &format!("invoke_agent {}", script.turn));
    assert!(root.span.parent_span_id.is_empty(), "invoke_agent is the root");
    assert_times(root, 0, 1600);
    assert_eq!(root.str(key::OPERATION_NAME), "invoke_agent");
    assert_eq!(root.str(key::TURN_ID), script.turn.to_string());
    assert_eq!(root.int(key::TURN_ITERATIONS), 2);
    assert_eq!(root.str(key::TURN_STATUS), "completed");
    assert_eq!(root.str(key::AGENT_ID), script.agent.to_string());
    assert_usage(root, 250, 50);
    assert_eq!(root.status().0, 0);
    assert_eq!(root.attr(key::ERROR_TYPE), None);

    let reasons = all(&spans, "reason");
    assert_eq!(reasons.len(), 2);
    assert_times(reasons[0], 10, 510);
    assert_times(reasons[1], 800, 1520);
    assert_usage(reasons[0], 100, 20);
    assert_usage(reasons[1], 150, 30);

    let thinking = one(&spans, "thinking");
    assert_child(thinking, reasons[0]);
    assert_times(thinking, 20, 120);
    assert_eq!(thinking.str(key::REQUEST_MODEL), "gpt-4o");

    let chats = all(&spans, "chat gpt-4o-2024-08-06");
    assert_eq!(chats.len(), 2);
    assert_child(chats[0], reasons[0]);
    assert_child(chats[1], reasons[1]);
    assert_times(chats[0], 20, 500);
    assert_times(chats[1], 850, 1500);
    let chat = chats[0];
    assert_eq!(chat.span.kind, 3, "chat is a CLIENT span");
    assert_eq!(chat.str(key::SYSTEM), "openai");
    assert_eq!(chat.str(key::REQUEST_MODEL), "gpt-4o");
    assert_eq!(chat.str(key::RESPONSE_MODEL), "gpt-4o-2024-08-06");
    assert_eq!(chat.str(key::RESPONSE_ID), "resp_480");
    assert_eq!(chat.attr(key::FINISH_REASONS), Some(Attr::Strs(vec!["tool_calls".into()])));
    assert_usage(chat, 100, 20);
    assert_eq!(chat.int(key::USAGE_CACHE_READ_TOKENS), 50);
    assert_eq!(chat.int(key::USAGE_CACHE_CREATION_TOKENS), 10);
    assert_eq!(chat.str(key::OUTPUT_TYPE), "tool_calls");
    assert_eq!(chat.int(key::TIME_TO_FIRST_TOKEN_MS), 150);
    assert_eq!(chats[1].str(key::OUTPUT_TYPE), "text");
    assert_eq!(chats[1].attr(key::FINISH_REASONS), Some(Attr::Strs(vec!["stop".into()])));

    let act = one(&spans, "act");
    assert_times(act, 520, 710);
    let weather = one(&spans, "execute_tool get_weather");
    let time = one(&spans, "execute_tool get_time");
    for tool in [weather, time] {
        assert_child(tool, act);
        assert_eq!(tool.str(key::OPERATION_NAME), "execute_tool");
    }
    assert_times(weather, 530, 700);
    assert_times(time, 531, 600);
    assert_eq!((weather.str(key::TOOL_NAME), weather.str(key::TOOL_CALL_ID)), ("get_weather".into(), "call_1".into()));
    assert_eq!((time.str(key::TOOL_NAME), time.str(key::TOOL_CALL_ID)), ("get_time".into(), "call_2".into()));
    assert_eq!(time.attr(key::TOOL_SUCCESS), Some(Attr::Bool(true)));
    assert_eq!(time.attr(key::ERROR_TYPE), None);
    assert_eq!(weather.attr(key::TOOL_SUCCESS), Some(Attr::Bool(false)));
    assert_eq!(weather.str(key::ERROR_TYPE), "upstream timeout");
    assert_eq!(weather.status(), (2, "upstream timeout".into()));

    for parent_of_root in [reasons[0], reasons[1], act] {
        assert_child(parent_of_root, root);
    }
    for span in &spans {
        let name = &span.span.name;
        assert_eq!(span.str(key::CONVERSATION_ID), script.session.to_string(), "{name}");
        let op = span.str(key::OPERATION_NAME);
        assert!(name.starts_with(&op), "{name} has operation {op}");
        assert!(span.attr(key::DURATION_MS).is_some(), "{name}");
        for content in CONTENT_KEYS {
            assert_eq!(span.attr(content), None, "{name} records {content} with capture off");
        }
        let resource = common::attrs(&span.resource);
        assert_eq!(resource.get("service.name"), Some(&Attr::Str("everruns-test".into())));
        assert_eq!(resource.get("service.version"), Some(&Attr::Str(env!("CARGO_PKG_VERSION").into())));
        assert_eq!(resource.get("deployment.environment"), Some(&Attr::Str("test".into())));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_recorded_only_when_capture_is_on() {
    let h = harness(ListenerOptions { capture_content: true, ..ListenerOptions::default() }).await;
    let script = tool_turn();
    let spans = h.export(script.events()).await;
    assert_eq!(spans.len(), 9);

    let root = one(&spans, &format!("invoke_agent {}", script.turn));
    assert!(root.str(key::INPUT_MESSAGES).contains("What's the weather in Paris"));
    let chats = all(&spans, "chat gpt-4o-2024-08-06");
    let input: serde_json::Value = serde_json::from_str(&chats[0].str(key::INPUT_MESSAGES)).unwrap_or_default();
    assert_eq!(input[0]["role"], "system");
    assert_eq!(input[1]["parts"][0]["content"], "What's the weather in Paris, and what time is it?");
    let output: serde_json::Value = serde_json::from_str(&chats[0].str(key::OUTPUT_MESSAGES)).unwrap_or_default();
    assert_eq!(output[0]["parts"][0]["type"], "tool_call");
    assert_eq!(output[0]["parts"][0]["name"], "get_weather");
    assert_eq!(output[0]["finish_reason"], "tool_calls");
    assert!(chats[1].str(key::OUTPUT_MESSAGES).contains("Sunny, 22°C"));
    assert_eq!(one(&spans, "thinking").str(key::THINKING_CONTENT), "Let me check the weather tool and the clock.");
    let time = one(&spans, "execute_tool get_time");
    assert_eq!(time.str(key::TOOL_CALL_ARGUMENTS), "{\"city\":\"Paris\"}");
    assert_eq!(time.str(key::TOOL_CALL_RESULT), "{\"time\":\"14:40\"}");
    assert_eq!(one(&spans, "execute_tool get_weather").str(key::TOOL_CALL_RESULT), "upstream timeout");
}
