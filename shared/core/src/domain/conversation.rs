//! [`Conversation`]: a session's messages as one iteration uses them — in its context, in each
//! model request and in each `llm.generation` — shared rather than copied at every step, each
//! message serialized at most once.

use std::sync::{Arc, OnceLock};

use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::Message;

/// Messages, oldest first. Cloning one is a reference count; [`push`](Self::push) on a shared list
/// copies its pointers, never the messages. Each message keeps its JSON once it has been written
/// (or read, through [`from_json`](Self::from_json)), so a conversation that grows by a message
/// per turn costs one message's serialization per turn, not the whole list's.
///
/// A conversation taken from a session's fold also knows the sequence it was folded through
/// ([`through`](Self::through)): it is then exactly what a fold of the session's stored events up
/// to that sequence gives, which lets a store keep a reference instead of the list. Any change
/// forgets it.
#[derive(Debug, Clone, Default)]
pub struct Conversation(Arc<Vec<Arc<Settled>>>, Option<i64>);

/// A message of a conversation and, once known, its JSON.
#[derive(Debug)]
struct Settled {
    message: Message,
    json: OnceLock<Box<RawValue>>,
}

impl Settled {
    fn new(message: Message) -> Arc<Self> {
        Arc::new(Self { message, json: OnceLock::new() })
    }

    fn json(&self) -> serde_json::Result<&RawValue> {
        if let Some(json) = self.json.get() {
            return Ok(json);
        }
        let raw = serde_json::value::to_raw_value(&self.message)?;
        Ok(self.json.get_or_init(|| raw))
    }
}

impl Conversation {
    /// The same messages, known to be the fold of the session's events through `sequence`.
    pub fn folded_through(mut self, sequence: i64) -> Self {
        self.1 = (sequence > 0).then_some(sequence);
        self
    }

    /// The sequence this conversation is the fold through, if it is one unchanged.
    pub fn through(&self) -> Option<i64> {
        self.1
    }

    /// Appends a message.
    pub fn push(&mut self, message: Message) {
        self.1 = None;
        Arc::make_mut(&mut self.0).push(Settled::new(message));
    }

    /// Appends every message of `messages`, leaving it empty.
    pub fn append(&mut self, messages: &mut Vec<Message>) {
        self.1 = None;
        Arc::make_mut(&mut self.0).extend(messages.drain(..).map(Settled::new));
    }

    /// The first `count` messages (the fold reference is kept only when nothing is cut).
    pub fn take(&self, count: usize) -> Self {
        if count >= self.len() {
            return self.clone();
        }
        Self(Arc::new(self.0[..count].to_vec()), None)
    }

    /// The last message, to change in place (its JSON is written again when next needed).
    pub fn last_mut(&mut self) -> Option<&mut Message> {
        self.1 = None;
        let last = Arc::make_mut(&mut self.0).last_mut()?;
        if Arc::get_mut(last).is_none() {
            *last = Settled::new(last.message.clone());
        }
        let settled = Arc::get_mut(last)?;
        settled.json = OnceLock::new();
        Some(&mut settled.message)
    }

    /// How many messages there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message at `index`.
    pub fn get(&self, index: usize) -> Option<&Message> {
        self.0.get(index).map(|s| &s.message)
    }

    /// The first message.
    pub fn first(&self) -> Option<&Message> {
        self.get(0)
    }

    /// The last message.
    pub fn last(&self) -> Option<&Message> {
        self.0.last().map(|s| &s.message)
    }

    /// The messages in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter(self.0.iter())
    }

    /// The messages, copied.
    pub fn to_vec(&self) -> Vec<Message> {
        self.iter().cloned().collect()
    }

    /// Reads a JSON array of messages, keeping each message's JSON as it came.
    pub fn from_json(json: &str) -> serde_json::Result<Self> {
        let raws: Vec<&RawValue> = serde_json::from_str(json)?;
        let mut settled = Vec::with_capacity(raws.len());
        for raw in raws {
            let message = serde_json::from_str(raw.get())?;
            settled.push(Arc::new(Settled { message, json: OnceLock::from(raw.to_owned()) }));
        }
        Ok(Self(Arc::new(settled), None))
    }

    /// Each message's JSON, in order (written once and kept).
    pub fn messages_json(&self) -> impl Iterator<Item = serde_json::Result<&str>> {
        self.0.iter().map(|settled| settled.json().map(RawValue::get))
    }

    /// Writes the messages into `seq` (one element each), from their kept JSON where possible.
    pub(crate) fn serialize_into<S: SerializeSeq>(&self, seq: &mut S) -> Result<(), S::Error> {
        for settled in self.0.iter() {
            match settled.json() {
                Ok(json) => seq.serialize_element(json)?,
                Err(_) => seq.serialize_element(&settled.message)?,
            }
        }
        Ok(())
    }
}

/// The messages of a [`Conversation`], in order.
#[derive(Debug, Clone)]
pub struct Iter<'a>(std::slice::Iter<'a, Arc<Settled>>);

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Message;

    fn next(&mut self) -> Option<&'a Message> {
        self.0.next().map(|s| &s.message)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|s| &s.message)
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Conversation {
    type Item = &'a Message;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl std::ops::Index<usize> for Conversation {
    type Output = Message;

    fn index(&self, index: usize) -> &Message {
        &self.0[index].message
    }
}

impl PartialEq for Conversation {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl From<Vec<Message>> for Conversation {
    fn from(messages: Vec<Message>) -> Self {
        Self(Arc::new(messages.into_iter().map(Settled::new).collect()), None)
    }
}

impl FromIterator<Message> for Conversation {
    fn from_iter<I: IntoIterator<Item = Message>>(iter: I) -> Self {
        Self(Arc::new(iter.into_iter().map(Settled::new).collect()), None)
    }
}

impl Serialize for Conversation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        self.serialize_into(&mut seq)?;
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Conversation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Message>::deserialize(deserializer).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn kept_json_is_the_json_of_the_message_as_it_is_now() {
        let mut conversation: Conversation = vec![Message::user_text("a"), Message::user_text("b")].into();
        let written = serde_json::to_string(&conversation).unwrap();
        assert_eq!(written, serde_json::to_string(&conversation.to_vec()).unwrap());

        // A holder of the earlier list keeps it; the change is the new list's alone.
        let before = conversation.clone();
        conversation.last_mut().unwrap().content.push(crate::domain::ContentPart::text("c"));
        conversation.push(Message::user_text("d"));
        assert_eq!(serde_json::to_string(&before).unwrap(), written);
        assert_eq!(
            serde_json::to_string(&conversation).unwrap(),
            serde_json::to_string(&conversation.to_vec()).unwrap()
        );
        assert_eq!(conversation.len(), 3);
        assert_eq!(before.len(), 2);

        // Read back with its JSON kept, it writes the same text and equals the original.
        let text = serde_json::to_string(&conversation).unwrap();
        let read = Conversation::from_json(&text).unwrap();
        assert_eq!(read, conversation);
        assert_eq!(serde_json::to_string(&read).unwrap(), text);
        assert_eq!(serde_json::to_value(&read).unwrap(), serde_json::to_value(conversation.to_vec()).unwrap());
        assert!(Conversation::from_json("{}").is_err());
        assert!(Conversation::from_json(r#"[{"role":"nobody"}]"#).is_err());
    }
}
