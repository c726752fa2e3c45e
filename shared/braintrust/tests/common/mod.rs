//! Shared pieces of the integration tests: the fake Braintrust API, real core events, a warning
//! capture and fast logger options.

pub mod fake;

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use everruns_braintrust::LoggerOptions;
use everruns_core::domain::{ContentPart, Message, MessageRole, TokenUsage};
use everruns_core::driver::ToolCall;
use everruns_core::events::{
    Event, EventContext, EventPayload, GenerationMetadata, GenerationOutput, LlmGenerationData, NewEvent,
    OutputMessageDeltaData, ReasonCompletedData, TurnStartedData,
};
use everruns_core::ids::{MessageId, SessionId, TurnId};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;

/// Short intervals so the tests run fast.
pub fn fast_options() -> LoggerOptions {
    LoggerOptions {
        flush_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(1),
        retry_delay: Duration::from_millis(10),
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        flush_timeout: Duration::from_secs(5),
        ..LoggerOptions::default()
    }
}

/// A session and turn to emit events for.
#[derive(Debug, Clone, Copy)]
pub struct Turn {
    /// The session.
    pub session_id: SessionId,
    /// The turn.
    pub turn_id: TurnId,
    /// The user message that started it.
    pub input_message_id: MessageId,
}

impl Turn {
    /// A fresh session and turn.
    pub fn new() -> Self {
        Self { session_id: SessionId::new(), turn_id: TurnId::new(), input_message_id: MessageId::new() }
    }

    fn event(&self, payload: EventPayload) -> Arc<Event> {
        let context = EventContext::for_turn(self.turn_id, Some(self.input_message_id));
        Arc::new(NewEvent::new(self.session_id, context, payload).event)
    }

    /// A successful `llm.generation` with a tool call (`n` varies the question).
    pub fn generation(&self, n: usize) -> Arc<Event> {
        self.event(EventPayload::LlmGeneration(LlmGenerationData {
            messages: vec![
                Message::new(MessageRole::System, vec![ContentPart::text("You are a helpful agent.")]),
                Message::user_text(format!("Question {n}: what's the weather in Paris?")),
            ]
            .into(),
            output: GenerationOutput {
                text: Some("Let me check.".into()),
                tool_calls: vec![ToolCall {
                    id: format!("call_{n}"),
                    name: "get_weather".into(),
                    arguments: json!({ "city": "Paris" }),
                }],
            },
            tools: None,
            metadata: GenerationMetadata {
                model: "gpt-4o".into(),
                success: true,
                provider: Some("openai".into()),
                usage: Some(TokenUsage {
                    input_tokens: 120,
                    output_tokens: 30,
                    cache_read_tokens: None,
                    cache_creation_tokens: None,
                }),
                duration_ms: Some(1_500),
                time_to_first_token_ms: Some(250),
                error: None,
                finish_reasons: Some(vec!["tool_calls".into()]),
                response_id: Some(format!("resp_{n}")),
            },
        }))
    }

    /// A failed `llm.generation`.
    pub fn failed_generation(&self) -> Arc<Event> {
        self.event(EventPayload::LlmGeneration(LlmGenerationData {
            messages: vec![Message::user_text("Hello?")].into(),
            output: GenerationOutput::default(),
            tools: None,
            metadata: GenerationMetadata {
                model: "claude-sonnet-4".into(),
                success: false,
                provider: Some("anthropic".into()),
                duration_ms: Some(200),
                error: Some("rate limited".into()),
                ..GenerationMetadata::default()
            },
        }))
    }

    /// Events of the same turn that are not generations.
    pub fn other_events(&self) -> Vec<Arc<Event>> {
        vec![
            self.event(EventPayload::TurnStarted(TurnStartedData {
                turn_id: self.turn_id,
                input_message_id: self.input_message_id,
                input_content: None,
            })),
            self.event(EventPayload::OutputMessageDelta(OutputMessageDeltaData {
                turn_id: self.turn_id,
                message_id: None,
                delta: "Let".into(),
                accumulated: "Let".into(),
                phase: None,
            })),
            self.event(EventPayload::ReasonCompleted(ReasonCompletedData {
                success: true,
                has_tool_calls: true,
                tool_call_count: 1,
                text_preview: None,
                error: None,
                duration_ms: Some(1_500),
                usage: None,
            })),
        ]
    }
}

/// Captures what `tracing` writes (set as the thread's default subscriber; the tests run on a
/// current-thread runtime, so the logger's task writes here too).
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// Installs the capture for the current thread, warnings and above.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Logs;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Waits until `check` holds, at most `limit`.
pub async fn eventually(limit: Duration, check: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}
