//! The LLM simulator driver (`llmsim`), used by tests, benchmarks and demo deployments.
//!
//! [`LlmSimDriver`] implements [`ChatDriver`] without any network: it streams a reply chosen by its
//! [`LlmSimConfig`] (fixed text, an echo of the last user message, lorem ipsum, or a tool-calling
//! script that calls one of the offered tools and then reports its result), word by word, followed
//! by a usage chunk and a finish chunk. Latency (time to first token, per-token delay) and failures
//! (always, or for a fraction of calls) can be injected.
//!
//! Selected through the registry ([`register_driver`]), the model name picks the mode
//! ([`LlmSimConfig::for_model`]): `echo`, `tools`, `slow` and `fail` switch modes, and `-ttft-<ms>`
//! (e.g. `llmsim-ttft-2000`) delays the first token and `-ctx-<tokens>` (e.g. `llmsim-echo-ctx-500`)
//! gives the model a context window: a longer prompt is refused the way providers refuse one
//! (HTTP 400, "prompt is too long", [`DriverErrorKind::RequestTooLarge`]); any other name streams
//! [`DEFAULT_RESPONSE`].
//!
//! With zero latency the whole response is built eagerly and returned as a ready stream, so a call
//! never sleeps or yields to the runtime.

use std::time::Duration;

use futures::stream;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::domain::{ContentPart, Conversation, Message, MessageRole, TokenUsage, ToolDefinition};
use crate::driver::{
    ChatChunk, ChatDriver, ChatFinish, ChatRequest, ChatStream, DriverError, DriverErrorKind, ToolCall,
};
use crate::driver_registry::{DriverId, DriverRegistry};

/// The text streamed by the default configuration.
pub const DEFAULT_RESPONSE: &str = "Hello! I'm a simulated LLM response.";

/// The model name reported when the driver was built without one.
pub const DEFAULT_MODEL_NAME: &str = "llmsim-model";

/// Words cycled by [`LlmSimConfig::lorem`].
const LOREM_WORDS: [&str; 19] = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
];

/// Placeholder used for generated string arguments without a better hint.
const EXAMPLE: &str = "example";

/// Nesting depth after which generated tool arguments stop recursing.
const MAX_SCHEMA_DEPTH: usize = 24;

/// Upper bound on generated array lengths.
const MAX_GENERATED_ITEMS: u64 = 16;

