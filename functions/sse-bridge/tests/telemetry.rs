//! OpenTelemetry through the real server: a DEV_MODE server observed by the Gen-AI span builder,
//! exporting over OTLP/gRPC to a local receiver (the collector's `TraceService`). A tool-using
//! turn gives the seed's tree; content is absent unless capture is on; a failed turn marks
//! `invoke_agent` ERROR.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use everruns_server::{ServerAppBuilder, ServerConfig};
use everruns_telemetry::opentelemetry::trace::TracerProvider as _;
use everruns_telemetry::opentelemetry_sdk::trace::SdkTracerProvider;
use everruns_telemetry::testing::Receiver;
use everruns_telemetry::{ListenerOptions, OtelEventListener, TRACER_NAME, TelemetryConfig, build_tracer_provider};
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use support::Api;
use tokio::net::TcpListener;

struct Traced {
    api: Api,
    spans: Receiver,
    provider: SdkTracerProvider,
    listener: OtelEventListener,
}

async fn start(capture_content: bool) -> Traced {
    let spans = Receiver::start().await;
    let config = TelemetryConfig::new("everruns-server").with_endpoint(spans.endpoint()).unwrap();
    let provider = build_tracer_provider(&config).unwrap().unwrap();
    let options = ListenerOptions { capture_content, ..ListenerOptions::default() };
    let listener = OtelEventListener::spawn(provider.tracer(TRACER_NAME), options).unwrap();

    let mut server = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    server.rate_limit_per_minute = 0;
    let app = ServerAppBuilder::new(server).observe(Arc::new(listener.clone())).build().await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api::new(&format!("http://{}/api", http.local_addr().unwrap()));
    tokio::spawn(app.serve(http, std::future::pending()));
    Traced { api, spans, provider, listener }
}

impl Traced {
    /// Runs one turn on `model` and returns the spans exported for it.
    async fn turn(&self, model: &str, text: &str) -> Vec<Span> {
        let session = self.api.session(model).await;
        self.api.say(&session, text).await;
        self.api.wait_for(&session, "session.idled", Duration::from_secs(15)).await;
        self.listener.flush().await.unwrap();
        let provider = self.provider.clone();
        tokio::task::spawn_blocking(move || provider.force_flush()).await.unwrap().unwrap();
        self.spans.take()
    }
}

fn named<'a>(spans: &'a [Span], prefix: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name.starts_with(prefix)).collect()
}

fn attrs(span: &Span) -> HashMap<String, Any> {
    span.attributes.iter().filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?.value?))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_using_turn_gives_the_gen_ai_tree() {
    let traced = start(false).await;
    let spans = traced.turn("llmsim-tools", "What time is it? Please use get_current_time.").await;

    let root = named(&spans, "invoke_agent ");
    assert_eq!(root.len(), 1, "{:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>());
    let root = root[0];
    assert!(root.parent_span_id.is_empty(), "invoke_agent is the root");
    let root_attrs = attrs(root);
    assert!(matches!(root_attrs.get("turn.iterations"), Some(Any::IntValue(n)) if *n >= 2), "{root_attrs:?}");
    assert!(root_attrs.contains_key("duration_ms"));
    assert!(spans.iter().all(|s| s.trace_id == root.trace_id), "one trace per turn");

    let reasons = named(&spans, "reason");
    assert!(reasons.len() >= 2 && reasons.iter().all(|r| r.parent_span_id == root.span_id));
    let chats = named(&spans, "chat ");
    assert!(chats.len() >= 2, "one chat per reason");
    for chat in &chats {
        assert!(reasons.iter().any(|r| r.span_id == chat.parent_span_id), "chat under a reason");
        let a = attrs(chat);
        for key in ["gen_ai.request.model", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"] {
            assert!(a.contains_key(key), "{} lacks {key}: {a:?}", chat.name);
        }
        assert!(!a.contains_key("gen_ai.input.messages"), "no content unless enabled");
    }
    let act = named(&spans, "act");
    assert_eq!(act.len(), 1);
    assert_eq!(act[0].parent_span_id, root.span_id);
    let tool = named(&spans, "execute_tool ");
    assert_eq!(tool.len(), 1);
    assert_eq!(tool[0].name, "execute_tool get_current_time");
    assert_eq!(tool[0].parent_span_id, act[0].span_id);
    let a = attrs(tool[0]);
    assert_eq!(a.get("tool.success"), Some(&Any::BoolValue(true)));
    assert!(!a.contains_key("gen_ai.tool.call.arguments"), "no content unless enabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_is_captured_only_when_enabled_and_a_failed_turn_is_an_error() {
    let traced = start(true).await;
    let spans = traced.turn("llmsim-echo", "echo this back").await;
    let chat = named(&spans, "chat ")[0];
    let a = attrs(chat);
    let input = match a.get("gen_ai.input.messages") {
        Some(Any::StringValue(text)) => text.clone(),
        other => panic!("input messages captured: {other:?}"),
    };
    assert!(input.contains("echo this back"), "{input}");
    assert!(a.contains_key("gen_ai.output.messages"));

    let spans = traced.turn("llmsim-fail", "this will fail").await;
    let root = named(&spans, "invoke_agent ")[0];
    let status = root.status.clone().unwrap_or_default();
    assert_eq!(status.code, StatusCode::Error as i32, "{root:?}");
    assert!(attrs(root).contains_key("error.type"));
}
