//! The reason step: one streaming driver call. Deltas are emitted as they arrive (the first at
//! once, then coalesced per `delta_interval`); the model output is saved before any tool runs.

use futures::StreamExt;
use tokio::time::Instant;

use super::{EngineError, IterationRun};
use crate::domain::{ContentPart, Message, MessagePhase, MessageRole, TokenUsage};
use crate::driver::{ChatChunk, ChatFinish, ChatRequest, ChatStream, DriverError, DriverErrorKind, ToolCall};
use crate::events::*;
use crate::ids::MessageId;

/// The saved output of a reason step.
pub(super) struct ReasonOutput {
    /// The agent message (text and tool calls).
    pub message: Message,
    /// Usage of the call.
    pub usage: Option<TokenUsage>,
}

/// How the reason step ended.
pub(super) enum ReasonResult {
    /// The model answered; the output is saved.
    Output(Box<ReasonOutput>),
    /// The driver failed.
    Failed(DriverError),
    /// Cancellation was requested.
    Cancelled,
}

/// What the stream produced.
#[derive(Default)]
struct Streamed {
    text: String,
    thinking: String,
    tool_calls: Vec<ToolCall>,
    usage: Option<TokenUsage>,
    finish: ChatFinish,
    time_to_first_token_ms: Option<u64>,
}

enum Tick {
    Item(Option<Result<ChatChunk, DriverError>>),
    Deadline,
}

