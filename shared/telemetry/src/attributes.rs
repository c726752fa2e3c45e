//! Span names and attribute keys of the Gen-AI trace (semantic conventions plus the Everruns
//! `turn.*` / `tool.success` / `duration_ms` keys the documentation lists).

/// `gen_ai.operation.name`: `invoke_agent`, `reason`, `thinking`, `chat`, `act`, `execute_tool`.
pub const OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.conversation.id`: the session id, on every span.
pub const CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// `gen_ai.system`: the provider (driver id, e.g. `openai`).
pub const SYSTEM: &str = "gen_ai.system";
/// `gen_ai.provider.name`: newer name of [`SYSTEM`], set alongside it.
pub const PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.agent.id`.
pub const AGENT_ID: &str = "gen_ai.agent.id";
/// `gen_ai.request.model`.
pub const REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.response.model`.
pub const RESPONSE_MODEL: &str = "gen_ai.response.model";
/// `gen_ai.response.id`.
pub const RESPONSE_ID: &str = "gen_ai.response.id";
/// `gen_ai.response.finish_reasons` (string array).
pub const FINISH_REASONS: &str = "gen_ai.response.finish_reasons";
/// `gen_ai.usage.input_tokens`.
pub const USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.usage.cache_read_tokens`.
pub const USAGE_CACHE_READ_TOKENS: &str = "gen_ai.usage.cache_read_tokens";
/// `gen_ai.usage.cache_creation_tokens`.
pub const USAGE_CACHE_CREATION_TOKENS: &str = "gen_ai.usage.cache_creation_tokens";
/// `gen_ai.output.type`: `text` or `tool_calls`.
pub const OUTPUT_TYPE: &str = "gen_ai.output.type";
/// `gen_ai.tool.name`.
pub const TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.tool.call.id`.
pub const TOOL_CALL_ID: &str = "gen_ai.tool.call.id";
/// `tool.success`.
pub const TOOL_SUCCESS: &str = "tool.success";
/// `turn.id`.
pub const TURN_ID: &str = "turn.id";
/// `turn.iterations`.
pub const TURN_ITERATIONS: &str = "turn.iterations";
/// `turn.status`: `completed`, `max_iterations`, `failed`, `cancelled`, `sealed` or `evicted`.
pub const TURN_STATUS: &str = "turn.status";
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// `duration_ms`, on every span.
pub const DURATION_MS: &str = "duration_ms";
/// `time_to_first_token_ms`.
pub const TIME_TO_FIRST_TOKEN_MS: &str = "time_to_first_token_ms";

/// Content (only with capture on): the messages sent to the model / the user input of a turn.
pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
/// Content: what the model returned.
pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
/// Content: the tool call's arguments (JSON).
pub const TOOL_CALL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
/// Content: the tool's result or error text.
pub const TOOL_CALL_RESULT: &str = "gen_ai.tool.call.result";
/// Content: the extended-thinking text.
pub const THINKING_CONTENT: &str = "gen_ai.thinking.content";

/// Every content key: none of them appears unless capture is on.
pub const CONTENT_KEYS: &[&str] =
    &[INPUT_MESSAGES, OUTPUT_MESSAGES, TOOL_CALL_ARGUMENTS, TOOL_CALL_RESULT, THINKING_CONTENT];

/// Operation names (and the fixed span names).
pub mod op {
    /// The turn (root span `invoke_agent {turn_id}`).
    pub const INVOKE_AGENT: &str = "invoke_agent";
    /// One reason step.
    pub const REASON: &str = "reason";
    /// Extended thinking inside a reason step.
    pub const THINKING: &str = "thinking";
    /// One LLM call (`chat {model}`).
    pub const CHAT: &str = "chat";
    /// One act step.
    pub const ACT: &str = "act";
    /// One tool call (`execute_tool {name}`).
    pub const EXECUTE_TOOL: &str = "execute_tool";
}