/// Upper bound on generated string lengths (for `minLength`).
const MAX_GENERATED_STRING: u64 = 4096;

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
    /// Calls one of the offered tools, then reports its result.
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

    /// Tool-calling script: when the last message holds tool results, answers with them
    /// (`"The tool returned: <json>"` or `"The tool failed: <error>"`); otherwise calls one of the
    /// offered tools (the one named in the last user message, else the first) with arguments
    /// generated from its JSON Schema; without tools, answers `"I have no tools available."`.
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

    /// The configuration selected by a model name (case-insensitive substring matches):
    /// `echo` → [`echo`](Self::echo); `tools` → [`tool_calling`](Self::tool_calling); `slow` →
    /// 40 words of lorem ipsum with a 200 ms time to first token and 60 ms per token; `fail` →
    /// the default text failing every call (with a 503, or a 429 when the name also contains
    /// `429` or `rate`, or a 401 when it contains `401` or `auth`); anything else → the default.
    /// Independently, `-ttft-<ms>` anywhere in the name sets the time to first token.
    pub fn for_model(model: &str) -> Self {
        let lower = model.to_ascii_lowercase();
        let mut config = if lower.contains("echo") {
            Self::echo()
        } else if lower.contains("tools") {
            Self::tool_calling()
        } else if lower.contains("slow") {
            Self::lorem(40).with_latency(Duration::from_millis(200), Duration::from_millis(60))
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
        if let Some(ttft) = parse_number(&lower, "-ttft-") {
            config.time_to_first_token = Duration::from_millis(ttft);
        }
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
/// model name ([`LlmSimConfig::for_model`]). Panics if `llmsim` is already registered.
pub fn register_driver(registry: &mut DriverRegistry) {
    registry.register(DriverId::LlmSim, |config| {
        Box::new(LlmSimDriver::new(LlmSimConfig::for_model(&config.model), config.model.clone()))
    });
}

/// Registers (or replaces) the simulator under [`DriverId::LlmSim`] with a fixed behaviour; the
/// reported model name still comes from the driver config.
pub fn register_with_config(registry: &mut DriverRegistry, config: LlmSimConfig) {
    registry.register_or_replace(DriverId::LlmSim, move |driver_config| {
        Box::new(LlmSimDriver::new(config.clone(), driver_config.model.clone()))
    });
}

/// Splits text into word-sized deltas: each word keeps the whitespace after it (leading
/// whitespace stays with the first word), so the deltas concatenate to the exact text.
fn word_deltas(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut seen_word = false;
    let mut prev_ws = false;
    for (i, c) in text.char_indices() {
        let ws = c.is_whitespace();
        if !ws && prev_ws && seen_word {
            out.push(text[start..i].to_owned());
            start = i;
        }
        seen_word |= !ws;
        prev_ws = ws;
    }
    if start < text.len() {
        out.push(text[start..].to_owned());
    }
    out
}

fn count_words(text: &str) -> u64 {
    // Byte-wise (ASCII whitespace separates): the estimate runs over the whole conversation on
    // every request, and `split_whitespace`'s Unicode tables made it the simulator's main cost.
    let mut words = 0;
    let mut in_word = false;
    for byte in text.bytes() {
        let space = byte.is_ascii_whitespace();
        words += u64::from(!space && !in_word);
        in_word = !space;
    }
    words
}

/// A rough prompt size: words of the system prompt and of every message part (at least 1).
fn estimate_input_tokens(request: &ChatRequest) -> u64 {
    let mut total = count_words(&request.system_prompt);
    for message in request.messages.iter() {
        for part in &message.content {
            total += match part {
                ContentPart::Text { text } => count_words(text),
                ContentPart::ToolCall { name, arguments, .. } => 1 + count_words(name) + json_words(arguments),
                ContentPart::ToolResult { result, error, .. } => {
                    result.as_ref().map_or(0, json_words) + error.as_deref().map_or(0, count_words)
                }
                _ => 1,
            };
        }
    }
    total.max(1)
}

/// Words of a JSON value's compact text, counting punctuation as separators.
fn json_words(value: &Value) -> u64 {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 1,
        Value::String(text) => count_words(text),
        Value::Array(items) => items.iter().map(json_words).sum(),
        Value::Object(fields) => fields.iter().map(|(key, value)| count_words(key) + json_words(value)).sum(),
    }
}

/// The text of the last user message, or `""`.
fn last_user_text(messages: &Conversation) -> String {
    messages.iter().rev().find(|m| m.role == MessageRole::User).map(Message::text).unwrap_or_default()
}

/// Exactly `words` words of lorem ipsum, capitalised and ending with a full stop.
fn lorem_text(words: usize) -> String {
    let mut text = String::with_capacity(words * 7);
    for (i, word) in LOREM_WORDS.iter().cycle().take(words).enumerate() {
        if i == 0 {
            text.push_str("Lorem");
        } else {
            text.push(' ');
            text.push_str(word);
        }
    }
    if words > 0 {
        text.push('.');
    }
    text
}

/// The tool-calling script: the reply text and the tool calls to make.
fn tool_calling_reply(request: &ChatRequest) -> (String, Vec<ToolCall>) {
    if let Some(last) = request.messages.last().filter(|m| m.role == MessageRole::ToolResult) {
        let mut parts = Vec::new();
        for part in &last.content {
            if let ContentPart::ToolResult { result, error, .. } = part {
                match error {
                    Some(error) => parts.push(format!("The tool failed: {error}")),
                    None => {
                        let json = result.as_ref().map_or_else(|| "null".to_owned(), Value::to_string);
                        parts.push(format!("The tool returned: {json}"));
                    }
                }
            }
        }
        let text = if parts.is_empty() { "The tool returned no result.".to_owned() } else { parts.join("\n") };
        return (text, Vec::new());
    }

    let Some(tool) = pick_tool(&request.tools, &last_user_text(&request.messages)) else {
        return ("I have no tools available.".to_owned(), Vec::new());
    };
    let call = ToolCall {
        id: format!("call_{}", Uuid::new_v4().simple()),
        name: tool.name.clone(),
        arguments: generate_arguments(&tool.parameters),
    };
    (format!("Let me use the {} tool.", tool.name), vec![call])
}

/// The tool named in the user text (the longest such name), else the first tool.
fn pick_tool<'a>(tools: &'a [ToolDefinition], user_text: &str) -> Option<&'a ToolDefinition> {
    let lower = user_text.to_lowercase();
    tools
        .iter()
        .filter(|t| !t.name.is_empty() && lower.contains(&t.name.to_lowercase()))
        .fold(None, |best: Option<&ToolDefinition>, t| match best {
            Some(b) if b.name.len() >= t.name.len() => Some(b),
            _ => Some(t),
        })
        .or_else(|| tools.first())
}

