//! The LLM simulator driver (`llmsim`), used by tests, benchmarks and demo deployments.
//!
//! [`LlmSimDriver`] implements [`ChatDriver`] without any network: it streams a reply chosen by its
//! [`LlmSimConfig`] (fixed text, an echo of the last user message, lorem ipsum, or a tool-calling
//! script that calls offered tools and then answers with their results), word by word, followed
//! by a usage chunk and a finish chunk. Latency (time to first token, per-token delay) and failures
//! (always, or for a fraction of calls) can be injected.
//!
//! Selected through the registry ([`register_driver`]), the model name picks the mode
//! ([`LlmSimConfig::for_model`]): `echo`, `tools`, `slow` and `fail` switch modes, and `-ttft-<ms>`
//! (e.g. `llmsim-ttft-2000`) delays the first token and `-ctx-<tokens>` (e.g. `llmsim-echo-ctx-500`)
//! gives the model a context window: a longer prompt is refused the way providers refuse one
//! (HTTP 400, "prompt is too long", [`DriverErrorKind::RequestTooLarge`]); any other name streams
//! [`DEFAULT_RESPONSE`]. The provider's metadata may carry a pace ([`LlmSimPacing`]; the `dev`
//! grade seeds its simulator models with one): a name containing `instant` ignores it, `-ttft-`
//! overrides its first-token delay, and `slow` never gets faster than its own.
//!
//! With zero latency the whole response is built eagerly and returned as a ready stream, so a call
//! never sleeps or yields to the runtime.

mod intents;
mod pacing;
mod schema;
mod text;
mod tool_calling;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tool_tests;

use std::time::Duration;

use futures::stream;
use uuid::Uuid;

use crate::domain::TokenUsage;
use crate::driver::{ChatChunk, ChatDriver, ChatFinish, ChatRequest, ChatStream, DriverError, DriverErrorKind};
use crate::driver_registry::{DriverId, DriverRegistry};

pub use pacing::{LlmSimPacing, PACING_METADATA_KEY};
use text::{estimate_input_tokens, last_user_text, lorem_text, word_deltas};
use tool_calling::tool_calling_reply;

/// The text streamed by the default configuration.
pub const DEFAULT_RESPONSE: &str = "Hello! I'm a simulated LLM response.";

/// The model name reported when the driver was built without one.
pub const DEFAULT_MODEL_NAME: &str = "llmsim-model";

/// The time to first token of `slow` models (a floor under any pace).
const SLOW_TIME_TO_FIRST_TOKEN: Duration = Duration::from_millis(200);

/// The delay per token of `slow` models (a floor under any pace).
const SLOW_PER_TOKEN: Duration = Duration::from_millis(60);

/// A failure the simulator can inject instead of answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlmSimFailure {
    /// HTTP 429, with a one-second `retry_after`.
    RateLimited,
    /// HTTP 503 Service Unavailable.
    ProviderError,
    /// HTTP 401.
    Authentication,
}

impl LlmSimFailure {
    /// The driver error this failure produces.
    pub fn to_error(self) -> DriverError {
        match self {
            LlmSimFailure::RateLimited => DriverError {
                retry_after: Some(Duration::from_secs(1)),
                ..DriverError::from_status(429, "llmsim: simulated rate limit")
            },
            LlmSimFailure::ProviderError => {
                DriverError::from_status(503, "llmsim: simulated provider error (503 Service Unavailable)")
            }
            LlmSimFailure::Authentication => DriverError::from_status(401, "llmsim: simulated authentication failure"),
        }
    }
}

/// What the simulator answers.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// Always the same text.
    Fixed(String),
    /// `"Echo: <last user text>"`.
    Echo,
    /// Lorem ipsum of this many words.
    Lorem(usize),
    /// Calls offered tools, then answers with their results.
    ToolCalling,
}

