//! The logger against a fake Braintrust API on loopback: project lookup, the mapped rows,
//! batching, shutdown, and staying harmless when Braintrust is down or failing.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use everruns_braintrust::{
    API_KEY_VAR, API_URL_VAR, BraintrustConfig, BraintrustLogger, FlushOutcome, LoggerOptions, PROJECT_ID_VAR,
};
use everruns_core::ports::EventEmitter;
use serde_json::{Value, json};

use common::fake::{FakeBraintrust, PROJECT_ID};
use common::{Logs, Turn, eventually, fast_options};

const KEY: &str = "sk-test-key";

fn config(vars: &[(&str, &str)]) -> BraintrustConfig {
    let map: HashMap<&str, &str> = vars.iter().copied().collect();
    BraintrustConfig::from_lookup(|name| map.get(name).map(|v| (*v).to_owned()))
        .expect("valid config")
        .expect("enabled")
}

fn ids(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| r["id"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn looks_the_project_up_by_name_once_and_inserts_mapped_generations() {
    let fake = FakeBraintrust::start(KEY).await;
    let logger = BraintrustLogger::spawn(config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &fake.url)]), fast_options())
        .expect("spawn");
    let turn = Turn::new();
    let (first, failed, later) = (turn.generation(1), turn.failed_generation(), turn.generation(2));
    for event in turn.other_events() {
        logger.emit(event);
    }
    logger.emit(first.clone());
    logger.emit(failed.clone());
    for event in turn.other_events() {
        logger.emit(event);
    }
    assert_eq!(logger.flush().await, FlushOutcome::Done);
    logger.emit(later.clone());
    assert_eq!(logger.flush().await, FlushOutcome::Done);

    assert_eq!(fake.project_lookups(), vec![json!({ "name": "My Project" })], "one lookup, by the default name");
    assert_eq!(fake.unauthorized(), 0);
    let inserts = fake.inserts();
    assert!(inserts.iter().all(|r| r.project_id.as_deref() == Some(PROJECT_ID)), "{inserts:?}");
    let rows = fake.stored_rows();
    assert_eq!(ids(&rows), vec![first.id.to_string(), failed.id.to_string(), later.id.to_string()]);

    let row = &rows[0];
    assert_eq!(row["created"], first.ts.to_string());
    assert_eq!(
        row["input"],
        json!([
            { "role": "system", "content": "You are a helpful agent." },
            { "role": "user", "content": "Question 1: what's the weather in Paris?" },
        ])
    );
    assert_eq!(
        row["output"],
        json!({ "role": "assistant", "content": "Let me check.", "tool_calls": [
            { "id": "call_1", "type": "function", "function": { "name": "get_weather", "arguments": "{\"city\":\"Paris\"}" } }
        ] })
    );
    assert_eq!(
        row["metadata"],
        json!({
            "model": "gpt-4o",
            "provider": "openai",
            "success": true,
            "finish_reasons": ["tool_calls"],
            "response_id": "resp_1",
            "session_id": turn.session_id.to_string(),
            "turn_id": turn.turn_id.to_string(),
            "input_message_id": turn.input_message_id.to_string(),
        })
    );
    let end = first.ts.millis() as f64 / 1000.0;
    let metrics = &row["metrics"];
    assert_eq!(
        (&metrics["prompt_tokens"], &metrics["completion_tokens"], &metrics["tokens"]),
        (&json!(120), &json!(30), &json!(150))
    );
    assert_eq!(metrics["end"].as_f64(), Some(end));
    assert!((metrics["start"].as_f64().unwrap_or_default() - (end - 1.5)).abs() < 1e-6, "{metrics}");
    assert_eq!(metrics["time_to_first_token"], json!(0.25));
    assert_eq!(row["span_attributes"], json!({ "name": "chat gpt-4o", "type": "llm" }));
    assert!(row.get("error").is_none());

    let failed_row = &rows[1];
    assert_eq!(failed_row["error"], "rate limited");
    assert_eq!(failed_row["metadata"]["success"], false);
    assert_eq!(failed_row["metadata"]["provider"], "anthropic");

    let stats = logger.stats();
    assert_eq!((stats.queued, stats.sent, stats.dropped, stats.failed), (3, 3, 0, 0), "{stats:?}");
}

