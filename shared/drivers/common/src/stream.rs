//! Turning a provider's SSE byte stream into a [`ChatStream`] through a provider-specific decoder.
//!
//! The decoder sees one event at a time and pushes the chunks it completes. The first error (a
//! transport failure, malformed JSON, a provider error event) is yielded and ends the stream.

use std::collections::VecDeque;

use futures::{Stream, StreamExt};
use serde_json::Value;

use everruns_core::driver::{ChatChunk, ChatStream, DriverError, DriverErrorKind};

use crate::http::truncate;
use crate::sse::{SseEvent, sse_events};

/// Whether a decoded event ended the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// More events follow.
    Continue,
    /// The response is complete: the stream ends here (later bytes are ignored).
    Done,
}

/// A provider's event decoder: a small state machine from SSE events to chat chunks.
pub trait EventDecoder: Send + 'static {
    /// Handles one event, pushing any completed chunks to `out`.
    fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError>;

    /// The byte stream ended before [`Flow::Done`]: push closing chunks, or fail (truncated stream).
    fn on_end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), DriverError>;
}

/// Decodes an SSE byte stream with `decoder` into a chat stream.
pub fn decode_sse<S, B, E, D>(bytes: S, decoder: D) -> ChatStream
where
    S: Stream<Item = Result<B, E>> + Send + Unpin + 'static,
    B: AsRef<[u8]> + 'static,
    E: std::error::Error + 'static,
    D: EventDecoder,
{
    struct State<E, D> {
        events: E,
        decoder: D,
        ready: VecDeque<Result<ChatChunk, DriverError>>,
        done: bool,
    }
    let events = Box::pin(sse_events(bytes));
    let state = State { events, decoder, ready: VecDeque::new(), done: false };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.ready.pop_front() {
                return Some((item, state));
            }
            if state.done {
                return None;
            }
            let mut out = Vec::new();
            let result = match state.events.next().await {
                Some(Ok(event)) => state.decoder.on_event(&event, &mut out).map(|flow| flow == Flow::Done),
                Some(Err(error)) => Err(error),
                None => state.decoder.on_end(&mut out).map(|()| true),
            };
            state.ready.extend(out.into_iter().map(Ok));
            match result {
                Ok(done) => state.done = done,
                Err(error) => {
                    state.ready.push_back(Err(error));
                    state.done = true;
                }
            }
        }
    }))
}

/// Decodes a streamed response body with `decoder`.
pub fn decode_response<D: EventDecoder>(response: reqwest::Response, decoder: D) -> ChatStream {
    decode_sse(Box::pin(response.bytes_stream()), decoder)
}

/// Parses the JSON `data` of an event; malformed JSON is a [`DriverErrorKind::Other`] error.
pub fn parse_event_json(event: &SseEvent) -> Result<Value, DriverError> {
    serde_json::from_str(&event.data).map_err(|e| {
        DriverError::new(
            DriverErrorKind::Other,
            format!("malformed JSON in the provider stream ({e}): {}", truncate(&event.data, 200)),
        )
    })
}

/// The error for a stream that ended before its terminal event (a dropped connection: retryable).
pub fn truncated_stream(what: &str) -> DriverError {
    DriverError::new(DriverErrorKind::Network, format!("the provider stream ended before {what}"))
}

/// A string field of a JSON value (`""` when absent).
pub fn str_field<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// An unsigned integer field of a JSON value, when present.
pub fn u64_field(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

/// Parses the complete arguments text of a tool call into a JSON value (empty text: `{}`).
pub fn parse_tool_arguments(name: &str, text: &str) -> Result<Value, DriverError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(text).map_err(|e| {
        DriverError::new(
            DriverErrorKind::Other,
            format!("malformed arguments for tool call '{name}' ({e}): {}", truncate(text, 200)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts events; `stop` ends the response; `bad` is malformed JSON.
    struct Counting(u32);

    impl EventDecoder for Counting {
        fn on_event(&mut self, event: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
            if event.data == "stop" {
                return Ok(Flow::Done);
            }
            let value = parse_event_json(event)?;
            self.0 += 1;
            out.push(ChatChunk::TextDelta(str_field(&value, "/t").to_owned()));
            Ok(Flow::Continue)
        }

        fn on_end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
            Err(truncated_stream("stop"))
        }
    }

    async fn run(body: &'static str) -> Vec<Result<ChatChunk, DriverError>> {
        let chunks: Vec<Result<&[u8], std::io::Error>> = body.as_bytes().chunks(5).map(Ok).collect();
        decode_sse(futures::stream::iter(chunks), Counting(0)).collect().await
    }

    #[tokio::test]
    async fn decodes_until_done_and_ignores_the_rest() {
        let got = run("data: {\"t\":\"a\"}\n\ndata: stop\n\ndata: {\"t\":\"b\"}\n\n").await;
        assert_eq!(got, vec![Ok(ChatChunk::TextDelta("a".into()))]);
    }

    #[tokio::test]
    async fn malformed_json_and_truncation_end_the_stream_with_an_error() {
        let got = run("data: {\"t\":\"a\"}\n\ndata: {nope\n\ndata: {\"t\":\"b\"}\n\n").await;
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[1], Err(e) if e.kind == DriverErrorKind::Other && e.message.contains("malformed")));
        let got = run("data: {\"t\":\"a\"}\n\n").await;
        assert!(matches!(&got[1], Err(e) if e.kind == DriverErrorKind::Network));
    }

    #[test]
    fn tool_arguments() {
        assert_eq!(parse_tool_arguments("t", " ").ok(), Some(serde_json::json!({})));
        assert_eq!(parse_tool_arguments("t", "{\"a\":1}").ok(), Some(serde_json::json!({"a": 1})));
        assert!(parse_tool_arguments("t", "{\"a\":").is_err());
    }
}