/// How an [`LlmSimDriver`] behaves: the reply mode, simulated latency and injected failures.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSimConfig {
    mode: Mode,
    time_to_first_token: Duration,
    per_token: Duration,
    failure: Option<(LlmSimFailure, f64)>,
    /// The context window in (estimated) tokens, if limited.
    context_window: Option<u64>,
}

impl Default for LlmSimConfig {
    /// Streams [`DEFAULT_RESPONSE`] with no latency and no failures.
    fn default() -> Self {
        Self::fixed(DEFAULT_RESPONSE)
    }
}

impl LlmSimConfig {
    fn with_mode(mode: Mode) -> Self {
        Self {
            mode,
            time_to_first_token: Duration::ZERO,
            per_token: Duration::ZERO,
            failure: None,
            context_window: None,
        }
    }

    /// Always streams `text`.
    pub fn fixed(text: impl Into<String>) -> Self {
        Self::with_mode(Mode::Fixed(text.into()))
    }

    /// Streams `"Echo: <text of the last user message>"` (`"Echo: "` when there is none).
    pub fn echo() -> Self {
        Self::with_mode(Mode::Echo)
    }

    /// Streams exactly `words` words of lorem ipsum, ending with a full stop.
    pub fn lorem(words: usize) -> Self {
        Self::with_mode(Mode::Lorem(words))
    }

    /// Tool-calling script: when the conversation ends with tool results, answers with them (a
    /// toolbox tool's as text, `"Here is what I found: <text>"`; any other's as `"The tool
    /// returned: <json>"`; a failure as `"The tool failed: <error>"`); otherwise calls tools — an
    /// offered tool the last user message names (outside the toolbox), else the toolbox calls the
    /// message asks for (a file path → `read_file`, a command in backticks or after `run`/`bash:`
    /// → `bash`, a URL → `web_fetch`, `remember k=v` → `kv_store`, "todo" → `write_todos`; only
    /// among the offered tools), else the named tool or the first one with arguments generated
    /// from its JSON Schema; without tools, answers `"I have no tools available."`.
    pub fn tool_calling() -> Self {
        Self::with_mode(Mode::ToolCalling)
    }

    /// Waits `time_to_first_token` before the first chunk and `per_token` between later deltas.
    pub fn with_latency(mut self, time_to_first_token: Duration, per_token: Duration) -> Self {
        self.time_to_first_token = time_to_first_token;
        self.per_token = per_token;
        self
    }

    /// Makes every call fail with `kind`.
    pub fn with_failure(self, kind: LlmSimFailure) -> Self {
        self.with_failure_rate(kind, 1.0)
    }

    /// Makes a fraction `rate` (clamped to `0..=1`; NaN counts as 0) of calls fail with `kind`.
    pub fn with_failure_rate(mut self, kind: LlmSimFailure, rate: f64) -> Self {
        let rate = if rate.is_nan() { 0.0 } else { rate.clamp(0.0, 1.0) };
        self.failure = Some((kind, rate));
        self
    }

    /// The configuration selected by a model name (case-insensitive substring matches), with no
    /// pace of its own: [`for_model_paced`](Self::for_model_paced) with
    /// [`LlmSimPacing::INSTANT`].
    pub fn for_model(model: &str) -> Self {
        Self::for_model_paced(model, LlmSimPacing::INSTANT)
    }