#[tokio::test]
async fn a_configured_project_id_skips_the_lookup() {
    let fake = FakeBraintrust::start(KEY).await;
    let config = config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &fake.url), (PROJECT_ID_VAR, PROJECT_ID)]);
    let logger = BraintrustLogger::spawn(config, fast_options()).expect("spawn");
    let turn = Turn::new();
    let events = [turn.generation(1), turn.generation(2)];
    for event in &events {
        logger.emit(event.clone());
    }
    assert_eq!(logger.flush().await, FlushOutcome::Done);
    assert!(fake.project_lookups().is_empty(), "no lookup with a configured id");
    assert!(fake.requests().iter().all(|r| r.kind == "insert" && r.project_id.as_deref() == Some(PROJECT_ID)));
    assert_eq!(ids(&fake.stored_rows()), events.iter().map(|e| e.id.to_string()).collect::<Vec<_>>());
}

#[tokio::test]
async fn batches_120_generations_into_a_few_inserts() {
    let fake = FakeBraintrust::start(KEY).await;
    let logger = BraintrustLogger::spawn(config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &fake.url)]), fast_options())
        .expect("spawn");
    let turn = Turn::new();
    let events: Vec<_> = (0..120).map(|n| turn.generation(n)).collect();
    for event in &events {
        logger.emit(event.clone());
    }
    assert_eq!(logger.flush().await, FlushOutcome::Done);

    let inserts = fake.inserts();
    let sizes: Vec<usize> = inserts.iter().map(|r| r.body["events"].as_array().map_or(0, Vec::len)).collect();
    assert!((3..=6).contains(&inserts.len()), "a few inserts: {sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 50), "at most 50 rows per insert: {sizes:?}");
    let sent = ids(&fake.stored_rows());
    assert_eq!(sent.len(), 120, "every row once");
    let unique: HashSet<&String> = sent.iter().collect();
    assert_eq!(unique.len(), 120, "no duplicates");
    let expected: HashSet<String> = events.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(sent.iter().cloned().collect::<HashSet<_>>(), expected);
    assert_eq!(logger.stats().sent, 120);
}

#[tokio::test]
async fn a_partial_batch_goes_after_the_interval_and_dropping_the_logger_sends_the_rest() {
    let fake = FakeBraintrust::start(KEY).await;
    let options = LoggerOptions { flush_interval: Duration::from_millis(100), ..fast_options() };
    let logger =
        BraintrustLogger::spawn(config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &fake.url)]), options).expect("spawn");
    let turn = Turn::new();
    logger.emit(turn.generation(1));
    logger.emit(turn.generation(2));
    assert!(eventually(Duration::from_secs(3), || fake.stored_rows().len() == 2).await, "sent without a flush");

    logger.emit(turn.generation(3));
    drop(logger);
    assert!(eventually(Duration::from_secs(3), || fake.stored_rows().len() == 3).await, "sent on drop");
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    let logs = Logs::default();
    let _guard = logs.install();
    let fake = FakeBraintrust::start(KEY).await;
    let options = LoggerOptions { channel_capacity: 10, ..fast_options() };
    let logger =
        BraintrustLogger::spawn(config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &fake.url)]), options).expect("spawn");
    let turn = Turn::new();
    // The background task cannot run between these emits (current-thread runtime).
    for n in 0..100 {
        logger.emit(turn.generation(n));
    }
    let stats = logger.stats();
    assert_eq!((stats.queued, stats.dropped), (10, 90), "{stats:?}");
    assert_eq!(logger.flush().await, FlushOutcome::Done);
    assert_eq!(fake.stored_rows().len(), 10);
    assert!(logs.text().contains("dropped before logging"), "{}", logs.text());
}

#[tokio::test]
async fn an_unreachable_api_never_blocks_a_turn() {
    let logs = Logs::default();
    let _guard = logs.install();
    let closed = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        format!("http://{}", listener.local_addr().expect("address"))
    };
    let logger =
        BraintrustLogger::spawn(config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &closed)]), fast_options()).expect("spawn");
    let turn = Turn::new();
    let events: Vec<_> = (0..1_000).map(|n| turn.generation(n)).collect();

    let started = Instant::now();
    for event in &events {
        logger.emit(event.clone());
    }
    let emitting = started.elapsed();
    assert!(emitting < Duration::from_millis(50), "1,000 emits took {emitting:?}");

    let started = Instant::now();
    let outcome = logger.flush_within(Duration::from_secs(3)).await;
    let flushing = started.elapsed();
    assert!(flushing < Duration::from_millis(3_500), "flush took {flushing:?}");
    assert_eq!(outcome, FlushOutcome::Held(1_000), "held until the project is known");
    assert!(logs.text().contains("project lookup failed"), "{}", logs.text());
    let stats = logger.stats();
    assert_eq!((stats.queued, stats.sent, stats.dropped), (1_000, 0, 0), "{stats:?}");
    println!("unreachable: 1,000 emits in {emitting:?}, flush in {flushing:?}");
}

