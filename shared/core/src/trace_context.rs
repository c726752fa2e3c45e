//! The trace context a piece of work carries between processes: propagation fields (`traceparent`,
//! `tracestate`, `x-amzn-trace-id`) as received, scoped to the work's future. The HTTP layer sets
//! it for a request, the task queue copies it into the task message, the worker hands it to the
//! control plane with the task's calls; the span builder continues the trace from it.

use std::collections::HashMap;
use std::future::Future;

/// Propagation fields by lower-case name.
pub type Carrier = HashMap<String, String>;

/// The fields that are carried.
pub const FIELDS: [&str; 3] = ["traceparent", "tracestate", "x-amzn-trace-id"];

tokio::task_local! {
    static CURRENT: Carrier;
}

/// Runs `work` with `carrier` as its trace context.
pub async fn scope<F: Future>(carrier: Carrier, work: F) -> F::Output {
    CURRENT.scope(carrier, work).await
}

/// The trace context of the running work, if any and not empty.
pub fn current() -> Option<Carrier> {
    CURRENT.try_with(Clone::clone).ok().filter(|carrier| !carrier.is_empty())
}

/// Keeps the carried fields of `pairs` (names compared case-insensitively).
pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Carrier {
    pairs
        .into_iter()
        .filter_map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            (FIELDS.contains(&name.as_str()) && !value.is_empty() && value.len() <= 1024)
                .then(|| (name, value.to_owned()))
        })
        .collect()
}

/// Continues a turn's trace from the context its work carried (the span builder).
pub trait TraceSink: Send + Sync {
    /// The turn's trace continues the one in `carrier`.
    fn continue_turn(&self, turn: crate::ids::TurnId, carrier: &Carrier);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_carrier_is_scoped_to_its_work() {
        assert_eq!(current(), None);
        let carrier = from_pairs([("TraceParent", "00-abc-def-01"), ("cookie", "secret"), ("tracestate", "")]);
        assert_eq!(carrier.len(), 1, "only propagation fields, never empty");
        let seen = scope(carrier.clone(), async { current() }).await;
        assert_eq!(seen, Some(carrier));
        assert_eq!(current(), None);
    }
}