    /// The configuration selected by a model name (case-insensitive substring matches):
    /// `echo` → [`echo`](Self::echo); `tools` → [`tool_calling`](Self::tool_calling); `slow` →
    /// 40 words of lorem ipsum with at least a 200 ms time to first token and 60 ms per token;
    /// `fail` → the default text failing every call (with a 503, or a 429 when the name also
    /// contains `429` or `rate`, or a 401 when it contains `401` or `auth`); anything else → the
    /// default. Each streams at `pacing` unless the name contains `instant`. Independently,
    /// `-ttft-<ms>` anywhere in the name sets the time to first token (over the pace), and
    /// `-ctx-<tokens>` the context window.
    pub fn for_model_paced(model: &str, pacing: LlmSimPacing) -> Self {
        let lower = model.to_ascii_lowercase();
        let pacing = if lower.contains("instant") { LlmSimPacing::INSTANT } else { pacing };
        let (mut ttft, mut per_token) = (pacing.time_to_first_token, pacing.per_token);
        let mut config = if lower.contains("echo") {
            Self::echo()
        } else if lower.contains("tools") {
            Self::tool_calling()
        } else if lower.contains("slow") {
            (ttft, per_token) = (ttft.max(SLOW_TIME_TO_FIRST_TOKEN), per_token.max(SLOW_PER_TOKEN));
            Self::lorem(40)
        } else if lower.contains("fail") {
            let kind = if lower.contains("429") || lower.contains("rate") {
                LlmSimFailure::RateLimited
            } else if lower.contains("401") || lower.contains("auth") {
                LlmSimFailure::Authentication
            } else {
                LlmSimFailure::ProviderError
            };
            Self::default().with_failure(kind)
        } else {
            Self::default()
        };
        if let Some(millis) = parse_number(&lower, "-ttft-") {
            ttft = Duration::from_millis(millis);
        }
        config = config.with_latency(ttft, per_token);
        config.context_window = parse_number(&lower, "-ctx-");
        config
    }

    /// Refuses prompts of more than `tokens` (estimated) tokens, as a provider at its context
    /// window does.
    pub fn with_context_window(mut self, tokens: u64) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// The context window, if limited.
    pub fn context_window(&self) -> Option<u64> {
        self.context_window
    }

    /// The delay before the first chunk.
    pub fn time_to_first_token(&self) -> Duration {
        self.time_to_first_token
    }

    /// The delay between later deltas.
    pub fn per_token(&self) -> Duration {
        self.per_token
    }

    /// The injected failure and the fraction of calls it affects, if any.
    pub fn failure(&self) -> Option<(LlmSimFailure, f64)> {
        self.failure
    }

    /// Whether this call is selected to fail, and how.
    fn pick_failure(&self) -> Option<LlmSimFailure> {
        let (kind, rate) = self.failure?;
        if rate.is_nan() || rate <= 0.0 {
            return None;
        }
        if rate >= 1.0 {
            return Some(kind);
        }
        // 53 random bits of a v4 UUID (the version and variant bits sit above them).
        let bits = Uuid::new_v4().as_u128() & ((1u128 << 53) - 1);
        let sample = bits as f64 / (1u64 << 53) as f64;
        (sample < rate).then_some(kind)
    }
}

/// Reads the number after the first `marker` (`-ttft-`, `-ctx-`) in a (lowercase) model name.
fn parse_number(lower: &str, marker: &str) -> Option<u64> {
    let (_, rest) = lower.split_once(marker)?;
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

/// A [`ChatDriver`] that simulates an LLM; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct LlmSimDriver {
    config: LlmSimConfig,
    model: String,
}

impl LlmSimDriver {
    /// A simulator with the given behaviour, reporting `model` as the answering model
    /// (`llmsim-model` when empty).
    pub fn new(config: LlmSimConfig, model: impl Into<String>) -> Self {
        Self { config, model: model.into() }
    }

    /// The behaviour of this driver.
    pub fn config(&self) -> &LlmSimConfig {
        &self.config
    }

