//! The one registry of event types: the typed payload enum, the list of valid type strings, and
//! which of them are ephemeral. All three come from one table, so they cannot drift apart.

use serde::{Deserialize, Serialize};

use super::data::*;

/// A type string that is not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type '{0}'")]
pub struct UnknownEventType(pub String);

macro_rules! event_catalog {
    ($( $(#[$doc:meta])* $variant:ident($data:ty) = $name:literal $(, $ephemeral:ident)? ;)*) => {
        /// The `type` and `data` of an event, typed per the catalog.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        pub enum EventPayload {
            $( $(#[$doc])* #[serde(rename = $name)] $variant($data), )*
        }

        impl EventPayload {
            /// The type string.
            pub fn event_type(&self) -> &'static str {
                match self { $( Self::$variant(_) => $name, )* }
            }

            /// The `data` alone, to serialize without the `type` tag (as stores keep it).
            pub fn data(&self) -> PayloadData<'_> {
                PayloadData(self)
            }

            /// The payload of an event of type `event_type` from its `data` alone, deserialized
            /// straight into the variant's type (no intermediate buffering).
            pub fn from_data<'de, D: serde::Deserializer<'de>>(event_type: &str, data: D) -> Result<Self, D::Error> {
                match event_type {
                    $( $name => <$data as Deserialize>::deserialize(data).map(Self::$variant), )*
                    other => Err(serde::de::Error::custom(UnknownEventType(other.to_owned()))),
                }
            }
        }

        /// The `data` of a payload, serialized straight from its typed form.
        #[derive(Debug, Clone, Copy)]
        pub struct PayloadData<'a>(&'a EventPayload);

        impl Serialize for PayloadData<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self.0 { $( EventPayload::$variant(data) => data.serialize(serializer), )* }
            }
        }

        /// Every valid event type string.
        pub const EVENT_TYPES: &[&str] = &[ $( $name, )* ];

        /// The types that are pushed live but never stored (contract §4.3).
        pub const EPHEMERAL_EVENT_TYPES: &[&str] = &[ $( $( event_catalog!(@eph $ephemeral $name), )? )* ];
    };
    (@eph ephemeral $name:literal) => { $name };
}

