//! The per-session cache of conversation folds that keeps an iteration's context load flat: a
//! turn reads only the events stored after the cached fold's last sequence, and the events of the
//! turn itself come from the fold.
//!
//! Correct without coordination: a fold is derived only from stored events, which are
//! append-only with gap-free sequences committed in order (a reader never sees sequence n + 1
//! before n), so extending a fold with the events after its last sequence equals folding the
//! whole log — in any process, after any crash or redelivery (replays store nothing new). An
//! entry is taken out while a load extends it, so two loads of one session never share one; the
//! loser of such a race starts from the log. Bounded in entries and age; a session's entry also
//! goes when the session is deleted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::events::Event;
use crate::history::HistoryFold;
use crate::ids::SessionId;

/// Sessions whose folds are kept.
pub const HISTORY_CACHE_SESSIONS: usize = 256;
/// An entry unused for this long is dropped.
pub const HISTORY_CACHE_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// Bounded map of session → fold (least recently used out first).
#[derive(Debug)]
pub struct HistoryCache {
    entries: Mutex<HashMap<SessionId, (HistoryFold, Instant)>>,
    capacity: usize,
    max_age: Duration,
}

impl Default for HistoryCache {
    fn default() -> Self {
        Self::new(HISTORY_CACHE_SESSIONS, HISTORY_CACHE_MAX_AGE)
    }
}

impl HistoryCache {
    /// A cache of at most `capacity` sessions, each kept at most `max_age` after its last use.
    pub fn new(capacity: usize, max_age: Duration) -> Self {
        Self { entries: Mutex::new(HashMap::new()), capacity, max_age }
    }

    /// Takes a session's fold out (a fresh one when absent or expired).
    pub fn take(&self, session: SessionId) -> HistoryFold {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.remove(&session) {
            Some((fold, used)) if used.elapsed() < self.max_age => fold,
            _ => HistoryFold::default(),
        }
    }

    /// Puts a fold back, unless a fold that has seen more is there already.
    pub fn put(&self, session: SessionId, fold: HistoryFold) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.get(&session).is_some_and(|(kept, _)| kept.last_sequence() >= fold.last_sequence()) {
            return;
        }
        entries.insert(session, (fold, Instant::now()));
        entries.retain(|_, (_, used)| used.elapsed() < self.max_age);
        while entries.len() > self.capacity {
            let Some(oldest) = entries.iter().min_by_key(|(_, (_, used))| *used).map(|(id, _)| *id) else { break };
            entries.remove(&oldest);
        }
    }

    /// Extends a session's kept fold with `events` when they are the very next ones: the first
    /// follows the fold's last sequence and each follows the one before (what one write stored).
    /// Events whose type is in `skip` are stepped over, as a load that leaves them out would.
    /// Returns the sequence the fold is through then, or `None` (no fold kept, or not the next
    /// events) and the fold is left as it was.
    pub fn advance(&self, session: SessionId, events: &[Event], skip: &[String]) -> Option<i64> {
        let first = events.first()?.sequence?;
        let contiguous = events.iter().zip(first..).all(|(event, sequence)| event.sequence == Some(sequence));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (fold, used) = entries.get_mut(&session).filter(|(_, used)| used.elapsed() < self.max_age)?;
        if !contiguous || fold.last_sequence().checked_add(1) != Some(first) {
            return None;
        }
        for event in events.iter().filter(|e| !skip.iter().any(|t| t == e.event_type())) {
            fold.extend(std::slice::from_ref(event));
        }
        fold.passed(first + events.len() as i64 - 1);
        *used = Instant::now();
        Some(fold.last_sequence())
    }

    /// The conversation of a session's kept fold, if that fold is through `through` exactly.
    pub fn messages_through(&self, session: SessionId, through: i64) -> Option<crate::domain::Conversation> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(&session).filter(|(fold, _)| fold.last_sequence() == through).map(|(fold, _)| fold.messages())
    }

    /// Drops a session's fold (the session was deleted).
    pub fn forget(&self, session: SessionId) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(&session);
    }

    /// Sessions held.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ContentPart, Message, MessageRole};
    use crate::events::{EventContext, EventPayload, InputMessageData, NewEvent};

    fn folded(sequence: i64) -> HistoryFold {
        let message = Message::new(MessageRole::User, vec![ContentPart::text("hi")]);
        let payload = EventPayload::InputMessage(InputMessageData { message });
        let mut event: Event = NewEvent::new(SessionId::new(), EventContext::default(), payload).event;
        event.sequence = Some(sequence);
        HistoryFold::of(&[event])
    }

    fn stored(session: SessionId, sequence: i64, payload: EventPayload) -> Event {
        let mut event: Event = NewEvent::new(session, EventContext::default(), payload).event;
        event.sequence = Some(sequence);
        event
    }

    fn said(session: SessionId, sequence: i64, text: &str) -> Event {
        let message = Message::new(MessageRole::User, vec![ContentPart::text(text)]);
        stored(session, sequence, EventPayload::InputMessage(InputMessageData { message }))
    }

    #[test]
    fn a_kept_fold_advances_only_by_the_very_next_events() {
        let cache = HistoryCache::default();
        let session = SessionId::new();
        assert_eq!(cache.advance(session, &[said(session, 1, "a")], &[]), None, "no fold kept");
        cache.put(session, HistoryFold::of(&[said(session, 1, "a")]));
        assert_eq!(cache.advance(session, &[said(session, 3, "c")], &[]), None, "a gap");
        assert_eq!(cache.advance(session, &[said(session, 2, "b"), said(session, 4, "d")], &[]), None, "not one run");
        let skipped = vec!["input.message".to_owned()];
        assert_eq!(cache.advance(session, &[said(session, 2, "b"), said(session, 3, "c")], &[]), Some(3));
        assert_eq!(cache.advance(session, &[said(session, 4, "skipped")], &skipped), Some(4), "stepped over");
        let texts: Vec<String> = cache.take(session).messages().iter().map(Message::text).collect();
        assert_eq!(texts, ["a", "b", "c"]);
    }

    #[test]
    fn bounded_by_count_and_age_and_never_goes_back() {
        let cache = HistoryCache::new(2, Duration::from_secs(60));
        let (a, b, c) = (SessionId::new(), SessionId::new(), SessionId::new());
        cache.put(a, folded(1));
        cache.put(b, folded(1));
        cache.put(c, folded(1));
        assert_eq!(cache.len(), 2, "the least recently used went");
        assert_eq!(cache.take(a).last_sequence(), 0, "a was evicted");
        cache.put(b, folded(5));
        cache.put(b, folded(3));
        assert_eq!(cache.take(b).last_sequence(), 5, "a fold that saw less does not replace one that saw more");
        cache.forget(c);
        assert!(cache.is_empty());
        let expiring = HistoryCache::new(2, Duration::ZERO);
        expiring.put(a, folded(1));
        assert_eq!(expiring.take(a).last_sequence(), 0, "expired");
    }
}