    /// The model name given at construction.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Builds the whole response for a request.
    fn respond(&self, request: &ChatRequest) -> Vec<ChatChunk> {
        let (text, tool_calls) = match &self.config.mode {
            Mode::Fixed(text) => (text.clone(), Vec::new()),
            Mode::Echo => (format!("Echo: {}", last_user_text(&request.messages)), Vec::new()),
            Mode::Lorem(words) => (lorem_text(*words), Vec::new()),
            Mode::ToolCalling => tool_calling_reply(request),
        };
        let deltas = word_deltas(&text);
        let output_tokens = (deltas.len() + tool_calls.len()) as u64;
        let finish_reason = if tool_calls.is_empty() { "stop" } else { "tool_calls" };
        let model = if !self.model.is_empty() {
            self.model.clone()
        } else if !request.model.is_empty() {
            request.model.clone()
        } else {
            DEFAULT_MODEL_NAME.to_owned()
        };

        let mut chunks = Vec::with_capacity(deltas.len() + tool_calls.len() + 2);
        chunks.extend(deltas.into_iter().map(ChatChunk::TextDelta));
        chunks.extend(tool_calls.into_iter().map(ChatChunk::ToolCall));
        chunks.push(ChatChunk::Usage(TokenUsage {
            input_tokens: estimate_input_tokens(request),
            output_tokens,
            cache_read_tokens: None,
            cache_creation_tokens: None,
        }));
        chunks.push(ChatChunk::Finished(ChatFinish {
            finish_reason: Some(finish_reason.to_owned()),
            response_id: Some(format!("llmsim-resp-{}", Uuid::new_v4().simple())),
            model: Some(model),
        }));
        chunks
    }
}

#[async_trait::async_trait]
impl ChatDriver for LlmSimDriver {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        if let Some(kind) = self.config.pick_failure() {
            tracing::debug!(?kind, model = %self.model, "llmsim: injecting a failure");
            // A provider's error, too, comes after a moment.
            if !self.config.time_to_first_token.is_zero() {
                tokio::time::sleep(self.config.time_to_first_token).await;
            }
            return Err(kind.to_error());
        }
        if let Some(window) = self.config.context_window {
            let tokens = estimate_input_tokens(&request);
            if tokens > window {
                // The shape of the providers' answer (OpenAI `context_length_exceeded`, Anthropic
                // "prompt is too long"): a 400 of the request-too-large class.
                return Err(DriverError {
                    kind: DriverErrorKind::RequestTooLarge,
                    ..DriverError::from_status(
                        400,
                        format!("llmsim: prompt is too long: {tokens} tokens > {window} maximum context length"),
                    )
                });
            }
        }
        let chunks = self.respond(&request);
        let ttft = self.config.time_to_first_token;
        let per_token = self.config.per_token;
        if ttft.is_zero() && per_token.is_zero() {
            return Ok(Box::pin(stream::iter(chunks.into_iter().map(Ok))));
        }
        Ok(Box::pin(paced(chunks, ttft, per_token)))
    }
}

/// Streams `chunks`, sleeping `ttft` before the first one and `per_token` before each later
/// text delta or tool call.
fn paced(
    chunks: Vec<ChatChunk>,
    ttft: Duration,
    per_token: Duration,
) -> impl futures::Stream<Item = Result<ChatChunk, DriverError>> + Send + 'static {
    stream::unfold((chunks.into_iter(), true), move |(mut rest, first)| async move {
        let chunk = rest.next()?;
        let delay = if first {
            ttft
        } else if matches!(chunk, ChatChunk::TextDelta(_) | ChatChunk::ToolCall(_)) {
            per_token
        } else {
            Duration::ZERO
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok(chunk), (rest, false)))
    })
}

/// Registers the simulator under [`DriverId::LlmSim`], choosing each driver's behaviour from its
/// model name and the pace its provider's metadata carries ([`LlmSimConfig::for_model_paced`],
/// [`LlmSimPacing::from_metadata`]; none: instant). Panics if `llmsim` is already registered.
pub fn register_driver(registry: &mut DriverRegistry) {
    registry.register(DriverId::LlmSim, |config| {
        let pacing = LlmSimPacing::from_metadata(&config.metadata);
        Box::new(LlmSimDriver::new(LlmSimConfig::for_model_paced(&config.model, pacing), config.model.clone()))
    });
}

/// Registers (or replaces) the simulator under [`DriverId::LlmSim`] with a fixed behaviour; the
/// reported model name still comes from the driver config.
pub fn register_with_config(registry: &mut DriverRegistry, config: LlmSimConfig) {
    registry.register_or_replace(DriverId::LlmSim, move |driver_config| {
        Box::new(LlmSimDriver::new(config.clone(), driver_config.model.clone()))
    });
}