/// An arguments object for a tool's JSON Schema (`{}` when the schema does not describe an object).
fn generate_arguments(parameters: &Value) -> Value {
    match generate_value(parameters, "", 0) {
        object @ Value::Object(_) => object,
        _ => Value::Object(Map::new()),
    }
}

/// A value valid against `schema` (best effort), for a property called `name`.
fn generate_value(schema: &Value, name: &str, depth: usize) -> Value {
    let Some(obj) = schema.as_object() else {
        return Value::String(EXAMPLE.to_owned());
    };
    if depth > MAX_SCHEMA_DEPTH {
        return Value::String(EXAMPLE.to_owned());
    }
    if let Some(value) = obj.get("const") {
        return value.clone();
    }
    if let Some(first) = obj.get("enum").and_then(Value::as_array).and_then(|values| values.first()) {
        return first.clone();
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        let mut scalar = None;
        for sub in all {
            match generate_value(sub, name, depth + 1) {
                Value::Object(map) => merged.extend(map),
                other => {
                    scalar.get_or_insert(other);
                }
            }
        }
        if obj.contains_key("properties") || obj.contains_key("required") {
            merged.extend(generate_object(obj, depth));
        }
        return match scalar {
            Some(value) if merged.is_empty() => value,
            _ => Value::Object(merged),
        };
    }
    let explicit_type = schema_type(obj);
    if explicit_type.is_none() {
        let variants = obj.get("anyOf").or_else(|| obj.get("oneOf")).and_then(Value::as_array);
        if let Some(variants) = variants {
            let preferred = variants
                .iter()
                .find(|v| v.get("type").and_then(Value::as_str) != Some("null"))
                .or_else(|| variants.first());
            if let Some(variant) = preferred {
                return generate_value(variant, name, depth + 1);
            }
        }
    }
    let ty = explicit_type.or_else(|| {
        if obj.contains_key("properties") || obj.contains_key("required") {
            Some("object")
        } else if obj.contains_key("items") {
            Some("array")
        } else {
            None
        }
    });
    match ty {
        Some("object") => Value::Object(generate_object(obj, depth)),
        Some("string") => Value::String(generate_string(obj, name)),
        Some("integer") => Value::from(generate_integer(obj)),
        Some("number") => Value::from(generate_number(obj)),
        Some("boolean") => Value::Bool(true),
        Some("array") => generate_array(obj, name, depth),
        Some("null") => Value::Null,
        _ => Value::String(EXAMPLE.to_owned()),
    }
}

/// The schema's `type` (the first non-`null` entry of a type list).
fn schema_type(obj: &Map<String, Value>) -> Option<&str> {
    match obj.get("type")? {
        Value::String(ty) => Some(ty.as_str()),
        Value::Array(types) => {
            let mut names = types.iter().filter_map(Value::as_str);
            let first = names.clone().next();
            names.find(|t| *t != "null").or(first)
        }
        _ => None,
    }
}

/// Every property in `properties`, plus any `required` name missing from it.
fn generate_object(obj: &Map<String, Value>, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(properties) = obj.get("properties").and_then(Value::as_object) {
        for (key, sub) in properties {
            out.insert(key.clone(), generate_value(sub, key, depth + 1));
        }
    }
    if let Some(required) = obj.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !out.contains_key(key) {
                out.insert(key.to_owned(), Value::String(EXAMPLE.to_owned()));
            }
        }
    }
    out
}

