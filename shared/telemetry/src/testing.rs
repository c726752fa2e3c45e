//! Test support for OTLP export (feature `testing`): a local OTLP/gRPC trace receiver (the
//! collector's `TraceService` on 127.0.0.1:0) and readers for the spans it received. Used by this
//! crate's tests and by the server and split tests that check exported traces.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;

#[derive(Default, Clone)]
struct Collector {
    requests: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.requests.lock().map_err(|_| tonic::Status::internal("poisoned"))?.push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    /// Where it listens (loopback).
    pub addr: SocketAddr,
    collector: Collector,
    _stop: oneshot::Sender<()>,
}

/// A received span with the resource attributes of its batch.
#[derive(Debug, Clone)]
pub struct Received {
    pub span: Span,
    pub resource: Vec<KeyValue>,
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 with an OS-chosen port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
        let collector = Collector::default();
        let (stop, stopped) = oneshot::channel::<()>();
        let service = TraceServiceServer::new(collector.clone());
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { addr, collector, _stop: stop }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far, removed from the receiver (what arrives next is new).
    pub fn take(&self) -> Vec<Span> {
        let requests = std::mem::take(&mut *self.collector.requests.lock().unwrap_or_else(|p| p.into_inner()));
        requests.into_iter().flat_map(|r| r.resource_spans).flat_map(|r| r.scope_spans).flat_map(|s| s.spans).collect()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        let requests = self.collector.requests.lock().map(|r| r.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for request in requests {
            for rs in request.resource_spans {
                let resource = rs.resource.map(|r| r.attributes).unwrap_or_default();
                for ss in rs.scope_spans {
                    out.extend(ss.spans.into_iter().map(|span| Received { span, resource: resource.clone() }));
                }
            }
        }
        out
    }

    /// Waits (up to 10 s) until at least `count` spans arrived.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..200 {
            let spans = self.spans();
            if spans.len() >= count {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} spans, got {}: {:?}", self.spans().len(), names(&self.spans()));
    }
}

/// The span names.
pub fn names(spans: &[Received]) -> Vec<String> {
    spans.iter().map(|s| s.span.name.clone()).collect()
}

/// A simplified attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Str(String),
    Int(i64),
    Bool(bool),
    Strs(Vec<String>),
    Other,
}

fn simplify(value: Option<&AnyValue>) -> Attr {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Attr::Str(s.clone()),
        Some(any_value::Value::IntValue(i)) => Attr::Int(*i),
        Some(any_value::Value::BoolValue(b)) => Attr::Bool(*b),
        Some(any_value::Value::ArrayValue(a)) => Attr::Strs(
            a.values
                .iter()
                .filter_map(|v| match &v.value {
                    Some(any_value::Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
        ),
        _ => Attr::Other,
    }
}

/// Attributes by key.
pub fn attrs(list: &[KeyValue]) -> HashMap<String, Attr> {
    list.iter().map(|kv| (kv.key.clone(), simplify(kv.value.as_ref()))).collect()
}

impl Received {
    /// The span's attributes.
    pub fn attrs(&self) -> HashMap<String, Attr> {
        attrs(&self.span.attributes)
    }

    /// One attribute.
    pub fn attr(&self, key: &str) -> Option<Attr> {
        self.attrs().get(key).cloned()
    }

    /// A string attribute (panics when missing or not a string).
    pub fn str(&self, key: &str) -> String {
        match self.attr(key) {
            Some(Attr::Str(s)) => s,
            other => panic!("{}: {key} is {other:?}", self.span.name),
        }
    }

    /// An integer attribute (panics when missing or not an integer).
    pub fn int(&self, key: &str) -> i64 {
        match self.attr(key) {
            Some(Attr::Int(i)) => i,
            other => panic!("{}: {key} is {other:?}", self.span.name),
        }
    }

    /// Start in milliseconds since the epoch.
    pub fn start_ms(&self) -> i64 {
        (self.span.start_time_unix_nano / 1_000_000) as i64
    }

    /// End in milliseconds since the epoch.
    pub fn end_ms(&self) -> i64 {
        (self.span.end_time_unix_nano / 1_000_000) as i64
    }

    /// Status code (0 unset, 1 ok, 2 error) and message.
    pub fn status(&self) -> (i32, String) {
        self.span.status.as_ref().map(|s| (s.code, s.message.clone())).unwrap_or((0, String::new()))
    }
}
