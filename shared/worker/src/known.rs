//! [`KnownConversations`]: the conversations a worker keeps between iterations, so that the
//! next context of a session carries only what it does not hold.
//!
//! A context says how many of its conversation's leading messages every later fold of the
//! session begins with (`history_stable`). The worker keeps those messages with the sequence the
//! fold was through, names them in its next context request for the session, and the control
//! plane leaves them out (`history_offset`). Correct in any process and after any crash: a fold
//! is a function of the session's append-only events, so what one control-plane instance called
//! stable through sequence n begins the fold any instance makes through a later sequence; a
//! control plane that cannot tell (an older fold, or none) sends the whole conversation.
//!
//! Bounded in sessions and in the JSON the kept messages hold; the least recently used goes first.

use std::collections::HashMap;
use std::sync::Mutex;

use everruns_core::domain::Conversation;
use everruns_core::ids::SessionId;

/// Sessions whose conversations are kept.
pub const KNOWN_SESSIONS: usize = 128;
/// The most message JSON kept across sessions (the parsed messages take a few times that).
pub const KNOWN_BYTES: usize = 16 * 1024 * 1024;

/// What is kept of one session.
struct Known {
    /// The sequence the conversation was the fold through.
    through: i64,
    /// Its stable messages.
    messages: Conversation,
    /// Their JSON length.
    bytes: usize,
    /// When last used (a counter).
    used: u64,
}

/// Session → the stable messages of its latest context.
pub struct KnownConversations {
    entries: Mutex<Entries>,
    sessions: usize,
    bytes: usize,
}

#[derive(Default)]
struct Entries {
    by_session: HashMap<SessionId, Known>,
    bytes: usize,
    clock: u64,
}

impl Default for KnownConversations {
    fn default() -> Self {
        Self::new(KNOWN_SESSIONS, KNOWN_BYTES)
    }
}

impl KnownConversations {
    /// A cache of at most `sessions` sessions and `bytes` of message JSON.
    pub fn new(sessions: usize, bytes: usize) -> Self {
        Self { entries: Mutex::default(), sessions, bytes }
    }

    /// What the worker holds of a session: the sequence and the messages (an empty conversation
    /// and 0 when nothing).
    pub fn get(&self, session: SessionId) -> (i64, Conversation) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.clock += 1;
        let clock = entries.clock;
        match entries.by_session.get_mut(&session) {
            Some(known) => {
                known.used = clock;
                (known.through, known.messages.clone())
            }
            None => (0, Conversation::default()),
        }
    }

    /// Keeps the stable messages of a context's conversation, unless what is kept of the session
    /// is from a later fold already. A conversation that is not a fold, or has nothing stable,
    /// changes nothing.
    pub fn keep(&self, session: SessionId, history: &Conversation) {
        let (Some(through), stable) = (history.through(), history.stable()) else { return };
        if stable == 0 {
            return;
        }
        let messages = history.take(stable);
        let bytes = messages.json_len();
        if bytes > self.bytes {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.by_session.get(&session).is_some_and(|known| known.through > through) {
            return;
        }
        entries.clock += 1;
        let used = entries.clock;
        if let Some(old) = entries.by_session.insert(session, Known { through, messages, bytes, used }) {
            entries.bytes -= old.bytes;
        }
        entries.bytes += bytes;
        while entries.by_session.len() > self.sessions || entries.bytes > self.bytes {
            let Some(oldest) = entries.by_session.iter().min_by_key(|(_, known)| known.used).map(|(id, _)| *id) else {
                break;
            };
            if let Some(gone) = entries.by_session.remove(&oldest) {
                entries.bytes -= gone.bytes;
            }
        }
    }

    /// Forgets a session (its context could not be put together from what was kept).
    pub fn forget(&self, session: SessionId) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gone) = entries.by_session.remove(&session) {
            entries.bytes -= gone.bytes;
        }
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).by_session.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use everruns_core::domain::Message;

    use super::*;

    fn fold(texts: &[&str], through: i64, stable: usize) -> Conversation {
        let messages: Conversation = texts.iter().map(|t| Message::user_text(*t)).collect();
        messages.folded_through(through).with_stable(stable)
    }

    #[test]
    fn the_stable_messages_of_the_latest_fold_are_kept() {
        let known = KnownConversations::default();
        let session = SessionId::new();
        assert_eq!(known.get(session).0, 0);

        known.keep(session, &fold(&["a", "b", "c"], 5, 2));
        let (through, messages) = known.get(session);
        assert_eq!((through, messages.len()), (5, 2));

        // An older context (a slow reply overtaken) does not replace a later one.
        known.keep(session, &fold(&["a"], 3, 1));
        assert_eq!(known.get(session).0, 5);
        known.keep(session, &fold(&["a", "b", "c", "d"], 9, 3));
        assert_eq!((known.get(session).0, known.get(session).1.len()), (9, 3));

        // Not a fold, or nothing stable: nothing changes.
        known.keep(SessionId::new(), &fold(&["a", "b"], 0, 1));
        known.keep(SessionId::new(), &fold(&["a", "b"], 4, 0));
        assert_eq!(known.len(), 1);
        known.forget(session);
        assert!(known.is_empty());
    }

    #[test]
    fn the_least_recently_used_go_first_past_either_bound() {
        let one = fold(&["x"], 1, 1).json_len();
        let known = KnownConversations::new(2, 3 * one);
        let [a, b, c] = [SessionId::new(), SessionId::new(), SessionId::new()];
        known.keep(a, &fold(&["x"; 4], 1, 1));
        known.keep(b, &fold(&["x"; 4], 1, 1));
        let _ = known.get(a);
        known.keep(c, &fold(&["x"; 4], 1, 1));
        assert_eq!((known.get(a).0, known.get(b).0, known.get(c).0), (1, 0, 1), "b was least recently used");

        // Bytes: a session holding most of the room pushes the others out.
        known.keep(b, &fold(&["x"; 4], 2, 3));
        assert_eq!(known.get(b).0, 2);
        assert_eq!(known.len(), 1, "{} sessions", known.len());
        // One larger than the whole room is not kept at all.
        known.keep(a, &fold(&["x"; 4], 3, 4));
        assert_eq!(known.get(a).0, 0);
    }
}
