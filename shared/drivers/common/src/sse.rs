//! A server-sent-events parser over a byte stream (the WHATWG `text/event-stream` rules).
//!
//! Lines end with LF, CRLF or a lone CR, and may be split anywhere across network chunks (even inside
//! a multi-byte UTF-8 sequence or between the CR and LF of a CRLF). `event:` names the event, `data:`
//! lines are joined with `\n`, `id:` is kept, lines starting with `:` are comments, and a blank line
//! dispatches the event. An event with no `data:` line is not dispatched. At the end of the stream a
//! pending event that was never closed by a blank line is dispatched anyway (lenient).

use futures::{Stream, StreamExt};

use everruns_core::driver::{DriverError, DriverErrorKind};

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field, when present.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, when present.
    pub id: Option<String>,
}

/// An incremental SSE parser: feed bytes with [`SseParser::push`], then call [`SseParser::finish`].
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    skip_lf: bool,
    event: Option<String>,
    data: Vec<String>,
    id: Option<String>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one chunk of bytes; returns the events it completed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        for &byte in bytes {
            match byte {
                b'\n' if self.skip_lf => self.skip_lf = false,
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.end_line(&mut out);
                    self.skip_lf = true;
                }
                other => {
                    self.skip_lf = false;
                    self.line.push(other);
                }
            }
        }
        out
    }

    /// Ends the stream: returns the last event when one was pending without its blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let mut out = Vec::new();
        if !self.line.is_empty() {
            self.end_line(&mut out);
        }
        self.dispatch(&mut out);
        out.pop()
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            "id" => self.id = Some(value.to_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event.take();
        if self.data.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        out.push(SseEvent { event, data, id: self.id.clone() });
    }
}

/// Parses a byte stream (such as `reqwest::Response::bytes_stream`) into SSE events. A transport
/// error becomes a [`DriverErrorKind::Network`] error and ends the stream.
pub fn sse_events<S, B, E>(bytes: S) -> impl Stream<Item = Result<SseEvent, DriverError>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + Unpin + 'static,
    B: AsRef<[u8]> + 'static,
    E: std::error::Error + 'static,
{
    struct State<S> {
        bytes: S,
        parser: SseParser,
        ready: std::collections::VecDeque<SseEvent>,
        done: bool,
    }
    let state = State { bytes, parser: SseParser::new(), ready: Default::default(), done: false };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.ready.pop_front() {
                return Some((Ok(event), state));
            }
            if state.done {
                return None;
            }
            match state.bytes.next().await {
                Some(Ok(chunk)) => state.ready.extend(state.parser.push(chunk.as_ref())),
                Some(Err(e)) => {
                    state.done = true;
                    let error = DriverError::new(
                        DriverErrorKind::Network,
                        format!("reading the response stream failed: {}", crate::http::error_chain(&e)),
                    );
                    return Some((Err(error), state));
                }
                None => {
                    state.done = true;
                    state.ready.extend(state.parser.finish());
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in_pieces(input: &str, piece: usize) -> Vec<SseEvent> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in input.as_bytes().chunks(piece) {
            out.extend(parser.push(chunk));
        }
        out.extend(parser.finish());
        out
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent { event: event.map(str::to_owned), data: data.to_owned(), id: None }
    }

    #[test]
    fn events_data_and_comments() {
        let input = ": keep-alive\nevent: a\ndata: one\n\nevent: b\ndata: two\ndata:three\n\n";
        for piece in 1..input.len() {
            assert_eq!(parse_in_pieces(input, piece), vec![ev(Some("a"), "one"), ev(Some("b"), "two\nthree")]);
        }
    }

    #[test]
    fn crlf_and_lone_cr_line_endings_split_anywhere() {
        let input = "event: x\r\ndata: é😀\r\n\r\ndata: y\r\rdata: z\n\n";
        for piece in 1..input.len() {
            assert_eq!(parse_in_pieces(input, piece), vec![ev(Some("x"), "é😀"), ev(None, "y"), ev(None, "z")]);
        }
    }

    #[test]
    fn events_without_data_are_dropped_and_the_name_resets() {
        assert_eq!(parse_in_pieces("event: ping\n\ndata: d\n\n", 3), vec![ev(None, "d")]);
    }

    #[test]
    fn a_field_without_colon_and_an_id() {
        let got = parse_in_pieces("id: 7\ndata\n\n", 2);
        assert_eq!(got, vec![SseEvent { event: None, data: String::new(), id: Some("7".into()) }]);
    }

    #[test]
    fn an_unterminated_last_event_is_dispatched() {
        assert_eq!(parse_in_pieces("data: {\"a\":1}", 4), vec![ev(None, "{\"a\":1}")]);
        assert_eq!(parse_in_pieces("data: x\n", 4), vec![ev(None, "x")]);
    }

    #[tokio::test]
    async fn the_stream_adapter_reports_transport_errors() {
        let chunks: Vec<Result<&[u8], std::io::Error>> =
            vec![Ok(b"data: a\n\nda"), Ok(b"ta: b\n\n"), Err(std::io::Error::other("reset"))];
        let events: Vec<_> = sse_events(futures::stream::iter(chunks)).collect().await;
        assert_eq!(events.len(), 3);
        assert_eq!(events[0], Ok(ev(None, "a")));
        assert_eq!(events[1], Ok(ev(None, "b")));
        assert!(matches!(&events[2], Err(e) if e.kind == DriverErrorKind::Network));
    }
}
