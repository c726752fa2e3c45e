//! Carrying a trace across processes (API → queue → worker → bridge) as W3C Trace Context
//! (`traceparent` / `tracestate`) in a string map, e.g. message attributes or HTTP headers, or as
//! an AWS X-Ray header (`X-Amzn-Trace-Id`, what API Gateway, Lambda and SQS's `AWSTraceHeader`
//! carry). Uses the propagators directly, so it works whether or not a global one is installed.

use std::collections::HashMap;

use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;

/// The header that carries the trace and parent span ids.
pub const TRACEPARENT: &str = "traceparent";
/// The header that carries vendor trace state.
pub const TRACESTATE: &str = "tracestate";

/// The context to continue from a carrier (keys matched case-insensitively); `None` without a
/// valid `traceparent`.
pub fn extract_w3c(carrier: &HashMap<String, String>) -> Option<Context> {
    let lowered: HashMap<String, String> = carrier.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
    let cx = TraceContextPropagator::new().extract(&lowered);
    cx.span().span_context().is_valid().then_some(cx)
}

/// The X-Ray header.
pub const XRAY: &str = "x-amzn-trace-id";

/// The context to continue from a carrier: W3C Trace Context first, else the X-Ray header.
pub fn extract(carrier: &HashMap<String, String>) -> Option<Context> {
    extract_w3c(carrier).or_else(|| {
        let header = carrier.iter().find(|(k, _)| k.eq_ignore_ascii_case(XRAY)).map(|(_, v)| v.as_str())?;
        let span = opentelemetry_aws::trace::xray_propagator::span_context_from_str(header)?;
        span.is_valid().then(|| Context::new().with_remote_span_context(span))
    })
}

/// The carrier for `cx`'s active span; empty when it has none.
pub fn inject_w3c(cx: &Context) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    carrier
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    use super::*;

    #[test]
    fn an_xray_header_is_continued_when_there_is_no_traceparent() {
        let carrier = HashMap::from([(
            "X-Amzn-Trace-Id".to_owned(),
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".to_owned(),
        )]);
        let cx = extract(&carrier).unwrap_or_else(|| panic!("an X-Ray parent"));
        let span = cx.span().span_context().clone();
        assert_eq!(span.trace_id(), TraceId::from(0x5759e988bd862e3fe1be46a994272793_u128));
        assert_eq!(span.span_id(), SpanId::from(0x53995c3f42cd8ad8_u64));
        assert!(span.is_remote() && span.is_sampled());
        assert!(extract(&HashMap::from([(XRAY.to_owned(), "Root=garbage".to_owned())])).is_none());
    }

    #[test]
    fn round_trips_a_remote_parent() {
        let sc = SpanContext::new(
            TraceId::from(0x0af7651916cd43dd8448eb211c80319c_u128),
            SpanId::from(0xb7ad6b7169203331_u64),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let carrier = inject_w3c(&Context::new().with_remote_span_context(sc.clone()));
        assert_eq!(
            carrier.get(TRACEPARENT).map(String::as_str),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
        let mut shouting = HashMap::new();
        shouting.insert("TraceParent".to_owned(), carrier[TRACEPARENT].clone());
        let back = extract_w3c(&shouting).unwrap_or_default();
        assert_eq!(back.span().span_context().trace_id(), sc.trace_id());
        assert_eq!(back.span().span_context().span_id(), sc.span_id());
        assert!(back.span().span_context().is_remote());
        assert!(extract_w3c(&HashMap::new()).is_none());
        assert!(inject_w3c(&Context::new()).is_empty());
    }
}