fn generate_string(obj: &Map<String, Value>, name: &str) -> String {
    let by_format = match obj.get("format").and_then(Value::as_str) {
        Some("date-time") => Some("2024-01-01T00:00:00Z"),
        Some("date") => Some("2024-01-01"),
        Some("time") => Some("12:00:00"),
        Some("email" | "idn-email") => Some("user@example.com"),
        Some("uri" | "url" | "iri" | "uri-reference" | "iri-reference") => Some("https://example.com"),
        Some("uuid") => Some("00000000-0000-4000-8000-000000000000"),
        Some("ipv4") => Some("127.0.0.1"),
        Some("ipv6") => Some("::1"),
        Some("hostname" | "idn-hostname") => Some("example.com"),
        _ => None,
    };
    let lower = name.to_ascii_lowercase();
    let by_name = || {
        if lower.contains("timezone") || lower == "tz" {
            Some("UTC")
        } else if lower.contains("email") {
            Some("user@example.com")
        } else if lower.contains("url") || lower.contains("uri") {
            Some("https://example.com")
        } else if lower == "path" || lower.ends_with("_path") || lower == "file" {
            Some("/workspace/example.txt")
        } else {
            None
        }
    };
    let mut value = by_format.or_else(by_name).unwrap_or(EXAMPLE).to_owned();

    let len = value.chars().count() as u64;
    if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
        let min = min.min(MAX_GENERATED_STRING);
        for _ in len..min {
            value.push('x');
        }
    }
    if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        if value.chars().count() > max {
            value = value.chars().take(max).collect();
        }
    }
    value
}

/// 2, moved inside any `minimum`/`maximum`/exclusive bounds.
fn generate_integer(obj: &Map<String, Value>) -> i64 {
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64).filter(|v| v.is_finite());
    let mut low = bound("minimum").map(|v| v.ceil() as i64);
    if let Some(exclusive) = bound("exclusiveMinimum") {
        let candidate = (exclusive.floor() as i64).saturating_add(1);
        low = Some(low.map_or(candidate, |l| l.max(candidate)));
    }
    let mut high = bound("maximum").map(|v| v.floor() as i64);
    if let Some(exclusive) = bound("exclusiveMaximum") {
        let candidate = (exclusive.ceil() as i64).saturating_sub(1);
        high = Some(high.map_or(candidate, |h| h.min(candidate)));
    }
    let mut value = 2_i64;
    if let Some(low) = low {
        value = value.max(low);
    }
    if let Some(high) = high {
        value = value.min(high);
    }
    value
}

/// 2.5, moved inside any `minimum`/`maximum`/exclusive bounds.
fn generate_number(obj: &Map<String, Value>) -> f64 {
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64).filter(|v| v.is_finite());
    let min = bound("minimum");
    let max = bound("maximum");
    let exclusive_min = bound("exclusiveMinimum");
    let exclusive_max = bound("exclusiveMaximum");
    let fits = |v: f64| {
        min.is_none_or(|m| v >= m)
            && max.is_none_or(|m| v <= m)
            && exclusive_min.is_none_or(|m| v > m)
            && exclusive_max.is_none_or(|m| v < m)
    };
    if fits(2.5) {
        return 2.5;
    }
    let low = match (min, exclusive_min) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let high = match (max, exclusive_max) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    match (low, high) {
        (Some(low), Some(high)) => low / 2.0 + high / 2.0,
        (Some(low), None) => {
            if fits(low) {
                low
            } else {
                low + low.abs().max(1.0)
            }
        }
        (None, Some(high)) => {
            if fits(high) {
                high
            } else {
                high - high.abs().max(1.0)
            }
        }
        (None, None) => 2.5,
    }
}