event_catalog! {
    /// A user message was stored.
    InputMessage(InputMessageData) = "input.message";
    /// The model started an answer.
    OutputMessageStarted(OutputMessageStartedData) = "output.message.started";
    /// A piece of the answer (ephemeral).
    OutputMessageDelta(OutputMessageDeltaData) = "output.message.delta", ephemeral;
    /// A guardrail replaced the answer.
    OutputMessageReplaced(OutputMessageReplacedData) = "output.message.replaced";
    /// The model's answer, complete.
    OutputMessageCompleted(OutputMessageCompletedData) = "output.message.completed";
    /// A turn started.
    TurnStarted(TurnStartedData) = "turn.started";
    /// A turn completed.
    TurnCompleted(TurnCompletedData) = "turn.completed";
    /// A turn failed.
    TurnFailed(TurnFailedData) = "turn.failed";
    /// A turn was cancelled.
    TurnCancelled(TurnCancelledData) = "turn.cancelled";
    /// A turn was sealed (no progress or budget).
    TurnSealed(TurnSealedData) = "turn.sealed";
    /// A reason step started.
    ReasonStarted(ReasonStartedData) = "reason.started";
    /// A reason step completed.
    ReasonCompleted(ReasonCompletedData) = "reason.completed";
    /// A reason step recovered from a broken stream.
    ReasonRecovered(ReasonRecoveredData) = "reason.recovered";
    /// Extended thinking started.
    ReasonThinkingStarted(ReasonThinkingStartedData) = "reason.thinking.started";
    /// A piece of thinking (ephemeral).
    ReasonThinkingDelta(ReasonThinkingDeltaData) = "reason.thinking.delta", ephemeral;
    /// Thinking completed.
    ReasonThinkingCompleted(ReasonThinkingCompletedData) = "reason.thinking.completed";
    /// A provider reasoning item.
    ReasonItem(ReasonItemData) = "reason.item";
    /// An act step started.
    ActStarted(ActStartedData) = "act.started";
    /// An act step completed.
    ActCompleted(ActCompletedData) = "act.completed";
    /// A tool started.
    ToolStarted(ToolStartedData) = "tool.started";
    /// A tool reported progress.
    ToolProgress(ToolProgressData) = "tool.progress";
    /// Tool output (ephemeral).
    ToolOutputDelta(ToolOutputDeltaData) = "tool.output.delta", ephemeral;
    /// A tool completed.
    ToolCompleted(ToolCompletedData) = "tool.completed";
    /// Client-side tool calls await results.
    ToolCallRequested(ToolCallRequestedData) = "tool.call_requested";
    /// A malformed tool call was repaired.
    ToolCallRepaired(ToolCallRepairedData) = "tool.call_repaired";
    /// The transcript was repaired.
    TranscriptRepaired(TranscriptRepairedData) = "transcript.repaired";
    /// One LLM call, with what was sent and received.
    LlmGeneration(LlmGenerationData) = "llm.generation";
    /// Capability usage records.
    CapabilityUsage(CapabilityUsageData) = "capability.usage";
    /// A session started.
    SessionStarted(SessionStartedData) = "session.started";
    /// A session became active.
    SessionActivated(SessionActivatedData) = "session.activated";
    /// A session became idle.
    SessionIdled(SessionIdledData) = "session.idled";
    /// Context compaction started.
    ContextCompacting(ContextCompactingData) = "context.compacting";
    /// Context compaction finished.
    ContextCompacted(ContextCompactedData) = "context.compacted";
    /// A workspace file was written.
    FileWritten(FileWrittenData) = "file.written";
    /// A budget is near its limit.
    BudgetWarning(BudgetData) = "budget.warning";
    /// A budget paused the session.
    BudgetPaused(BudgetData) = "budget.paused";
    /// A budget is exhausted.
    BudgetExhausted(BudgetData) = "budget.exhausted";
    /// A budget resumed.
    BudgetResumed(BudgetData) = "budget.resumed";
    /// A task was created.
    TaskCreated(TaskSnapshotData) = "task.created";
    /// A task was updated.
    TaskUpdated(TaskSnapshotData) = "task.updated";
    /// A task message was sent.
    TaskMessageSent(TaskMessageData) = "task.message.sent";
    /// A task message was received.
    TaskMessageReceived(TaskMessageData) = "task.message.received";
    /// A voice session started.
    VoiceSessionStarted(VoiceData) = "voice.session.started";
    /// A voice session ended.
    VoiceSessionEnded(VoiceData) = "voice.session.ended";
    /// A voice session failed.
    VoiceSessionFailed(VoiceData) = "voice.session.failed";
    /// Input transcript (ephemeral).
    VoiceInputTranscriptDelta(VoiceData) = "voice.input_transcript.delta", ephemeral;
    /// Input transcript, complete.
    VoiceInputTranscriptCompleted(VoiceData) = "voice.input_transcript.completed";
    /// Output transcript (ephemeral).
    VoiceOutputTranscriptDelta(VoiceData) = "voice.output_transcript.delta", ephemeral;
    /// Output transcript, complete.
    VoiceOutputTranscriptCompleted(VoiceData) = "voice.output_transcript.completed";
}

/// Whether the type is ephemeral (pushed live, never stored).
pub fn is_ephemeral(event_type: &str) -> bool {
    EPHEMERAL_EVENT_TYPES.contains(&event_type)
}

/// Checks a type string against the registry, returning the canonical static string.
pub fn validate_event_type(event_type: &str) -> Result<&'static str, UnknownEventType> {
    EVENT_TYPES
        .iter()
        .copied()
        .find(|t| *t == event_type)
        .ok_or_else(|| UnknownEventType(event_type.chars().take(100).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_is_consistent() {
        let mut sorted = EVENT_TYPES.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), EVENT_TYPES.len(), "type strings are unique");
        assert_eq!(
            EPHEMERAL_EVENT_TYPES,
            &[
                "output.message.delta",
                "reason.thinking.delta",
                "tool.output.delta",
                "voice.input_transcript.delta",
                "voice.output_transcript.delta"
            ]
        );
        assert!(validate_event_type("turn.completed").is_ok());
        assert!(validate_event_type("subagent.started").is_err());
        assert!(validate_event_type("").is_err());
    }

    #[test]
    fn payload_serializes_as_type_and_data() {
        let payload = EventPayload::SessionActivated(SessionActivatedData {
            turn_id: crate::ids::TurnId::new(),
            input_message_id: crate::ids::MessageId::new(),
        });
        let value = serde_json::to_value(&payload).unwrap_or_default();
        assert_eq!(value["type"], "session.activated");
        assert!(value["data"]["turn_id"].as_str().is_some_and(|s| s.starts_with("turn_")));
        let back: EventPayload = serde_json::from_value(value).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, payload);
    }
}
