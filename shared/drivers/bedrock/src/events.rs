//! Decoding the ConverseStream event stream into chat chunks.
//!
//! `contentBlockDelta` carries text (a [`ChatChunk::TextDelta`]), reasoning text (a
//! [`ChatChunk::ThinkingDelta`]) or a piece of a tool call's input JSON; `contentBlockStart` opens a
//! `toolUse` block (id, name) at an index, whose input pieces are assembled until
//! `contentBlockStop` emits the [`ChatChunk::ToolCall`]. `messageStop` carries the stop reason and
//! `metadata` (after it) the usage, cache reads and writes included; the response ends with the
//! metadata or with the stream. A stream that ends before `messageStop` is truncated (a network
//! error, retryable); an exception event fails it ([`crate::errors::stream_error`]).

use std::collections::{BTreeMap, VecDeque};

use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ContentBlockStart, ConverseStreamOutput, ReasoningContentBlockDelta, StopReason,
};

use everruns_core::domain::TokenUsage;
use everruns_core::driver::{ChatChunk, ChatFinish, ChatStream, DriverError, ToolCall};
use everruns_driver_common::Flow;
use everruns_driver_common::stream::{parse_tool_arguments, truncated_stream};

/// A `toolUse` block whose input is still streaming.
#[derive(Debug, Default)]
struct PendingToolUse {
    id: String,
    name: String,
    json: String,
}

/// The ConverseStream decoder state.
#[derive(Debug, Default)]
pub struct ConverseDecoder {
    request_id: Option<String>,
    model: String,
    usage: TokenUsage,
    tools: BTreeMap<i32, PendingToolUse>,
    stop_reason: Option<String>,
    finished: bool,
}

fn tokens(n: i32) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// The port's finish reason for a Bedrock stop reason.
pub fn finish_reason(reason: &StopReason) -> String {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence => "stop",
        StopReason::ToolUse => "tool_calls",
        StopReason::MaxTokens | StopReason::ModelContextWindowExceeded => "length",
        StopReason::GuardrailIntervened | StopReason::ContentFiltered => "content_filter",
        other => other.as_str(),
    }
    .to_owned()
}

impl ConverseDecoder {
    /// A decoder for one response of `model` (the call's request id, when known, becomes the
    /// response id).
    pub fn new(model: &str, request_id: Option<String>) -> Self {
        Self { model: model.to_owned(), request_id, ..Self::default() }
    }

    fn emit_tool(&mut self, index: i32, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        if let Some(tool) = self.tools.remove(&index) {
            let arguments = parse_tool_arguments(&tool.name, &tool.json)?;
            out.push(ChatChunk::ToolCall(ToolCall { id: tool.id, name: tool.name, arguments }));
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        let open: Vec<i32> = self.tools.keys().copied().collect();
        for index in open {
            self.emit_tool(index, out)?;
        }
        out.push(ChatChunk::Usage(self.usage));
        out.push(ChatChunk::Finished(ChatFinish {
            finish_reason: self.stop_reason.clone(),
            response_id: self.request_id.clone(),
            model: Some(self.model.clone()),
        }));
        self.finished = true;
        Ok(Flow::Done)
    }

    /// Handles one event, pushing any completed chunks to `out`.
    pub fn on_event(&mut self, event: ConverseStreamOutput, out: &mut Vec<ChatChunk>) -> Result<Flow, DriverError> {
        match event {
            ConverseStreamOutput::ContentBlockStart(start) => {
                if let Some(ContentBlockStart::ToolUse(tool)) = start.start {
                    let pending = PendingToolUse { id: tool.tool_use_id, name: tool.name, json: String::new() };
                    self.tools.insert(start.content_block_index, pending);
                }
            }
            ConverseStreamOutput::ContentBlockDelta(delta) => match delta.delta {
                Some(ContentBlockDelta::Text(text)) if !text.is_empty() => out.push(ChatChunk::TextDelta(text)),
                Some(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(text)))
                    if !text.is_empty() =>
                {
                    out.push(ChatChunk::ThinkingDelta(text));
                }
                Some(ContentBlockDelta::ToolUse(piece)) => {
                    if let Some(tool) = self.tools.get_mut(&delta.content_block_index) {
                        tool.json.push_str(&piece.input);
                    }
                }
                _ => {}
            },
            ConverseStreamOutput::ContentBlockStop(stop) => self.emit_tool(stop.content_block_index, out)?,
            ConverseStreamOutput::MessageStop(stop) => self.stop_reason = Some(finish_reason(&stop.stop_reason)),
            ConverseStreamOutput::Metadata(metadata) => {
                if let Some(usage) = metadata.usage {
                    self.usage = TokenUsage {
                        input_tokens: tokens(usage.input_tokens),
                        output_tokens: tokens(usage.output_tokens),
                        cache_read_tokens: usage.cache_read_input_tokens.map(tokens),
                        cache_creation_tokens: usage.cache_write_input_tokens.map(tokens),
                    };
                }
                if self.stop_reason.is_some() {
                    return self.finish(out);
                }
            }
            _ => {}
        }
        Ok(Flow::Continue)
    }

