//! The `data` payload of each event type (contract §4.2). Optional fields are omitted when unset.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::SentMessages;
use crate::domain::{ContentPart, Message, MessagePhase, TokenUsage};
use crate::driver::ToolCall;
use crate::ids::{AgentId, HarnessId, MessageId, ModelId, TurnId};

/// `input.message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessageData {
    /// The stored user message.
    pub message: Message,
}

/// `output.message.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputMessageStartedData {
    /// The turn.
    pub turn_id: TurnId,
    /// Id of the message being produced (same as the completed one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// 1-based iteration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// Phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<MessagePhase>,
}

/// `output.message.delta` (ephemeral).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputMessageDeltaData {
    /// The turn.
    pub turn_id: TurnId,
    /// The message being produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// New text.
    pub delta: String,
    /// All text so far.
    pub accumulated: String,
    /// Phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<MessagePhase>,
}

/// `output.message.replaced`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputMessageReplacedData {
    /// The turn.
    pub turn_id: TurnId,
    /// The replaced message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<MessageId>,
    /// Guardrail capability.
    pub guardrail_capability_id: String,
    /// Guardrail.
    pub guardrail_id: String,
    /// Why.
    pub reason_code: String,
    /// New text.
    pub replacement: String,
}

/// Which model produced an output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    /// Model name.
    pub model: String,
    /// Model row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<ModelId>,
    /// Provider row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
}

/// `output.message.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputMessageCompletedData {
    /// The agent message (tool calls as `tool_call` parts).
    pub message: Message,
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ModelRef>,
    /// Usage of the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// Stable error code when this is a failure message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Error fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_fields: Option<Map<String, Value>>,
    /// Disclosure mode used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_disclosure: Option<String>,
}

/// `turn.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnStartedData {
    /// The turn.
    pub turn_id: TurnId,
    /// The user message.
    pub input_message_id: MessageId,
    /// The user content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_content: Option<Vec<ContentPart>>,
}

/// `turn.completed`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TurnCompletedData {
    /// The turn.
    pub turn_id: TurnId,
    /// Reason/act iterations run.
    pub iterations: u32,
    /// Wall time of the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Usage of the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// The final agent message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_message_id: Option<MessageId>,
    /// First characters of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_answer_preview: Option<String>,
    /// Time to the first token of the first call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token_ms: Option<u64>,
    /// Tool calls made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_count: Option<u32>,
    /// LLM calls made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm_call_count: Option<u32>,
    /// `completed`, or `max_iterations` when the cap ended the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// `turn.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnFailedData {
    /// The turn.
    pub turn_id: TurnId,
    /// Plain-English error.
    pub error: String,
    /// Stable code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Error fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_fields: Option<Map<String, Value>>,
    /// Disclosure mode used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_disclosure: Option<String>,
}

/// `turn.cancelled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnCancelledData {
    /// The turn.
    pub turn_id: TurnId,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Usage so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
}

/// `turn.sealed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnSealedData {
    /// The turn.
    pub turn_id: TurnId,
    /// `no_progress` or `budget`.
    pub reason: String,
    /// Detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Iterations run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// Usage so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
}

/// `reason.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonStartedData {
    /// The harness.
    pub harness_id: HarnessId,
    /// The agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<ModelRef>,
}

/// `reason.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonCompletedData {
    /// Whether the call succeeded.
    pub success: bool,
    /// Whether the model asked for tools.
    pub has_tool_calls: bool,
    /// How many.
    pub tool_call_count: u32,
    /// First 200 characters of the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_preview: Option<String>,
    /// Raw driver error, for operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
}

/// `reason.recovered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonRecoveredData {
    /// The turn.
    pub turn_id: TurnId,
    /// `finalize` or `restart`.
    pub mode: String,
    /// Text length recovered.
    pub accumulated_len: u64,
}

/// `reason.thinking.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonThinkingStartedData {
    /// The turn.
    pub turn_id: TurnId,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// `reason.thinking.delta` (ephemeral).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonThinkingDeltaData {
    /// The turn.
    pub turn_id: TurnId,
    /// New text.
    pub delta: String,
    /// All text so far.
    pub accumulated: String,
}

/// `reason.thinking.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonThinkingCompletedData {
    /// The turn.
    pub turn_id: TurnId,
    /// Full thinking text.
    pub thinking: String,
}

/// `reason.item`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonItemData {
    /// The turn.
    pub turn_id: TurnId,
    /// Provider.
    pub provider: String,
    /// Item id.
    pub item_id: String,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Opaque reasoning content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    /// Summary parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Vec<Value>>,
    /// Tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_count: Option<u64>,
}

/// A tool call as listed by `act.started` and `tool.call_requested` summaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallSummary {
    /// Call id.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// UI label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Narration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narration: Option<String>,
}

/// `act.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActStartedData {
    /// The calls to run.
    pub tool_calls: Vec<ToolCallSummary>,
    /// Headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
}

/// `act.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActCompletedData {
    /// Whether every call ran.
    pub completed: bool,
    /// Successful calls.
    pub success_count: u32,
    /// Failed calls.
    pub error_count: u32,
    /// Duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
}

/// `tool.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolStartedData {
    /// The call.
    pub tool_call: ToolCall,
    /// UI label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Narration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narration: Option<String>,
}

