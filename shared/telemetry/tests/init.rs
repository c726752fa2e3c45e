//! Process set-up: `init` installs the subscriber and the exporter; the guard flushes and shuts
//! down. One process, one global subscriber: everything that installs it is in one test.

mod common;

use common::events::*;
use common::{Attr, Receiver, one};
use everruns_core::ports::EventEmitter;
use everruns_telemetry::attributes as key;
use everruns_telemetry::{
    CAPTURE_CONTENT_VAR, ENDPOINT_VAR, ENVIRONMENT_VAR, SERVICE_NAME_VAR, TelemetryConfig, TelemetryError,
    TelemetryGuard, build_tracer_provider, init,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_exports_tracing_and_gen_ai_spans_then_shuts_down() {
    let receiver = Receiver::start().await;
    let endpoint = receiver.endpoint();
    let lookup = |name: &str| match name {
        ENDPOINT_VAR => Some(endpoint.clone()),
        SERVICE_NAME_VAR => Some("everruns-worker-test".to_owned()),
        ENVIRONMENT_VAR => Some("ci".to_owned()),
        CAPTURE_CONTENT_VAR => Some("true".to_owned()),
        _ => None,
    };
    let config = TelemetryConfig::from_lookup(lookup, "everruns-worker").unwrap_or_else(|e| panic!("{e}"));
    let guard = init(&config).unwrap_or_else(|e| panic!("{e}"));
    assert!(guard.is_exporting());
    assert!(
        matches!(init(&TelemetryConfig::new("again")), Err(TelemetryError::Subscriber(_))),
        "a second subscriber is refused"
    );

    tracing::error_span!("handle_task", task = "task_1").in_scope(|| tracing::error!("visible at any log level"));
    let listener = guard.event_listener().ok().flatten().unwrap_or_else(|| panic!("no listener"));
    let mut s = Script::new();
    let (turn, reason, weather) = (s.turn_started(), s.reason_started("gpt-4o"), call("call_1", "get_weather"));
    s.at(0, turn)
        .at(10, reason)
        .at(20, tool_started(weather))
        .at(30, tool_completed("call_1", "get_weather", Ok("sunny"), 10));
    let done = s.turn_completed(1, usage(1, 1, None, None));
    s.at(40, done);
    for event in s.events() {
        listener.emit(event);
    }
    assert_eq!(listener.flush().await.ok(), Some(0));

    let guard = tokio::task::spawn_blocking(move || guard.force_flush().map(|()| guard))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("{e}"));
    let spans = receiver.spans();
    let task = one(&spans, "handle_task");
    assert_eq!(task.str("task"), "task_1");
    let resource = common::attrs(&task.resource);
    assert_eq!(resource.get("service.name"), Some(&Attr::Str("everruns-worker-test".into())));
    assert_eq!(resource.get("deployment.environment"), Some(&Attr::Str("ci".into())));
    let tool = one(&spans, "execute_tool get_weather");
    assert_eq!(tool.str(key::TOOL_CALL_RESULT), "sunny", "content capture follows the config");

    let shut = tokio::task::spawn_blocking(move || guard.shutdown()).await;
    assert!(matches!(shut, Ok(Ok(()))), "{shut:?}");
}

#[test]
fn without_an_endpoint_there_is_no_exporter() {
    assert!(matches!(build_tracer_provider(&TelemetryConfig::new("everruns-server")), Ok(None)));
    let guard = TelemetryGuard::from_provider(None, false);
    assert!(!guard.is_exporting());
    assert!(guard.tracer().is_none());
    assert!(matches!(guard.event_listener(), Ok(None)));
    assert!(guard.force_flush().is_ok());
    assert!(guard.shutdown().is_ok());
}

#[test]
fn the_exporter_needs_a_tokio_runtime() {
    let config = TelemetryConfig::new("everruns-server").with_endpoint("http://127.0.0.1:4317");
    let result = config.map(|c| build_tracer_provider(&c));
    assert!(matches!(result, Ok(Err(TelemetryError::NoRuntime(_)))), "{result:?}");
}
