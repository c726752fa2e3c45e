//! `llm.generation` rows that refer to their conversation instead of holding it.
//!
//! A generation's `messages` are the system message and then the session's conversation as the
//! model saw it — which grows by a turn's messages each turn, so storing it whole made every turn
//! write the session again (decision 63). When the conversation is the session's fold through a
//! sequence ([`SentMessages::reference`]), the row keeps the messages before it and
//! `"conversation": {"through": S, "count": N}`; a read folds the session's stored events
//! through `S` (the conversation's messages are all stored before the generation that used them,
//! and stored events never change) and puts the first `N` messages back, so every reader sees the
//! contract's whole `messages` list.

use everruns_core::events::{Event, EventPayload, LlmGenerationData, PayloadData, SentMessages};
use everruns_core::history::HistoryFold;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The key of the reference in a stored generation's data.
const REFERENCE: &str = "conversation";

/// The event types a conversation is folded from.
pub(crate) const FOLDED_TYPES: &[&str] =
    &["input.message", "reason.started", "output.message.completed", "tool.completed"];

/// Where a stored generation's conversation is: the fold through `through`, first `count` messages.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct ConversationRef {
    through: i64,
    count: usize,
}

impl ConversationRef {
    /// The sequence the conversation was folded through.
    pub(crate) fn through(&self) -> i64 {
        self.through
    }
}

/// An event's `data` as stored.
pub(crate) enum StoredData<'a> {
    Plain(PayloadData<'a>),
    Referring(Box<Referring>),
}

/// A generation's data with its conversation replaced by a reference.
#[derive(Serialize)]
pub(crate) struct Referring {
    #[serde(flatten)]
    data: LlmGenerationData,
    conversation: ConversationRef,
}

impl<'a> StoredData<'a> {
    pub(crate) fn of(event: &'a Event) -> Self {
        if let EventPayload::LlmGeneration(data) = &event.payload
            && let Some((through, count, head)) = data.messages.reference()
        {
            return Self::Referring(Box::new(Referring {
                data: LlmGenerationData {
                    messages: SentMessages::from(head.to_vec()),
                    output: data.output.clone(),
                    tools: data.tools.clone(),
                    metadata: data.metadata.clone(),
                },
                conversation: ConversationRef { through, count },
            }));
        }
        Self::Plain(event.payload.data())
    }
}

impl Serialize for StoredData<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(data) => data.serialize(serializer),
            Self::Referring(referring) => referring.serialize(serializer),
        }
    }
}

/// Takes a stored generation's reference out of its data (`None` for any other row).
pub(crate) fn take_reference(event_type: &str, data: &mut Value) -> Result<Option<ConversationRef>, serde_json::Error> {
    if event_type != "llm.generation" {
        return Ok(None);
    }
    match data.as_object_mut().and_then(|fields| fields.remove(REFERENCE)) {
        Some(reference) => serde_json::from_value(reference).map(Some),
        None => Ok(None),
    }
}

/// Puts each referring generation's conversation back, from `folded`: the session's events of
/// [`FOLDED_TYPES`] through the largest `through`, in sequence order.
pub(crate) fn complete(events: &mut [(Event, Option<ConversationRef>)], folded: &[Event]) {
    let mut order: Vec<usize> = (0..events.len()).filter(|&i| events[i].1.is_some()).collect();
    order.sort_by_key(|&i| events[i].1.map(|r| r.through));
    let mut fold = HistoryFold::default();
    let mut next = 0;
    for i in order {
        let (event, reference) = &mut events[i];
        let Some(reference) = reference.take() else { continue };
        let upto = folded[next..].iter().take_while(|e| e.sequence.is_some_and(|s| s <= reference.through)).count();
        fold.extend(&folded[next..next + upto]);
        next += upto;
        if let EventPayload::LlmGeneration(data) = &mut event.payload {
            let conversation = fold.messages();
            if conversation.len() < reference.count {
                tracing::warn!(event = %event.id, "a stored generation refers to more messages than its session has");
            }
            let head = std::mem::take(&mut data.messages).to_vec();
            data.messages = SentMessages::new(head, conversation.take(reference.count));
        }
    }
}