/// `tool.progress`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolProgressData {
    /// The call.
    pub tool_call_id: String,
    /// Tool name.
    pub tool_name: String,
    /// Progress text.
    pub message: String,
    /// UI label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// `tool.output.delta` (ephemeral).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolOutputDeltaData {
    /// The call.
    pub tool_call_id: String,
    /// Tool name.
    pub tool_name: String,
    /// Output text.
    pub delta: String,
    /// `stdout`, `stderr`, …
    pub stream: String,
}

/// `tool.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCompletedData {
    /// The call.
    pub tool_call_id: String,
    /// Tool name (empty for client results, as upstream).
    pub tool_name: String,
    /// Whether it succeeded.
    pub success: bool,
    /// `success`, `error`, `timeout` or `cancelled`.
    pub status: String,
    /// Result parts (text holding JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Vec<ContentPart>>,
    /// Error text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Capability that served the tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability_id: Option<String>,
}

impl ToolCompletedData {
    /// The result of a call a cancel ended before it completed (one of the cancellation's own
    /// events: the transcript stays well formed).
    pub fn cancelled(tool_call_id: String, tool_name: String) -> Self {
        Self {
            tool_call_id,
            tool_name,
            success: false,
            status: "cancelled".into(),
            result: None,
            error: Some("Cancelled by user.".into()),
            duration_ms: None,
            capability_id: None,
        }
    }
}

/// `tool.call_requested`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRequestedData {
    /// Client-side calls.
    pub tool_calls: Vec<ToolCall>,
    /// Summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_summaries: Option<Vec<ToolCallSummary>>,
    /// Headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
}

/// `tool.call_repaired`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRepairedData {
    /// The turn.
    pub turn_id: TurnId,
    /// The call.
    pub tool_call_id: String,
    /// Tool name.
    pub tool_name: String,
    /// `local-salvage`, `re-prompt` or `gave-up`.
    pub outcome: String,
}

/// `transcript.repaired`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptRepairedData {
    /// The call.
    pub tool_call_id: String,
    /// `replay` or `synthesize`.
    pub action: String,
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
}

/// What the model returned, in `llm.generation`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GenerationOutput {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Tool calls.
    #[serde(default)]
    pub tool_calls: Vec<ToolCall>,
}

/// A tool offered to the model, in `llm.generation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationTool {
    /// Tool name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability_id: Option<String>,
}

/// `llm.generation` metadata.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GenerationMetadata {
    /// Model.
    pub model: String,
    /// Whether the call succeeded.
    pub success: bool,
    /// Provider (driver id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// Duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Time to first token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token_ms: Option<u64>,
    /// Error text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Finish reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reasons: Option<Vec<String>>,
    /// Provider response id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
}

/// `llm.generation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmGenerationData {
    /// Messages sent, including the system prompt (the conversation shared, not copied).
    pub messages: SentMessages,
    /// What came back.
    pub output: GenerationOutput,
    /// Tools offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<GenerationTool>>,
    /// Call metadata.
    pub metadata: GenerationMetadata,
}

/// One `capability.usage` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityUsageRecord {
    /// Capability.
    pub capability_id: String,
    /// `configured`, `resolved`, `exposed`, `invoked` or `effect_ran`.
    pub usage_kind: String,
    /// Capability name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability_name: Option<String>,
    /// Tool name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_count: Option<u64>,
    /// Duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// `capability.usage`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityUsageData {
    /// Records.
    pub records: Vec<CapabilityUsageRecord>,
}

/// `session.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStartedData {
    /// The harness.
    pub harness_id: HarnessId,
    /// The agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<AgentId>,
    /// The model override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<ModelId>,
}

/// `session.activated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionActivatedData {
    /// The turn.
    pub turn_id: TurnId,
    /// The user message.
    pub input_message_id: MessageId,
}

/// `session.idled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionIdledData {
    /// The turn that ended.
    pub turn_id: TurnId,
    /// Its iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
    /// Cumulative session usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
}

/// `context.compacting`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextCompactingData {
    /// Why.
    pub reason: String,
    /// Strategy.
    pub strategy: String,
    /// Messages before.
    pub messages_before: u64,
}

/// `context.compacted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextCompactedData {
    /// Strategy used.
    pub strategy_used: String,
    /// Messages before.
    pub messages_before: u64,
    /// Messages after.
    pub messages_after: u64,
    /// Duration.
    pub duration_ms: u64,
    /// Steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Value>>,
}

/// `file.written`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileWrittenData {
    /// Path.
    pub path: String,
    /// Operation.
    pub operation: String,
    /// Whether the file is new.
    pub created: bool,
    /// Size.
    pub size_bytes: u64,
}

/// `budget.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetData {
    /// Budget.
    pub budget_id: String,
    /// Balance.
    pub balance: f64,
    /// Limit.
    pub limit: f64,
    /// Currency.
    pub currency: String,
    /// Soft limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit: Option<f64>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `task.created` / `task.updated`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSnapshotData {
    /// Full task snapshot.
    pub task: Value,
}

/// `task.message.*`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskMessageData {
    /// Task.
    pub task_id: String,
    /// Message.
    pub message: Value,
}

/// `voice.*` (out of scope; kept as given).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VoiceData {
    /// The fields, as given.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}
