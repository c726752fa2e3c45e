//! [`SentMessages`]: what an `llm.generation` says was sent to the model — the system message,
//! then the conversation — without copying the conversation into every generation. The
//! conversation part is the same shared list the model request holds; on the wire it is one
//! flat array, as the contract has it.

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{Conversation, Message};

/// Messages sent to a model: a few of its own (the system message), then a shared conversation.
#[derive(Debug, Clone, Default)]
pub struct SentMessages {
    head: Vec<Message>,
    shared: Conversation,
}

impl SentMessages {
    /// `head`, then the shared `conversation`.
    pub fn new(head: Vec<Message>, conversation: Conversation) -> Self {
        Self { head, shared: conversation }
    }

    /// The messages in order.
    pub fn iter(&self) -> impl Iterator<Item = &Message> {
        self.head.iter().chain(self.shared.iter())
    }

    /// About how many bytes the messages take as JSON (see [`Conversation::json_len_hint`]).
    pub fn json_len_hint(&self) -> usize {
        self.head.iter().map(|m| m.text().len() + 128).sum::<usize>() + self.shared.json_len_hint()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.head.len() + self.shared.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The messages, copied into one list.
    pub fn to_vec(&self) -> Vec<Message> {
        self.iter().cloned().collect()
    }

    /// When the shared part is a session's fold through a sequence: that sequence, how many
    /// messages the shared part has, and the messages before it. A store may keep this instead of
    /// the list and rebuild the list by folding the session's events through the sequence.
    pub fn reference(&self) -> Option<(i64, usize, &[Message])> {
        self.shared.through().map(|through| (through, self.shared.len(), self.head.as_slice()))
    }

    /// Only the messages before the shared part (what crosses a process when the other side puts
    /// the shared part back itself).
    pub fn head_only(&self) -> Self {
        Self::from(self.head.clone())
    }

    /// A list read as one array whose last `shared` messages are the session's fold through
    /// `through` (what [`reference`](Self::reference) said before it crossed a process). Unchanged
    /// if it has fewer messages than that.
    pub fn referring(self, through: i64, shared: usize) -> Self {
        if !self.shared.is_empty() || shared > self.head.len() {
            return self;
        }
        let mut head = self.head;
        let tail = head.split_off(head.len() - shared);
        Self { head, shared: Conversation::from(tail).folded_through(through) }
    }
}

impl From<Vec<Message>> for SentMessages {
    fn from(messages: Vec<Message>) -> Self {
        Self { head: messages, shared: Conversation::default() }
    }
}

impl PartialEq for SentMessages {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Serialize for SentMessages {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for message in &self.head {
            seq.serialize_element(message)?;
        }
        self.shared.serialize_into(&mut seq)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for SentMessages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Message>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn one_flat_array_on_the_wire_equal_however_it_is_held() {
        let conversation = Conversation::from(vec![Message::user_text("a"), Message::user_text("b")]);
        let system = Message::user_text("system");
        let shared = SentMessages::new(vec![system.clone()], conversation.clone());
        let flat: SentMessages = vec![system, conversation[0].clone(), conversation[1].clone()].into();
        assert_eq!(shared, flat);
        assert_eq!(shared.len(), 3);
        let json = serde_json::to_value(&shared).unwrap();
        assert_eq!(json, serde_json::to_value(flat.to_vec()).unwrap());
        assert_eq!(serde_json::from_value::<SentMessages>(json).unwrap(), shared);
        assert!(SentMessages::default().is_empty());
        assert_eq!(shared.reference(), None);
    }

    #[test]
    fn a_fold_reference_survives_a_flat_crossing() {
        let conversation = Conversation::from(vec![Message::user_text("a"), Message::user_text("b")]).folded_through(7);
        let sent = SentMessages::new(vec![Message::user_text("system")], conversation);
        let (through, shared, head) = sent.reference().unwrap();
        assert_eq!((through, shared, head.len()), (7, 2, 1));
        let flat: SentMessages = serde_json::from_str(&serde_json::to_string(&sent).unwrap()).unwrap();
        assert_eq!(flat.reference(), None);
        let again = flat.referring(7, 2);
        assert_eq!(again, sent);
        assert_eq!(again.reference().map(|(t, n, h)| (t, n, h.len())), Some((7, 2, 1)));
        // A count larger than the list leaves it as it was.
        assert_eq!(SentMessages::from(vec![Message::user_text("x")]).referring(3, 2).reference(), None);
    }
}