/// `[]`, or `minItems` generated items.
fn generate_array(obj: &Map<String, Value>, name: &str, depth: usize) -> Value {
    let count = obj.get("minItems").and_then(Value::as_u64).unwrap_or(0).min(MAX_GENERATED_ITEMS);
    let items = match obj.get("items") {
        Some(Value::Array(tuple)) => tuple.first(),
        other => other,
    };
    let items_schema = items.cloned().unwrap_or(Value::Null);
    Value::Array((0..count).map(|_| generate_value(&items_schema, name, depth + 1)).collect())
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use serde_json::json;
    use tokio::time::Instant;

    use super::*;
    use crate::driver::DriverErrorKind;
    use crate::driver_registry::ResolvedModel;

    fn request(messages: Vec<Message>) -> ChatRequest {
        ChatRequest { model: "llmsim".into(), messages: messages.into(), ..Default::default() }
    }

    async fn run(driver: &dyn ChatDriver, request: ChatRequest) -> Vec<ChatChunk> {
        let stream = driver.chat_stream(request).await.expect("the call succeeds");
        stream.map(|chunk| chunk.expect("no stream error")).collect().await
    }

    fn text_of(chunks: &[ChatChunk]) -> String {
        chunks
            .iter()
            .filter_map(|c| match c {
                ChatChunk::TextDelta(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    fn deltas(chunks: &[ChatChunk]) -> usize {
        chunks.iter().filter(|c| matches!(c, ChatChunk::TextDelta(_))).count()
    }

    fn tool_calls(chunks: &[ChatChunk]) -> Vec<ToolCall> {
        chunks
            .iter()
            .filter_map(|c| match c {
                ChatChunk::ToolCall(call) => Some(call.clone()),
                _ => None,
            })
            .collect()
    }

    fn finish(chunks: &[ChatChunk]) -> ChatFinish {
        match chunks.last() {
            Some(ChatChunk::Finished(finish)) => finish.clone(),
            other => panic!("expected a Finished chunk last, got {other:?}"),
        }
    }

    fn usage(chunks: &[ChatChunk]) -> TokenUsage {
        chunks
            .iter()
            .find_map(|c| match c {
                ChatChunk::Usage(u) => Some(*u),
                _ => None,
            })
            .expect("a usage chunk")
    }

    #[tokio::test]
    async fn fixed_text_streams_word_deltas() {
        let text = "Hello there,  world!\nSecond line ";
        let driver = LlmSimDriver::new(LlmSimConfig::fixed(text), "llmsim-test");
        let chunks = run(&driver, request(vec![Message::user_text("one two three")])).await;
        assert_eq!(text_of(&chunks), text);
        assert_eq!(deltas(&chunks), 5);
        assert!(matches!(&chunks[0], ChatChunk::TextDelta(t) if t == "Hello "));
        let usage = usage(&chunks);
        assert_eq!(usage.output_tokens, 5);
        assert_eq!(usage.input_tokens, 3);
        let finish = finish(&chunks);
        assert_eq!(finish.finish_reason.as_deref(), Some("stop"));
        assert_eq!(finish.model.as_deref(), Some("llmsim-test"));
        let id = finish.response_id.expect("a response id");
        assert!(id.starts_with("llmsim-resp-") && id.len() == "llmsim-resp-".len() + 32);
    }

    #[tokio::test]
    async fn default_config_and_empty_model() {
        let driver = LlmSimDriver::new(LlmSimConfig::default(), "");
        let chunks = run(&driver, ChatRequest::default()).await;
        assert_eq!(text_of(&chunks), DEFAULT_RESPONSE);
        assert_eq!(usage(&chunks).input_tokens, 1);
        assert_eq!(finish(&chunks).model.as_deref(), Some(DEFAULT_MODEL_NAME));
        let a = finish(&run(&driver, ChatRequest::default()).await).response_id;
        assert_ne!(a, finish(&chunks).response_id);
    }

    #[test]
    fn word_deltas_edge_cases() {
        assert!(word_deltas("").is_empty());
        assert_eq!(word_deltas("  "), vec!["  "]);
        assert_eq!(word_deltas(" a b"), vec![" a ", "b"]);
        assert_eq!(word_deltas("héllo wörld"), vec!["héllo ", "wörld"]);
    }

    #[tokio::test]
    async fn echo_repeats_last_user_text() {
        let driver = LlmSimDriver::new(LlmSimConfig::echo(), "m");
        let messages = vec![
            Message::user_text("first"),
            Message::new(MessageRole::Agent, vec![ContentPart::text("reply")]),
            Message::user_text("second message"),
            Message::new(MessageRole::Agent, vec![ContentPart::text("later")]),
        ];
        let chunks = run(&driver, request(messages)).await;
        assert_eq!(text_of(&chunks), "Echo: second message");
        let chunks = run(&driver, request(Vec::new())).await;
        assert_eq!(text_of(&chunks), "Echo: ");
    }

    #[tokio::test]
    async fn lorem_has_exact_word_count() {
        for n in [0, 1, 5, 19, 20, 57] {
            let driver = LlmSimDriver::new(LlmSimConfig::lorem(n), "m");
            let chunks = run(&driver, request(Vec::new())).await;
            let text = text_of(&chunks);
            assert_eq!(text.split_whitespace().count(), n, "{text}");
            assert_eq!(deltas(&chunks), n);
            if n > 0 {
                assert!(text.starts_with("Lorem") && text.ends_with('.'), "{text}");
            }
        }
    }

    fn weather_tool() -> ToolDefinition {
        ToolDefinition::client_side(
            "get_weather",
            "Weather for a city",
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                    "threshold": {"type": "number", "exclusiveMinimum": 10},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "alerts": {"type": "boolean"},
                    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "location": {
                        "type": "object",
                        "properties": {
                            "lat": {"type": "number"},
                            "lon": {"type": "number"},
                            "label": {"type": ["string", "null"]}
                        },
                        "required": ["lat", "lon"]
                    }
                },
                "required": ["city", "days", "unit", "location", "extra"]
            }),
        )
    }

    #[tokio::test]
    async fn tool_calling_calls_then_reports_result() {
        let driver = LlmSimDriver::new(LlmSimConfig::tool_calling(), "llmsim-tools");
        let tools = vec![ToolDefinition::client_side("noop", "", json!({})), weather_tool()];
        let mut req = request(vec![Message::user_text("Please call GET_WEATHER for Paris")]);
        req.tools = tools.clone();
        let chunks = run(&driver, req).await;
        let calls = tool_calls(&chunks);
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        assert_eq!(call.name, "get_weather");
        assert!(call.id.starts_with("call_") && call.id.len() == 37);
        let args = &call.arguments;
        assert_eq!(args["city"], json!("example"));
        assert_eq!(args["days"], json!(2));
        assert!(args["threshold"].as_f64().is_some_and(|v| v > 10.0));
        assert_eq!(args["unit"], json!("celsius"));
        assert_eq!(args["alerts"], json!(true));
        assert_eq!(args["tags"], json!(["example"]));
        assert_eq!(args["location"]["lat"], json!(2.5));
        assert_eq!(args["location"]["lon"], json!(2.5));
        assert_eq!(args["location"]["label"], json!("example"));
        assert_eq!(args["extra"], json!("example"));
        assert_eq!(text_of(&chunks), "Let me use the get_weather tool.");
        assert_eq!(finish(&chunks).finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(usage(&chunks).output_tokens, deltas(&chunks) as u64 + 1);

        // Without a named tool, the first one is called.
        let mut req = request(vec![Message::user_text("do something")]);
        req.tools = tools.clone();
        let calls = tool_calls(&run(&driver, req).await);
        assert_eq!(calls[0].name, "noop");
        assert_eq!(calls[0].arguments, json!({}));

        // Then the tool result is reported.
        let mut req = request(vec![
            Message::user_text("Please call get_weather"),
            Message::new(
                MessageRole::Agent,
                vec![ContentPart::ToolCall {
                    id: call.id.clone(),
                    name: call.name.clone(),
                    arguments: call.arguments.clone(),
                }],
            ),
            Message::new(
                MessageRole::ToolResult,
                vec![ContentPart::ToolResult {
                    tool_call_id: call.id.clone(),
                    result: Some(json!({"temp": 21, "sky": "clear"})),
                    error: None,
                }],
            ),
        ]);
        req.tools = tools.clone();
        let chunks = run(&driver, req).await;
        assert!(tool_calls(&chunks).is_empty());
        let text = text_of(&chunks);
        assert!(
            text.contains(r#"{"sky":"clear","temp":21}"#) || text.contains(r#"{"temp":21,"sky":"clear"}"#),
            "{text}"
        );
        assert!(text.starts_with("The tool returned: "), "{text}");
        assert_eq!(finish(&chunks).finish_reason.as_deref(), Some("stop"));

        // A failed tool.
        let mut req = request(vec![Message::new(
            MessageRole::ToolResult,
            vec![ContentPart::ToolResult { tool_call_id: "call_x".into(), result: None, error: Some("boom".into()) }],
        )]);
        req.tools = tools;
        assert_eq!(text_of(&run(&driver, req).await), "The tool failed: boom");
    }

    #[tokio::test]
    async fn tool_calling_without_tools() {
        let driver = LlmSimDriver::new(LlmSimConfig::tool_calling(), "m");
        let chunks = run(&driver, request(vec![Message::user_text("hi")])).await;
        assert_eq!(text_of(&chunks), "I have no tools available.");
        assert_eq!(finish(&chunks).finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn weird_schemas_do_not_panic() {
        let schemas = [
            json!(null),
            json!(true),
            json!("string"),
            json!({"type": 5}),
            json!({"type": []}),
            json!({"type": "object", "properties": 3, "required": [1, null]}),
            json!({"type": "array", "minItems": u64::MAX}),
            json!({"type": "array", "minItems": 2, "items": [{"type": "integer"}]}),
            json!({"type": "string", "minLength": 1_000_000_000u64, "maxLength": 3}),
            json!({"type": "integer", "exclusiveMinimum": 1e300, "exclusiveMaximum": -1e300}),
            json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}),
            json!({"type": "number", "minimum": 10}),
            json!({"anyOf": [{"type": "null"}, {"type": "integer"}]}),
            json!({"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"const": 1}}}]}),
            json!({"enum": []}),
        ];
        for schema in &schemas {
            let _ = generate_arguments(schema);
            let _ = generate_value(schema, "x", 0);
        }
        assert_eq!(
            generate_value(&json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}), "", 0),
            json!(0.5)
        );
        assert_eq!(generate_value(&json!({"type": "number", "minimum": 10}), "", 0), json!(10.0));
        assert_eq!(generate_value(&json!({"anyOf": [{"type": "null"}, {"type": "integer"}]}), "", 0), json!(2));
        assert_eq!(
            generate_arguments(
                &json!({"allOf": [{"properties": {"a": {"type": "string"}}}, {"properties": {"b": {"const": 1}}}]})
            ),
            json!({"a": "example", "b": 1})
        );
        assert_eq!(generate_value(&json!({"type": "string", "minLength": 10}), "", 0), json!("examplexxx"));
        assert_eq!(generate_value(&json!({"type": "string"}), "timezone", 0), json!("UTC"));

        let mut deep = json!({"type": "string"});
        for _ in 0..200 {
            deep = json!({"type": "object", "properties": {"n": deep}});
        }
        assert!(generate_arguments(&deep).is_object());
    }

    #[tokio::test(start_paused = true)]
    async fn latency_delays_first_token() {
        let config =
            LlmSimConfig::fixed("one two three").with_latency(Duration::from_millis(500), Duration::from_millis(20));
        let driver = LlmSimDriver::new(config, "m");
        let start = Instant::now();
        let mut stream = driver.chat_stream(request(Vec::new())).await.expect("the call succeeds");
        assert!(start.elapsed() < Duration::from_millis(500));
        let first = stream.next().await.expect("a chunk").expect("no error");
        assert_eq!(first, ChatChunk::TextDelta("one ".into()));
        assert!(start.elapsed() >= Duration::from_millis(500));
        let rest: Vec<_> = stream.collect().await;
        assert_eq!(rest.len(), 4);
        assert!(start.elapsed() >= Duration::from_millis(540));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_latency_never_sleeps() {
        let driver = LlmSimDriver::new(LlmSimConfig::lorem(50), "m");
        let start = Instant::now();
        let chunks = run(&driver, request(Vec::new())).await;
        assert_eq!(deltas(&chunks), 50);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn failures_map_to_kinds() {
        let cases = [
            (LlmSimFailure::RateLimited, DriverErrorKind::RateLimited, 429),
            (LlmSimFailure::ProviderError, DriverErrorKind::ProviderUnavailable, 503),
            (LlmSimFailure::Authentication, DriverErrorKind::Authentication, 401),
        ];
        for (failure, kind, status) in cases {
            let driver = LlmSimDriver::new(LlmSimConfig::default().with_failure(failure), "m");
            let Err(error) = driver.chat_stream(request(Vec::new())).await else {
                panic!("{failure:?} should fail");
            };
            assert_eq!(error.kind, kind);
            assert_eq!(error.status, Some(status));
            assert!(error.message.starts_with("llmsim: "));
            let retry_after = (failure == LlmSimFailure::RateLimited).then_some(Duration::from_secs(1));
            assert_eq!(error.retry_after, retry_after);
        }
    }

    #[tokio::test]
    async fn a_prompt_past_the_context_window_is_refused_as_too_large() {
        let driver = LlmSimDriver::new(LlmSimConfig::echo().with_context_window(4), "m");
        let short = vec![Message::user_text("one two three")];
        assert!(driver.chat_stream(request(short)).await.is_ok(), "3 words fit in 4 tokens");
        let long = vec![Message::user_text("one two three four five")];
        let Err(error) = driver.chat_stream(request(long)).await else { panic!("5 words exceed 4 tokens") };
        assert_eq!(error.kind, DriverErrorKind::RequestTooLarge);
        assert_eq!(error.error_code(), "request_too_large");
        assert!(!error.is_retryable(), "a retry cannot make the prompt fit");
    }

    #[tokio::test]
    async fn failure_rates() {
        let never = LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, 0.0), "m");
        let always = LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, 1.0), "m");
        let half = LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, 0.5), "m");
        let nan =
            LlmSimDriver::new(LlmSimConfig::default().with_failure_rate(LlmSimFailure::RateLimited, f64::NAN), "m");
        let mut half_failures = 0;
        for _ in 0..400 {
            assert!(never.chat_stream(request(Vec::new())).await.is_ok());
            assert!(nan.chat_stream(request(Vec::new())).await.is_ok());
            assert!(always.chat_stream(request(Vec::new())).await.is_err());
            if half.chat_stream(request(Vec::new())).await.is_err() {
                half_failures += 1;
            }
        }
        assert!((100..=300).contains(&half_failures), "{half_failures}");
    }

    #[test]
    fn for_model_switches() {
        assert_eq!(LlmSimConfig::for_model("llmsim"), LlmSimConfig::default());
        assert_eq!(LlmSimConfig::for_model(""), LlmSimConfig::default());
        assert_eq!(LlmSimConfig::for_model("LLMSIM-Echo"), LlmSimConfig::echo());
        assert_eq!(LlmSimConfig::for_model("llmsim-tools"), LlmSimConfig::tool_calling());
        let slow = LlmSimConfig::for_model("llmsim-slow");
        assert_eq!(slow.mode, Mode::Lorem(40));
        assert_eq!(slow.time_to_first_token(), Duration::from_millis(200));
        assert_eq!(slow.per_token(), Duration::from_millis(60));
        assert_eq!(LlmSimConfig::for_model("llmsim-fail").failure(), Some((LlmSimFailure::ProviderError, 1.0)));
        assert_eq!(LlmSimConfig::for_model("llmsim-fail-429").failure(), Some((LlmSimFailure::RateLimited, 1.0)));
        assert_eq!(LlmSimConfig::for_model("llmsim-fail-auth").failure(), Some((LlmSimFailure::Authentication, 1.0)));
        assert_eq!(LlmSimConfig::for_model("llmsim-echo-ctx-500").context_window(), Some(500));
        assert_eq!(LlmSimConfig::for_model("llmsim-echo").context_window(), None);

        let ttft = LlmSimConfig::for_model("llmsim-ttft-1500");
        assert_eq!(ttft.time_to_first_token(), Duration::from_millis(1500));
        assert_eq!(ttft.per_token(), Duration::ZERO);
        assert_eq!(ttft.mode, Mode::Fixed(DEFAULT_RESPONSE.into()));
        let echo_ttft = LlmSimConfig::for_model("llmsim-echo-TTFT-250-x");
        assert_eq!(echo_ttft.mode, Mode::Echo);
        assert_eq!(echo_ttft.time_to_first_token(), Duration::from_millis(250));
        let slow_ttft = LlmSimConfig::for_model("slow-ttft-5");
        assert_eq!(slow_ttft.time_to_first_token(), Duration::from_millis(5));
        assert_eq!(slow_ttft.per_token(), Duration::from_millis(60));
        for junk in ["x-ttft-", "x-ttft-abc", "x-ttft-99999999999999999999999", "-ttft-é"] {
            assert_eq!(LlmSimConfig::for_model(junk).time_to_first_token(), Duration::ZERO, "{junk}");
        }
    }

    fn resolved(model: &str) -> ResolvedModel {
        ResolvedModel {
            model: model.into(),
            provider_type: DriverId::LlmSim,
            api_key: None,
            base_url: None,
            provider_metadata: None,
        }
    }

    #[tokio::test]
    async fn register_driver_uses_model_switches() {
        let mut registry = DriverRegistry::new();
        register_driver(&mut registry);
        assert!(registry.contains(&DriverId::LlmSim));
        let driver = registry.create(&resolved("llmsim-echo")).expect("registered");
        let chunks = run(driver.as_ref(), request(vec![Message::user_text("ping")])).await;
        assert_eq!(text_of(&chunks), "Echo: ping");
        assert_eq!(finish(&chunks).model.as_deref(), Some("llmsim-echo"));

        let driver = registry.create(&resolved("anything")).expect("registered");
        assert_eq!(text_of(&run(driver.as_ref(), request(Vec::new())).await), DEFAULT_RESPONSE);
    }

    #[tokio::test]
    async fn register_with_config_replaces() {
        let mut registry = DriverRegistry::new();
        register_driver(&mut registry);
        register_with_config(&mut registry, LlmSimConfig::fixed("scripted"));
        let driver = registry.create(&resolved("llmsim-echo")).expect("registered");
        let chunks = run(driver.as_ref(), request(vec![Message::user_text("ping")])).await;
        assert_eq!(text_of(&chunks), "scripted");
        assert_eq!(finish(&chunks).model.as_deref(), Some("llmsim-echo"));
    }
}
