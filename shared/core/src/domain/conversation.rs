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
/// forgets it. A fold may also know how many of its leading messages every later fold of the
/// same session begins with ([`stable`](Self::stable)), which lets a reader that holds them be
/// sent only the rest.
#[derive(Debug, Clone, Default)]
pub struct Conversation(Arc<Vec<Arc<Settled>>>, Option<Fold>);

/// What a conversation taken from a fold knows about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fold {
    /// The sequence it is the fold through.
    through: i64,
    /// Leading messages that later folds keep as they are.
    stable: usize,
}

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
    /// What it knew of its [`stable`](Self::stable) messages is kept.
    pub fn folded_through(mut self, sequence: i64) -> Self {
        let stable = self.stable();
        self.1 = (sequence > 0).then_some(Fold { through: sequence, stable });
        self
    }

    /// The same fold, its first `count` messages (at most all) known to begin every later fold of
    /// the session. Nothing changes on a conversation that is not a fold.
    pub fn with_stable(mut self, count: usize) -> Self {
        let len = self.len();
        if let Some(fold) = self.1.as_mut() {
            fold.stable = count.min(len);
        }
        self
    }

    /// The sequence this conversation is the fold through, if it is one unchanged.
    pub fn through(&self) -> Option<i64> {
        self.1.map(|fold| fold.through)
    }

    /// How many leading messages every later fold of the session begins with, unchanged (0 when
    /// not known, or not a fold).
    pub fn stable(&self) -> usize {
        self.1.map_or(0, |fold| fold.stable)
    }

    /// The first `keep` messages of this conversation (at most all) followed by `rest`'s, shared
    /// rather than copied. Not a fold.
    pub fn spliced(&self, keep: usize, rest: &Conversation) -> Self {
        let keep = keep.min(self.len());
        let mut messages = Vec::with_capacity(keep + rest.len());
        messages.extend(self.0[..keep].iter().cloned());
        messages.extend(rest.0.iter().cloned());
        Self(Arc::new(messages), None)
    }

    /// The conversation from message `from` on (nothing when `from` is past its end). Not a fold.
    pub fn skip(&self, from: usize) -> Self {
        Self(Arc::new(self.0.get(from..).unwrap_or_default().to_vec()), None)
    }

    /// The length of the messages' JSON (written once and kept), separators left out.
    pub fn json_len(&self) -> usize {
        self.messages_json().map(|json| json.map_or(0, str::len)).sum()
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

    /// About how many bytes the messages take as JSON (their kept JSON where it is made, a
    /// guess for the rest): what a buffer that will hold them should reserve.
    pub fn json_len_hint(&self) -> usize {
        self.0.iter().map(|settled| settled.json.get().map_or(128, |json| json.get().len()) + 1).sum()
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

    #[test]
    fn a_fold_keeps_what_it_knows_of_its_stable_messages_until_changed() {
        let texts = ["a", "b", "c"].map(Message::user_text);
        let plain: Conversation = texts.to_vec().into();
        assert_eq!(plain.clone().with_stable(2).stable(), 0, "not a fold: nothing is known");

        let fold = plain.clone().folded_through(7).with_stable(9);
        assert_eq!((fold.through(), fold.stable()), (Some(7), 3), "at most every message");
        let fold = fold.with_stable(2).folded_through(8);
        assert_eq!((fold.through(), fold.stable()), (Some(8), 2), "a new sequence keeps the count");
        let mut changed = fold.clone();
        changed.push(Message::user_text("d"));
        assert_eq!((changed.through(), changed.stable()), (None, 0));

        // Spliced and skipped lists share the messages and are no fold.
        let x = Message::user_text("x");
        let rest: Conversation = vec![x.clone()].into();
        let spliced = fold.spliced(2, &rest);
        assert_eq!(spliced.to_vec(), vec![texts[0].clone(), texts[1].clone(), x]);
        assert_eq!(spliced.through(), None);
        assert_eq!(fold.spliced(10, &rest).len(), 4, "keep is cut to what there is");
        assert_eq!(fold.skip(1).to_vec(), texts[1..].to_vec());
        assert!(fold.skip(5).is_empty());
        assert_eq!(plain.json_len(), 3 * serde_json::to_string(&texts[0]).unwrap().len());
    }
}