impl IterationRun<'_> {
    pub(super) async fn reason(&self) -> Result<ReasonResult, EngineError> {
        if let Some(event) = self.saved(&self.step_key("output.message.completed"))
            && let EventPayload::OutputMessageCompleted(data) = &event.payload
        {
            return Ok(ReasonResult::Output(Box::new(ReasonOutput {
                message: data.message.clone(),
                usage: data.usage,
            })));
        }
        let Some(model) = self.context.model.as_ref() else {
            return Ok(ReasonResult::Failed(DriverError::new(
                DriverErrorKind::Authentication,
                "no model could be resolved for this turn",
            )));
        };
        let model_ref = ModelRef { model: model.model.clone(), model_id: None, provider_id: None };
        let session = &self.context.session;
        self.emit_keyed(
            self.step_key("reason.started"),
            EventPayload::ReasonStarted(ReasonStartedData {
                harness_id: session.harness_id,
                agent_id: session.agent_id,
                metadata: Some(model_ref.clone()),
            }),
        )
        .await?;
        let started = self
            .emit_keyed(
                self.step_key("output.message.started"),
                EventPayload::OutputMessageStarted(OutputMessageStartedData {
                    turn_id: self.task.turn_id,
                    message_id: Some(MessageId::new()),
                    model: Some(model.model.clone()),
                    iteration: Some(self.task.iteration),
                    phase: None,
                }),
            )
            .await?;
        let message_id = match started.as_ref().map(|e| &e.payload) {
            Some(EventPayload::OutputMessageStarted(d)) => d.message_id.unwrap_or_default(),
            _ => MessageId::new(),
        };
        if self.cancel.is_cancelled() {
            return Ok(ReasonResult::Cancelled);
        }
        let driver = match self.engine.drivers.create(model) {
            Ok(driver) => driver,
            Err(e) => {
                return Ok(ReasonResult::Failed(DriverError::new(DriverErrorKind::Authentication, e.to_string())));
            }
        };
        let agent = &self.context.runtime_agent;
        let request = ChatRequest {
            model: model.model.clone(),
            system_prompt: agent.system_prompt.clone(),
            messages: self.context.messages.clone(),
            tools: agent.tools.clone(),
            reasoning_effort: agent.reasoning_effort.clone(),
            max_tokens: None,
            parallel_tool_calls: agent.parallel_tool_calls,
            metadata: agent.embedder_metadata.clone(),
        };
        let call_started = Instant::now();
        let stream = tokio::select! {
            biased;
            _ = self.cancel.cancelled() => return Ok(ReasonResult::Cancelled),
            stream = driver.chat_stream(request.clone()) => stream,
        };
        let streamed = match stream {
            Ok(stream) => match self.consume(stream, message_id, call_started).await? {
                Ok(Some(streamed)) => streamed,
                Ok(None) => return Ok(ReasonResult::Cancelled),
                Err(error) => return Ok(ReasonResult::Failed(error)),
            },
            Err(error) => return Ok(ReasonResult::Failed(error)),
        };
        // Cancelled as the stream ended: nothing of this answer is stored.
        if self.cancel.is_cancelled() {
            return Ok(ReasonResult::Cancelled);
        }
        let duration_ms = elapsed_ms(call_started);

        let mut content = Vec::with_capacity(1 + streamed.tool_calls.len());
        if !streamed.text.is_empty() {
            content.push(ContentPart::text(streamed.text.clone()));
        }
        content.extend(streamed.tool_calls.iter().map(|c| ContentPart::ToolCall {
            id: c.id.clone(),
            name: c.name.clone(),
            arguments: c.arguments.clone(),
        }));
        let has_tool_calls = !streamed.tool_calls.is_empty();
        let mut message = Message::new(MessageRole::Agent, content);
        message.id = message_id;
        message.phase = Some(if has_tool_calls { MessagePhase::Commentary } else { MessagePhase::FinalAnswer });
        message.thinking = (!streamed.thinking.is_empty()).then(|| streamed.thinking.clone());

        self.emit_keyed(self.step_key("llm.generation"), self.generation(&request, &streamed, duration_ms)).await?;
        self.emit_keyed(
            self.step_key("output.message.completed"),
            EventPayload::OutputMessageCompleted(OutputMessageCompletedData {
                message: message.clone(),
                metadata: Some(model_ref),
                usage: streamed.usage,
                error_code: None,
                error_fields: None,
                error_disclosure: None,
            }),
        )
        .await?;
        self.emit_keyed(
            self.step_key("reason.completed"),
            EventPayload::ReasonCompleted(ReasonCompletedData {
                success: true,
                has_tool_calls,
                tool_call_count: streamed.tool_calls.len() as u32,
                text_preview: (!streamed.text.is_empty()).then(|| preview(&streamed.text, 200)),
                error: None,
                duration_ms: Some(duration_ms),
                usage: streamed.usage,
            }),
        )
        .await?;
        Ok(ReasonResult::Output(Box::new(ReasonOutput { message, usage: streamed.usage })))
    }

    /// Reads the stream to its end. `Ok(Ok(None))` means cancelled mid-stream.
    async fn consume(
        &self,
        mut stream: ChatStream,
        message_id: MessageId,
        call_started: Instant,
    ) -> Result<Result<Option<Streamed>, DriverError>, EngineError> {
        let interval = self.engine.config.delta_interval;
        let mut out = Streamed::default();
        let mut pending = String::new();
        let mut last_flush: Option<Instant> = None;
        loop {
            let deadline = last_flush.filter(|_| !pending.is_empty()).map(|t| t + interval);
            let tick = tokio::select! {
                biased;
                _ = self.cancel.cancelled() => return Ok(Ok(None)),
                tick = next_or_deadline(&mut stream, deadline) => tick,
            };
            let chunk = match tick {
                Tick::Deadline => {
                    self.flush(&mut pending, &out.text, message_id).await?;
                    last_flush = Some(Instant::now());
                    continue;
                }
                Tick::Item(None) => break,
                Tick::Item(Some(Err(error))) => return Ok(Err(error)),
                Tick::Item(Some(Ok(chunk))) => chunk,
            };
            match chunk {
                ChatChunk::TextDelta(delta) => {
                    if out.time_to_first_token_ms.is_none() {
                        out.time_to_first_token_ms = Some(elapsed_ms(call_started));
                    }
                    out.text.push_str(&delta);
                    pending.push_str(&delta);
                    if last_flush.is_none_or(|t| t.elapsed() >= interval) {
                        self.flush(&mut pending, &out.text, message_id).await?;
                        last_flush = Some(Instant::now());
                    }
                }
                ChatChunk::ThinkingDelta(delta) => {
                    if out.thinking.is_empty() {
                        self.emit_keyed(
                            self.step_key("reason.thinking.started"),
                            EventPayload::ReasonThinkingStarted(ReasonThinkingStartedData {
                                turn_id: self.task.turn_id,
                                model: self.context.model.as_ref().map(|m| m.model.clone()),
                            }),
                        )
                        .await?;
                    }
                    out.thinking.push_str(&delta);
                    self.emit_ephemeral(EventPayload::ReasonThinkingDelta(ReasonThinkingDeltaData {
                        turn_id: self.task.turn_id,
                        delta,
                        accumulated: out.thinking.clone(),
                    }))
                    .await?;
                }
                ChatChunk::ToolCall(call) => out.tool_calls.push(call),
                ChatChunk::Usage(usage) => out.usage = Some(usage),
                ChatChunk::Finished(finish) => out.finish = finish,
            }
        }
        self.flush(&mut pending, &out.text, message_id).await?;
        if !out.thinking.is_empty() {
            self.emit_keyed(
                self.step_key("reason.thinking.completed"),
                EventPayload::ReasonThinkingCompleted(ReasonThinkingCompletedData {
                    turn_id: self.task.turn_id,
                    thinking: out.thinking.clone(),
                }),
            )
            .await?;
        }
        Ok(Ok(Some(out)))
    }

    async fn flush(&self, pending: &mut String, accumulated: &str, message_id: MessageId) -> Result<(), EngineError> {
        if pending.is_empty() {
            return Ok(());
        }
        self.emit_ephemeral(EventPayload::OutputMessageDelta(OutputMessageDeltaData {
            turn_id: self.task.turn_id,
            message_id: Some(message_id),
            delta: std::mem::take(pending),
            accumulated: accumulated.to_owned(),
            phase: None,
        }))
        .await
    }

    fn generation(&self, request: &ChatRequest, streamed: &Streamed, duration_ms: u64) -> EventPayload {
        let system = Message::new(MessageRole::System, vec![ContentPart::text(request.system_prompt.clone())]);
        EventPayload::LlmGeneration(LlmGenerationData {
            messages: SentMessages::new(vec![system], request.messages.clone()),
            output: GenerationOutput {
                text: (!streamed.text.is_empty()).then(|| streamed.text.clone()),
                tool_calls: streamed.tool_calls.clone(),
            },
            tools: (!request.tools.is_empty()).then(|| {
                request
                    .tools
                    .iter()
                    .map(|t| GenerationTool {
                        name: t.name.clone(),
                        description: t.description.clone(),
                        capability_id: self.context.tool_capabilities.get(&t.name).cloned(),
                    })
                    .collect()
            }),
            metadata: GenerationMetadata {
                model: streamed.finish.model.clone().unwrap_or_else(|| request.model.clone()),
                success: true,
                provider: self.context.model.as_ref().map(|m| m.provider_type.to_string()),
                usage: streamed.usage,
                duration_ms: Some(duration_ms),
                time_to_first_token_ms: streamed.time_to_first_token_ms,
                error: None,
                finish_reasons: streamed.finish.finish_reason.clone().map(|r| vec![r]),
                response_id: streamed.finish.response_id.clone(),
            },
        })
    }
}

async fn next_or_deadline(stream: &mut ChatStream, deadline: Option<Instant>) -> Tick {
    match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(item) => Tick::Item(item),
            Err(_) => Tick::Deadline,
        },
        None => Tick::Item(stream.next().await),
    }
}

pub(super) fn elapsed_ms(since: Instant) -> u64 {
    since.elapsed().as_millis().try_into().unwrap_or(u64::MAX)
}

/// The first `max` characters of a text.
pub(super) fn preview(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