    /// The stream ended: close the response after `messageStop`, else fail (truncated).
    pub fn on_end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), DriverError> {
        if self.finished {
            return Ok(());
        }
        if self.stop_reason.is_none() {
            return Err(truncated_stream("messageStop"));
        }
        self.finish(out).map(|_| ())
    }
}

/// The chat stream of one ConverseStream response: events decoded until the response ends; the
/// first error is yielded and ends the stream.
pub fn decode(
    receiver: EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>,
    decoder: ConverseDecoder,
) -> ChatStream {
    struct State {
        receiver: EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>,
        decoder: ConverseDecoder,
        ready: VecDeque<Result<ChatChunk, DriverError>>,
        done: bool,
    }
    let state = State { receiver, decoder, ready: VecDeque::new(), done: false };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.ready.pop_front() {
                return Some((item, state));
            }
            if state.done {
                return None;
            }
            let mut out = Vec::new();
            let result = match state.receiver.recv().await {
                Ok(Some(event)) => state.decoder.on_event(event, &mut out).map(|flow| flow == Flow::Done),
                Ok(None) => state.decoder.on_end(&mut out).map(|()| true),
                Err(error) => Err(crate::errors::stream_error(error)),
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

#[cfg(test)]
mod tests {
    use aws_sdk_bedrockruntime::types::{
        ContentBlockDeltaEvent, ContentBlockStartEvent, ContentBlockStopEvent, ConverseStreamMetadataEvent,
        MessageStopEvent, TokenUsage as BedrockUsage, ToolUseBlockDelta, ToolUseBlockStart,
    };

    use super::*;

    fn run(events: Vec<ConverseStreamOutput>) -> (Vec<ChatChunk>, Result<(), DriverError>) {
        let mut decoder = ConverseDecoder::new("m", Some("req-1".into()));
        let mut out = Vec::new();
        for event in events {
            if let Err(e) = decoder.on_event(event, &mut out) {
                return (out, Err(e));
            }
        }
        let end = decoder.on_end(&mut out);
        (out, end)
    }

    #[test]
    fn tool_input_pieces_assemble_and_usage_closes_the_response() {
        let start = ToolUseBlockStart::builder().tool_use_id("t1").name("get").build().ok();
        let delta = |input: &str| {
            let piece = ToolUseBlockDelta::builder().input(input).build().ok().map(ContentBlockDelta::ToolUse);
            ConverseStreamOutput::ContentBlockDelta(
                ContentBlockDeltaEvent::builder()
                    .content_block_index(1)
                    .set_delta(piece)
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        };
        let usage = BedrockUsage::builder()
            .input_tokens(7)
            .output_tokens(3)
            .total_tokens(10)
            .cache_read_input_tokens(2)
            .build()
            .ok();
        let (chunks, end) = run(vec![
            ConverseStreamOutput::ContentBlockStart(
                ContentBlockStartEvent::builder()
                    .content_block_index(1)
                    .set_start(start.map(ContentBlockStart::ToolUse))
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            ),
            delta("{\"a\":"),
            delta("1}"),
            ConverseStreamOutput::ContentBlockStop(
                ContentBlockStopEvent::builder().content_block_index(1).build().unwrap_or_else(|e| panic!("{e}")),
            ),
            ConverseStreamOutput::MessageStop(
                MessageStopEvent::builder().stop_reason(StopReason::ToolUse).build().unwrap_or_else(|e| panic!("{e}")),
            ),
            ConverseStreamOutput::Metadata(ConverseStreamMetadataEvent::builder().set_usage(usage).build()),
        ]);
        assert!(end.is_ok());
        assert_eq!(
            chunks[0],
            ChatChunk::ToolCall(ToolCall {
                id: "t1".into(),
                name: "get".into(),
                arguments: serde_json::json!({"a": 1})
            })
        );
        let usage =
            TokenUsage { input_tokens: 7, output_tokens: 3, cache_read_tokens: Some(2), cache_creation_tokens: None };
        assert_eq!(chunks[1], ChatChunk::Usage(usage));
        assert!(
            matches!(&chunks[2], ChatChunk::Finished(f) if f.finish_reason.as_deref() == Some("tool_calls") && f.response_id.as_deref() == Some("req-1"))
        );
    }

    #[test]
    fn a_stream_without_message_stop_is_truncated() {
        let (chunks, end) = run(vec![]);
        assert!(chunks.is_empty());
        assert!(matches!(end, Err(e) if e.kind == everruns_core::driver::DriverErrorKind::Network));
        assert_eq!(finish_reason(&StopReason::MaxTokens), "length");
        assert_eq!(finish_reason(&StopReason::GuardrailIntervened), "content_filter");
    }
}
