//! How turns end (failed, cancelled, evicted), remote parents, and events the tree must absorb.

mod common;

use std::time::Duration;

use common::events::*;
use common::harness::{force_flush, harness};
use common::{all, assert_child, one};
use everruns_core::events::*;
use everruns_core::ids::TurnId;
use everruns_core::ports::EventEmitter;
use everruns_telemetry::ListenerOptions;
use everruns_telemetry::attributes as key;
use everruns_telemetry::opentelemetry::Context;
use everruns_telemetry::opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use everruns_telemetry::propagation::inject_w3c;

fn failed_generation(error: &str) -> EventPayload {
    EventPayload::LlmGeneration(LlmGenerationData {
        messages: Vec::new().into(),
        output: GenerationOutput::default(),
        tools: None,
        metadata: GenerationMetadata {
            model: "claude-sonnet-4".into(),
            success: false,
            provider: Some("anthropic".into()),
            error: Some(error.into()),
            ..GenerationMetadata::default()
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_turn_marks_invoke_agent_and_chat_as_errors() {
    let h = harness(ListenerOptions::default()).await;
    let mut s = Script::new();
    let turn = s.turn_started();
    let (reason, started) = (s.reason_started("claude-sonnet-4"), s.output_started(1));
    let failed = EventPayload::TurnFailed(TurnFailedData {
        turn_id: s.turn,
        error: "The model provider is rate limiting requests.".into(),
        error_code: Some("rate_limited".into()),
        error_fields: None,
        error_disclosure: Some("standard".into()),
    });
    // The engine's order on a failed call: reason.completed, then llm.generation, then turn.failed.
    s.at(0, turn).at(10, reason).at(11, started);
    s.at(900, reason_completed(false, 0, None, Some("429 Too Many Requests")));
    s.at(901, failed_generation("429 Too Many Requests"));
    s.at(902, s.output_completed("The model provider is rate limiting requests."));
    s.at(910, failed);
    let spans = h.export(s.events()).await;
    assert_eq!(spans.len(), 3, "{:?}", common::names(&spans));

    let root = one(&spans, &format!("invoke_agent {}", s.turn));
    assert_eq!(root.status(), (2, "The model provider is rate limiting requests.".into()));
    assert_eq!(root.str(key::ERROR_TYPE), "rate_limited");
    assert_eq!(root.str(key::TURN_STATUS), "failed");
    assert_eq!(root.int(key::TURN_ITERATIONS), 1);
    assert_eq!(root.end_ms() - BASE_MS, 910);

    let reason = one(&spans, "reason");
    assert_child(reason, root);
    assert_eq!(reason.status().0, 2);
    let chat = one(&spans, "chat claude-sonnet-4");
    assert_child(chat, reason);
    assert_eq!(chat.str(key::ERROR_TYPE), "429 Too Many Requests");
    assert_eq!(chat.status(), (2, "429 Too Many Requests".into()));
    assert_eq!(chat.str(key::SYSTEM), "anthropic");
    assert!(chat.end_ms() <= reason.end_ms(), "the chat ends inside its reason");
    assert_eq!(reason.end_ms() - BASE_MS, 901);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_turn_is_an_error_and_ends_its_open_spans() {
    let h = harness(ListenerOptions::default()).await;
    let mut s = Script::new();
    let slow = call("call_9", "long_task");
    let (turn, reason) = (s.turn_started(), s.reason_started("gpt-4o"));
    s.at(0, turn).at(10, reason);
    s.at(400, generation(usage(10, 5, None, None), 300, "tool_calls", None, vec![slow.clone()]));
    s.at(410, reason_completed(true, 1, None, None));
    s.at(420, act_started(std::slice::from_ref(&slow)));
    s.at(430, tool_started(slow));
    let cancelled = EventPayload::TurnCancelled(TurnCancelledData {
        turn_id: s.turn,
        reason: Some("User requested cancellation".into()),
        usage: None,
    });
    s.at(2000, cancelled);
    // Late events of an ended turn change nothing.
    s.at(2100, tool_completed("call_9", "long_task", Err("cancelled"), 1670));
    s.at(2101, s.output_completed("Work was cancelled by user."));
    let spans = h.export(s.events()).await;
    assert_eq!(spans.len(), 5, "{:?}", common::names(&spans));

    let root = one(&spans, &format!("invoke_agent {}", s.turn));
    assert_eq!(root.status(), (2, "User requested cancellation".into()));
    assert_eq!(root.str(key::ERROR_TYPE), "cancelled");
    assert_eq!(root.str(key::TURN_STATUS), "cancelled");
    assert_eq!(root.int(key::USAGE_INPUT_TOKENS), 10, "usage so far");
    let act = one(&spans, "act");
    let tool = one(&spans, "execute_tool long_task");
    assert_child(tool, act);
    for span in [root, act, tool] {
        assert_eq!(span.end_ms() - BASE_MS, 2000, "{} ends with the turn", span.span.name);
    }
    assert_eq!(tool.str(key::ERROR_TYPE), "interrupted");
    assert_eq!(tool.attr(key::TOOL_SUCCESS), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_continues_a_remote_trace() {
    let h = harness(ListenerOptions::default()).await;
    let tracer = h.provider.tracer("api");
    let mut request = tracer.start("POST /v1/sessions/{id}/messages");
    let parent = request.span_context().clone();
    request.end();

    let (mut direct, mut carried) = (Script::new(), Script::new());
    let p = direct.turn_started();
    direct.at(0, p);
    let p = direct.reason_started("gpt-4o");
    direct.at(5, p);
    let p = direct.turn_completed(1, usage(1, 1, None, None));
    direct.at(9, p);
    let p = carried.turn_started();
    carried.at(0, p);
    let p = carried.turn_completed(1, usage(1, 1, None, None));
    carried.at(9, p);

    h.listener.set_turn_parent(direct.turn, Context::new().with_remote_span_context(parent.clone()));
    let carrier = inject_w3c(&Context::new().with_remote_span_context(parent.clone()));
    h.listener.set_turn_parent_from_carrier(carried.turn, &carrier);
    let mut events = direct.events();
    events.extend(carried.events());
    let spans = h.export(events).await;

    let api = one(&spans, "POST /v1/sessions/{id}/messages");
    for turn in [direct.turn, carried.turn] {
        let root = one(&spans, &format!("invoke_agent {turn}"));
        assert_child(root, api);
    }
    assert_child(one(&spans, "reason"), one(&spans, &format!("invoke_agent {}", direct.turn)));
    assert_eq!(api.span.trace_id, parent.trace_id().to_bytes().to_vec());
}

/// In the split the API's `turn.started` reaches the bridge before the worker brings the trace
/// context: a parent set after `turn.started`, before the first step, still parents the root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_arriving_after_turn_started_still_parents_the_root() {
    let h = harness(ListenerOptions::default()).await;
    let tracer = h.provider.tracer("api");
    let mut request = tracer.start("POST /v1/sessions/{id}/messages");
    let parent = request.span_context().clone();
    request.end();

    let mut late = Script::new();
    let p = late.turn_started();
    late.at(0, p);
    let mut events = late.events();
    let started = events.remove(0);
    h.listener.emit(started);
    h.listener.flush().await.unwrap_or_else(|e| panic!("{e}"));
    h.listener.set_turn_parent(late.turn, Context::new().with_remote_span_context(parent.clone()));
    let p = late.reason_started("gpt-4o");
    late.at(5, p);
    let p = late.turn_completed(1, usage(1, 1, None, None));
    late.at(9, p);
    let spans = h.export(late.events().into_iter().skip(1).collect()).await;

    let root = one(&spans, &format!("invoke_agent {}", late.turn));
    assert_child(root, one(&spans, "POST /v1/sessions/{id}/messages"));
    assert_child(one(&spans, "reason"), root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_surplus_turns_are_evicted() {
    let options = ListenerOptions {
        idle_timeout: Duration::from_millis(100),
        sweep_interval: Duration::from_millis(20),
        max_turns: 2,
        ..ListenerOptions::default()
    };
    let h = harness(options).await;
    let scripts: Vec<Script> = (0..3)
        .map(|i| {
            let mut s = Script::new();
            let (turn, reason) = (s.turn_started(), s.reason_started("gpt-4o"));
            s.at(i * 1000, turn).at(i * 1000 + 10, reason);
            s
        })
        .collect();
    for script in &scripts {
        for event in script.events() {
            h.listener.emit(event);
        }
    }
    assert_eq!(h.listener.flush().await.ok(), Some(2), "the oldest turn made room");
    // The sweeper ends them once idle for longer than the timeout: wait for that, not for a time.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while h.listener.flush().await.ok() != Some(0) {
        assert!(std::time::Instant::now() < deadline, "idle turns are gone");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    force_flush(&h.provider).await;
    let spans = h.receiver.wait_for(6).await;
    for (i, script) in scripts.iter().enumerate() {
        let root = one(&spans, &format!("invoke_agent {}", script.turn));
        assert_eq!(root.str(key::TURN_STATUS), "evicted");
        assert_eq!(root.status().0, 0, "an evicted turn is not an error");
        assert_eq!(root.end_ms() - BASE_MS, i as i64 * 1000 + 10, "ends at its last event");
    }
    assert_eq!(all(&spans, "reason").len(), 3);
    assert_eq!(h.listener.dropped_events(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tool_results_and_foreign_events_are_absorbed() {
    let h = harness(ListenerOptions::default()).await;
    let mut s = Script::new();
    let turn = s.turn_started();
    s.at(0, turn);
    s.at(5000, tool_completed("call_c", "pick_file", Ok("report.pdf"), 3000));
    let done = s.turn_completed(1, usage(0, 0, None, None));
    s.at(6000, done);
    let mut stray = Script::new();
    stray.turn = TurnId::new();
    let p = stray.reason_started("gpt-4o");
    stray.at(100, p);
    let mut events = s.events();
    events.extend(stray.events());
    let spans = h.export(events).await;
    assert_eq!(spans.len(), 2, "{:?}", common::names(&spans));
    let tool = one(&spans, "execute_tool pick_file");
    assert_child(tool, one(&spans, &format!("invoke_agent {}", s.turn)));
    assert_eq!((tool.start_ms() - BASE_MS, tool.end_ms() - BASE_MS), (2000, 5000));
    assert_eq!(tool.str(key::TOOL_CALL_ID), "call_c");
}
