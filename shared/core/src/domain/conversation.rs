//! [`Conversation`]: a session's messages as one iteration uses them — in its context, in each
//! model request and in each `llm.generation` — shared rather than copied at every step.

use std::ops::Deref;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Message;

/// Messages, oldest first, behind a shared pointer: cloning one is a reference count. Reads like a
/// slice (`len`, `iter`, indexing, `for m in &conversation`); [`push`](Self::push) copies the list
/// first if it is shared.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation(Arc<Vec<Message>>);

impl Conversation {
    /// Appends a message (copying the list first if another holder shares it).
    pub fn push(&mut self, message: Message) {
        self.to_mut().push(message);
    }

    /// The list to change in place (copied first if another holder shares it).
    pub fn to_mut(&mut self) -> &mut Vec<Message> {
        Arc::make_mut(&mut self.0)
    }

    /// The messages, copied.
    pub fn to_vec(&self) -> Vec<Message> {
        self.0.as_ref().clone()
    }
}

impl Deref for Conversation {
    type Target = [Message];

    fn deref(&self) -> &[Message] {
        &self.0
    }
}

impl<'a> IntoIterator for &'a Conversation {
    type Item = &'a Message;
    type IntoIter = std::slice::Iter<'a, Message>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl From<Vec<Message>> for Conversation {
    fn from(messages: Vec<Message>) -> Self {
        Self(Arc::new(messages))
    }
}

impl Serialize for Conversation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Conversation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Message>::deserialize(deserializer).map(Self::from)
    }
}