#[tokio::test]
async fn a_failing_api_drops_batches_with_throttled_warnings_then_recovers() {
    let logs = Logs::default();
    let _guard = logs.install();
    let fake = FakeBraintrust::start(KEY).await;
    fake.fail_inserts(Some(StatusCode::INTERNAL_SERVER_ERROR));
    let logger = BraintrustLogger::spawn(config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &fake.url)]), fast_options())
        .expect("spawn");
    let turn = Turn::new();
    let events: Vec<_> = (0..1_000).map(|n| turn.generation(n)).collect();

    let started = Instant::now();
    for event in &events {
        logger.emit(event.clone());
    }
    let emitting = started.elapsed();
    assert!(emitting < Duration::from_millis(50), "1,000 emits took {emitting:?}");

    let started = Instant::now();
    let outcome = logger.flush_within(Duration::from_secs(3)).await;
    let flushing = started.elapsed();
    assert!(flushing < Duration::from_millis(3_500), "flush took {flushing:?}");
    let FlushOutcome::Held(held) = outcome else { panic!("{outcome:?}") };

    // Each batch is tried twice (one retry) and then dropped.
    let stats = logger.stats();
    let tries: Vec<Vec<String>> =
        fake.inserts().iter().map(|r| ids(r.body["events"].as_array().map_or(&[][..], Vec::as_slice))).collect();
    let attempts = tries.len();
    assert!(attempts >= 4 && attempts.is_multiple_of(2), "{attempts} attempts");
    assert!(tries.chunks(2).all(|pair| pair[0] == pair[1]), "each retry re-sends the same rows");
    let dropped: usize = tries.chunks(2).map(|pair| pair[0].len()).sum();
    assert_eq!(stats.failed, dropped as u64, "{stats:?}");
    assert_eq!(held as u64 + stats.failed, 1_000);
    let warnings = logs.text();
    assert_eq!(warnings.matches("inserting LLM generations failed").count(), 1, "throttled: {warnings}");
    assert!(warnings.contains("HTTP 500"), "{warnings}");

    fake.fail_inserts(None);
    assert_eq!(logger.flush().await, FlushOutcome::Done, "held rows go once Braintrust recovers");
    assert_eq!(fake.stored_rows().len(), held);
    assert_eq!(logger.stats().sent, held as u64);
    println!("failing: 1,000 emits in {emitting:?}, flush in {flushing:?}, {attempts} insert attempts");
}

#[tokio::test]
async fn a_wrong_key_is_only_warned_about() {
    let logs = Logs::default();
    let _guard = logs.install();
    let fake = FakeBraintrust::start(KEY).await;
    let logger =
        BraintrustLogger::spawn(config(&[(API_KEY_VAR, "sk-wrong"), (API_URL_VAR, &fake.url)]), fast_options())
            .expect("spawn");
    let turn = Turn::new();
    logger.emit(turn.generation(1));
    assert_eq!(logger.flush().await, FlushOutcome::Held(1));
    assert!(fake.unauthorized() >= 1);
    assert!(fake.stored_rows().is_empty());
    let warnings = logs.text();
    assert!(warnings.contains("HTTP 401"), "{warnings}");
    assert!(!warnings.contains("sk-wrong"), "the key is never logged: {warnings}");
}

#[tokio::test]
async fn a_lookup_failure_is_retried_with_back_off() {
    let fake = FakeBraintrust::start(KEY).await;
    fake.fail_projects(Some(StatusCode::SERVICE_UNAVAILABLE));
    let logger = BraintrustLogger::spawn(config(&[(API_KEY_VAR, KEY), (API_URL_VAR, &fake.url)]), fast_options())
        .expect("spawn");
    let turn = Turn::new();
    logger.emit(turn.generation(1));
    assert!(eventually(Duration::from_secs(3), || fake.requests().len() >= 3).await, "retried");
    fake.fail_projects(None);
    assert!(eventually(Duration::from_secs(3), || fake.stored_rows().len() == 1).await, "held row sent");
    let lookups = fake.project_lookups().len();
    // The rows that follow go out on the resolved project, without looking it up again.
    logger.emit(turn.generation(2));
    assert!(eventually(Duration::from_secs(3), || fake.stored_rows().len() == 2).await, "the next row sent");
    assert_eq!(fake.project_lookups().len(), lookups, "no lookups once resolved");
}

#[test]
fn spawning_outside_a_runtime_is_an_error() {
    let result = BraintrustLogger::spawn(BraintrustConfig::new(KEY), LoggerOptions::default());
    assert!(matches!(result, Err(everruns_braintrust::BraintrustError::NoRuntime(_))), "{result:?}");
}
