//! Engine behaviour through the in-process runtime with llmsim: plain reply, built-in tool,
//! client tool wait and resume, cancel mid-stream, provider failure, iteration cap, and crash
//! re-runs that neither duplicate persisted events nor pay for a saved model call twice.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashSet;
use std::time::Duration;

use everruns_core::GENERIC_ERROR_MESSAGE;
use everruns_core::domain::{SessionStatus, ToolDefinition};
use everruns_core::engine::IterationOutcome;
use everruns_core::events::EventPayload;
use everruns_core::ids::OrgId;
use everruns_core::llmsim_driver::{LlmSimConfig, LlmSimFailure};
use everruns_core::turns::{CancelOutcome, ToolResultInput, TurnError};
use everruns_runtime::RuntimeBackends;
use everruns_store_memory::MemoryEventStore;
use futures::StreamExt;
use serde_json::json;
use support::*;

#[tokio::test]
async fn plain_reply_follows_the_contract_order() {
    let calls = CallCounter::default();
    let rt =
        runtime(platform_with(LlmSimConfig::fixed("Hello there, friend."), &calls), RuntimeBackends::in_memory()).await;
    let session = rt.session_id();

    let report = rt.send_message(session, "hi").await.unwrap();

    assert_eq!(report.outcome, IterationOutcome::Completed);
    assert_eq!(report.reply.unwrap().text(), "Hello there, friend.");
    let events = rt.session_events(session).await.unwrap();
    assert_eq!(
        types(&events),
        [
            "input.message",
            "session.activated",
            "turn.started",
            "reason.started",
            "output.message.started",
            "llm.generation",
            "output.message.completed",
            "reason.completed",
            "turn.completed",
            "session.idled"
        ]
    );
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence.unwrap()).collect();
    assert_eq!(sequences, (1..=10).collect::<Vec<_>>(), "gap-free sequence from 1");
    // Deltas went live on the bus, never into the store.
    let deltas: String = rt
        .events()
        .iter()
        .filter_map(|e| match &e.payload {
            EventPayload::OutputMessageDelta(d) => Some(d.delta.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(deltas, "Hello there, friend.");
    assert_eq!(rt.session(session).await.unwrap().status, SessionStatus::Idle);
    assert_eq!(calls.get(), 1);
}

#[tokio::test]
async fn built_in_tool_runs_and_the_model_answers_with_its_result() {
    let calls = CallCounter::default();
    let rt = runtime(platform_with(LlmSimConfig::tool_calling(), &calls), RuntimeBackends::in_memory()).await;
    let session = rt.session_id();

    let report = rt.send_message(session, "what time is it?").await.unwrap();

    assert_eq!(report.outcome, IterationOutcome::Completed);
    let events = rt.session_events(session).await.unwrap();
    let tool = events
        .iter()
        .find_map(|e| match &e.payload {
            EventPayload::ToolCompleted(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(tool.tool_name, "get_current_time");
    assert!(tool.success, "{tool:?}");
    assert_eq!(tool.capability_id.as_deref(), Some("current_time"));
    for t in ["act.started", "tool.started", "act.completed"] {
        assert_eq!(count(&events, t), 1, "{t}");
    }
    let completed = events
        .iter()
        .find_map(|e| match &e.payload {
            EventPayload::TurnCompleted(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(completed.iterations, 2);
    assert!(report.reply.unwrap().text().contains("datetime"), "the answer includes the tool result");
    assert_eq!(calls.get(), 2);
}

#[tokio::test]
async fn client_tool_waits_then_resumes_with_the_result() {
    let calls = CallCounter::default();
    let rt = runtime(platform_with(LlmSimConfig::tool_calling(), &calls), RuntimeBackends::in_memory()).await;
    let mut session = rt.create_session().await.unwrap();
    session.tools = vec![ToolDefinition::client_side(
        "lookup_order",
        "Look up an order",
        json!({"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}),
    )];
    rt.turn_service().stores().sessions.update_session(&session).await.unwrap();

    let report = rt.send_message(session.id, "please lookup_order 42").await.unwrap();

    assert_eq!(report.outcome, IterationOutcome::WaitingForToolResults);
    assert_eq!(rt.session(session.id).await.unwrap().status, SessionStatus::WaitingForToolResults);
    let events = rt.session_events(session.id).await.unwrap();
    let requested = events
        .iter()
        .find_map(|e| match &e.payload {
            EventPayload::ToolCallRequested(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(requested.tool_calls.len(), 1);
    assert_eq!(requested.tool_calls[0].name, "lookup_order");
    assert_eq!(requested.tool_calls[0].arguments["order_id"], "example");

    // An unknown call id is rejected; the right one resumes the turn.
    let bad = rt
        .submit_tool_results(
            session.id,
            vec![ToolResultInput { tool_call_id: "call_nope".into(), result: Some(json!(1)), error: None }],
        )
        .await;
    assert!(bad.is_err());
    let result = ToolResultInput {
        tool_call_id: requested.tool_calls[0].id.clone(),
        result: Some(json!({"status": "shipped"})),
        error: None,
    };
    let resumed = rt.submit_tool_results(session.id, vec![result]).await.unwrap().unwrap();

    assert_eq!(resumed.outcome, IterationOutcome::Completed);
    assert!(resumed.reply.unwrap().text().contains("shipped"));
    assert_eq!(rt.session(session.id).await.unwrap().status, SessionStatus::Idle);
}

/// A result that lost its race with a cancel or a new message, read after the next turn already
/// waits on calls of its own: a conflict, never bad input. A call no turn requested is bad input.
#[tokio::test]
async fn a_result_for_an_earlier_turns_call_is_a_conflict() {
    let calls = CallCounter::default();
    let rt = runtime(platform_with(LlmSimConfig::tool_calling(), &calls), RuntimeBackends::in_memory()).await;
    let mut session = rt.create_session().await.unwrap();
    session.tools = vec![ToolDefinition::client_side("lookup_order", "Look up an order", json!({}))];
    rt.turn_service().stores().sessions.update_session(&session).await.unwrap();
    let requested = |events: &[everruns_core::events::Event]| {
        events
            .iter()
            .filter_map(|e| match &e.payload {
                EventPayload::ToolCallRequested(d) => Some(d.tool_calls[0].id.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let report = rt.send_message(session.id, "please lookup_order 42").await.unwrap();
    assert_eq!(report.outcome, IterationOutcome::WaitingForToolResults);
    assert_eq!(rt.cancel(session.id).await.unwrap(), CancelOutcome::Cancelled);
    let report = rt.send_message(session.id, "lookup_order 43 then").await.unwrap();
    assert_eq!(report.outcome, IterationOutcome::WaitingForToolResults);
    let ids = requested(&rt.session_events(session.id).await.unwrap());
    assert_eq!(ids.len(), 2);

    let late = ToolResultInput { tool_call_id: ids[0].clone(), result: Some(json!(1)), error: None };
    let err = rt.turn_service().submit_tool_results(OrgId::DEFAULT, session.id, vec![late]).await.unwrap_err();
    assert!(matches!(err, TurnError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("not waiting for tool results"), "{err}");
    let unknown = ToolResultInput { tool_call_id: "call_nope".into(), result: Some(json!(1)), error: None };
    let err = rt.turn_service().submit_tool_results(OrgId::DEFAULT, session.id, vec![unknown]).await.unwrap_err();
    assert!(matches!(err, TurnError::Invalid(_)), "{err:?}");
    assert_eq!(rt.session(session.id).await.unwrap().status, SessionStatus::WaitingForToolResults, "untouched");
}

#[tokio::test]
async fn tool_results_when_not_waiting_are_refused() {
    let calls = CallCounter::default();
    let rt = runtime(platform_with(LlmSimConfig::default(), &calls), RuntimeBackends::in_memory()).await;
    let session = rt.session_id();
    let err = rt
        .turn_service()
        .submit_tool_results(
            OrgId::DEFAULT,
            session,
            vec![ToolResultInput { tool_call_id: "call_1".into(), result: None, error: None }],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TurnError::NotWaiting("started")));
    assert!(err.to_string().contains("not waiting for tool results"));
    let empty = rt.turn_service().submit_tool_results(OrgId::DEFAULT, session, vec![]).await.unwrap_err();
    assert!(matches!(empty, TurnError::Invalid(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_mid_stream_stops_without_another_driver_call() {
    let calls = CallCounter::default();
    let slow = LlmSimConfig::lorem(200).with_latency(Duration::from_millis(10), Duration::from_millis(20));
    let rt = std::sync::Arc::new(runtime(platform_with(slow, &calls), RuntimeBackends::in_memory()).await);
    let session = rt.session_id();
    let mut live = rt.turn_service().bus().subscribe(session);

    let running = {
        let rt = rt.clone();
        tokio::spawn(async move { rt.send_message(session, "write a lot").await })
    };
    // Wait for the first streamed delta, then cancel.
    loop {
        let event = tokio::time::timeout(Duration::from_secs(5), live.next()).await.unwrap().unwrap();
        if event.event_type() == "output.message.delta" {
            break;
        }
    }
    assert_eq!(rt.cancel(session).await.unwrap(), CancelOutcome::Cancelled);
    let report = tokio::time::timeout(Duration::from_secs(5), running).await.unwrap().unwrap().unwrap();

    assert_eq!(report.outcome, IterationOutcome::Cancelled);
    assert_eq!(report.reply.unwrap().text(), "Work was cancelled by user.");
    let events = rt.session_events(session).await.unwrap();
    assert_eq!(count(&events, "turn.cancelled"), 1);
    assert_eq!(count(&events, "llm.generation"), 0, "the cancelled call saved no output");
    assert_eq!(types(&events).last(), Some(&"session.idled"));
    assert_eq!(calls.get(), 1, "no further driver call");
    assert_eq!(rt.session(session).await.unwrap().status, SessionStatus::Idle);
    assert_eq!(rt.cancel(session).await.unwrap(), CancelOutcome::NoOp, "idempotent");
}

#[tokio::test]
async fn provider_failure_shows_the_friendly_message_then_fails_the_turn() {
    let calls = CallCounter::default();
    let failing = LlmSimConfig::default().with_failure(LlmSimFailure::ProviderError);
    let rt = runtime(platform_with(failing, &calls), RuntimeBackends::in_memory()).await;
    let session = rt.session_id();

    let report = rt.send_message(session, "hello?").await.unwrap();

    assert_eq!(report.outcome, IterationOutcome::Failed);
    let events = rt.session_events(session).await.unwrap();
    let tail: Vec<_> = types(&events).into_iter().skip(5).collect();
    assert_eq!(
        tail,
        ["reason.completed", "llm.generation", "output.message.completed", "turn.failed", "session.idled"]
    );
    let (message, code) = last_agent_message(&events);
    assert_eq!(code.as_deref(), Some("provider_unavailable"));
    assert!(message.contains("experiencing issues"), "{message}");
    assert_eq!(rt.session(session).await.unwrap().status, SessionStatus::Idle);
    // The session stays usable: a new turn starts (and fails the same way).
    assert_eq!(rt.send_message(session, "again").await.unwrap().outcome, IterationOutcome::Failed);
    // The failure notice is not fed back to the model.
    let history = rt.messages(session).await.unwrap();
    assert_eq!(history.len(), 2, "two user messages, no failure notices");
}

/// The text and error code of the session's last agent message.
fn last_agent_message(events: &[everruns_core::events::Event]) -> (String, Option<String>) {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.payload {
            EventPayload::OutputMessageCompleted(d) => Some((d.message.text(), d.error_code.clone())),
            _ => None,
        })
        .unwrap()
}

/// At the model's context limit the provider refuses the prompt; the turn fails with the contract's
/// "conversation too long" class, the session stays usable, and nothing is retried.
#[tokio::test]
async fn a_conversation_past_the_context_window_fails_as_too_long() {
    let calls = CallCounter::default();
    let rt = runtime(platform_with(LlmSimConfig::echo().with_context_window(60), &calls), RuntimeBackends::in_memory())
        .await;
    let session = rt.session_id();
    let mut completed = 0;
    let report = loop {
        let report = rt.send_message(session, "please repeat these five words").await.unwrap();
        if report.outcome != IterationOutcome::Completed {
            break report;
        }
        completed += 1;
        assert!(completed < 50, "the window never filled");
    };
    assert!(completed >= 2, "a few turns fit before the window is full ({completed})");
    assert_eq!(report.outcome, IterationOutcome::Failed);
    let events = rt.session_events(session).await.unwrap();
    let (message, code) = last_agent_message(&events);
    assert_eq!(code.as_deref(), Some("request_too_large"));
    assert!(message.contains("conversation is too long"), "{message}");
    let failed = events
        .iter()
        .rev()
        .find_map(|e| match &e.payload {
            EventPayload::TurnFailed(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(failed.error_code.as_deref(), Some("request_too_large"));
    assert_eq!(calls.get(), completed + 1, "the refused call is not retried");
    assert_eq!(rt.session(session).await.unwrap().status, SessionStatus::Idle);
    // Still too long: the next message fails the same way, at once.
    assert_eq!(rt.send_message(session, "and now?").await.unwrap().outcome, IterationOutcome::Failed);
}

#[tokio::test]
async fn generic_disclosure_uses_the_seed_wording() {
    let calls = CallCounter::default();
    let failing = LlmSimConfig::default().with_failure(LlmSimFailure::RateLimited);
    let rt = runtime(platform_with(failing, &calls), RuntimeBackends::in_memory()).await;
    let session = rt.session_id();
    let mut message = everruns_core::domain::Message::user_text("hi");
    message.controls =
        Some(everruns_core::domain::Controls { error_disclosure: Some("generic".into()), ..Default::default() });
    let report = rt.send(session, message).await.unwrap();
    assert_eq!(report.reply.unwrap().text(), GENERIC_ERROR_MESSAGE);
}

#[tokio::test]
async fn a_request_cannot_raise_the_disclosure() {
    let calls = CallCounter::default();
    let failing = LlmSimConfig::default().with_failure(LlmSimFailure::ProviderError);
    let rt = runtime(platform_with(failing, &calls), RuntimeBackends::in_memory()).await;
    let session = rt.session_id();
    let mut message = everruns_core::domain::Message::user_text("hi");
    message.controls =
        Some(everruns_core::domain::Controls { error_disclosure: Some("detailed".into()), ..Default::default() });
    rt.send(session, message).await.unwrap();
    let events = rt.session_events(session).await.unwrap();
    let failed = events
        .iter()
        .find_map(|e| match &e.payload {
            EventPayload::TurnFailed(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(failed.error_disclosure.as_deref(), Some("standard"), "capped at the deployment's ceiling");
    assert!(failed.error_fields.as_ref().is_none_or(|f| !f.contains_key("detail")), "{:?}", failed.error_fields);
}

#[tokio::test]
async fn iteration_cap_ends_the_turn() {
    let calls = CallCounter::default();
    let rt = runtime(platform_always_tool("get_current_time", &calls), RuntimeBackends::in_memory()).await;
    let mut session = rt.create_session().await.unwrap();
    session.max_iterations = Some(3);
    rt.turn_service().stores().sessions.update_session(&session).await.unwrap();

    let report = rt.send_message(session.id, "loop forever").await.unwrap();

    assert_eq!(report.outcome, IterationOutcome::Completed);
    let events = rt.session_events(session.id).await.unwrap();
    let completed = events
        .iter()
        .find_map(|e| match &e.payload {
            EventPayload::TurnCompleted(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(completed.iterations, 3);
    assert_eq!(completed.status.as_deref(), Some("max_iterations"));
    assert_eq!(calls.get(), 3);
    assert_eq!(count(&events, "tool.completed"), 3);
}

/// Runs a turn whose store "crashes" before `crash_before`, then re-runs the same task.
async fn crash_and_rerun(crash_before: &str) -> (Vec<everruns_core::events::Event>, usize) {
    let calls = CallCounter::default();
    let store = CrashingEventStore::new(MemoryEventStore::new());
    let backends = RuntimeBackends::in_memory().with_message_store(store.clone());
    let rt = runtime(platform_with(LlmSimConfig::tool_calling(), &calls), backends).await;
    let session = rt.session_id();
    let turns = rt.turn_service();

    let (_, task) =
        turns.start_turn(OrgId::DEFAULT, session, everruns_core::domain::Message::user_text("time?")).await.unwrap();
    store.crash_next(crash_before);
    assert!(turns.run_until_rest(task.clone()).await.is_err(), "the crash surfaces as an error");
    // The task is redelivered: run the same iteration again, then on to the end.
    let outcome = turns.run_until_rest(task).await.unwrap();
    assert_eq!(outcome, IterationOutcome::Completed);
    (rt.session_events(session).await.unwrap(), calls.get())
}

fn assert_no_duplicates(events: &[everruns_core::events::Event]) {
    let keys: Vec<_> = events.iter().map(|e| e.idempotency_key.clone().unwrap()).collect();
    let unique: HashSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "no duplicate persisted event: {:?}", types(events));
    let sequences: Vec<i64> = events.iter().map(|e| e.sequence.unwrap()).collect();
    assert_eq!(sequences, (1..=events.len() as i64).collect::<Vec<_>>());
}

#[tokio::test]
async fn crash_after_the_output_is_saved_reruns_without_a_second_model_call() {
    let (events, calls) = crash_and_rerun("reason.completed").await;
    assert_no_duplicates(&events);
    assert_eq!(count(&events, "output.message.completed"), 2, "one per iteration");
    assert_eq!(count(&events, "tool.completed"), 1);
    assert_eq!(calls, 2, "iteration 1 called the model once, iteration 2 once");
}

#[tokio::test]
async fn crash_during_the_tools_reruns_only_what_is_missing() {
    let (events, calls) = crash_and_rerun("tool.completed").await;
    assert_no_duplicates(&events);
    assert_eq!(count(&events, "tool.started"), 1);
    assert_eq!(count(&events, "tool.completed"), 1);
    assert_eq!(calls, 2);
}

#[tokio::test]
async fn crash_before_the_output_is_saved_calls_the_model_again_but_stores_nothing_twice() {
    let (events, calls) = crash_and_rerun("llm.generation").await;
    assert_no_duplicates(&events);
    assert_eq!(count(&events, "reason.started"), 2, "one per iteration");
    assert_eq!(calls, 3, "the unsaved call is repeated once");
}
