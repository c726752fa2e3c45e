//! Test support: the OTLP/gRPC receiver of `everruns_telemetry::testing`, event scripts, and
//! tree assertions over the spans it received.

#![allow(dead_code)]

pub mod events;
pub mod harness;

#[allow(unused_imports)] // Each test binary uses its own subset.
pub use everruns_telemetry::testing::{Attr, Received, Receiver, attrs, names};

/// The one span with this name (panics when absent or ambiguous).
pub fn one<'a>(spans: &'a [Received], name: &str) -> &'a Received {
    let found: Vec<&Received> = spans.iter().filter(|s| s.span.name == name).collect();
    assert_eq!(found.len(), 1, "spans named {name:?} in {:?}", names(spans));
    found[0]
}

/// Every span with this name, by start time.
pub fn all<'a>(spans: &'a [Received], name: &str) -> Vec<&'a Received> {
    let mut found: Vec<&Received> = spans.iter().filter(|s| s.span.name == name).collect();
    found.sort_by_key(|s| s.span.start_time_unix_nano);
    found
}

/// Asserts `child` is a direct child of `parent` in the same trace.
pub fn assert_child(child: &Received, parent: &Received) {
    assert_eq!(
        child.span.trace_id, parent.span.trace_id,
        "{} not in the trace of {}",
        child.span.name, parent.span.name
    );
    assert_eq!(
        child.span.parent_span_id, parent.span.span_id,
        "{} not a child of {}",
        child.span.name, parent.span.name
    );
}
