//! `MemoryEventStore`: the append-only event log of every session. Sequences are assigned under
//! one lock, so they are gap-free per session even under concurrent appends; idempotency keys are
//! unique per session and event ids are unique across the store, as in the real schema.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use everruns_core::events::{Event, FenceClass, NewEvent, TurnStage};
use everruns_core::ids::{EventId, SessionId, TurnId};
use everruns_core::ports::{EventFilter, EventStore, PortError, PortResult};

use crate::support::lock;

/// One session's log: events in sequence order (index = sequence - 1) and its indexes.
#[derive(Debug, Default)]
struct SessionLog {
    events: Vec<Event>,
    by_id: HashMap<EventId, usize>,
    by_key: HashMap<String, usize>,
    /// The fence stage of each turn with a stored event.
    stages: HashMap<TurnId, TurnStage>,
    /// Each turn's events (indexes, in order): a turn's reads stay flat as the session grows.
    by_turn: HashMap<TurnId, Vec<usize>>,
}

impl SessionLog {
    fn at(&self, index: usize) -> PortResult<Event> {
        self.events.get(index).cloned().ok_or_else(|| PortError::Internal(format!("event index {index} out of range")))
    }
}

#[derive(Debug, Default)]
struct EventTables {
    sessions: HashMap<SessionId, SessionLog>,
    /// Every stored event id (the primary key).
    ids: HashSet<EventId>,
}

/// The in-memory [`EventStore`]. Cloning shares the same log (the session store holds a clone to
/// delete a session's events with it).
#[derive(Debug, Clone, Default)]
pub struct MemoryEventStore {
    tables: Arc<Mutex<EventTables>>,
}

impl MemoryEventStore {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Deletes every event of a session (part of deleting the session).
    pub(crate) fn delete_session_events(&self, session: SessionId) -> PortResult<()> {
        let mut tables = lock(&self.tables)?;
        if let Some(log) = tables.sessions.remove(&session) {
            for id in log.by_id.keys() {
                tables.ids.remove(id);
            }
        }
        Ok(())
    }
}

/// Whether a stored event passes every filter except `limit`.
fn admits(filter: &EventFilter, event: &Event) -> bool {
    let sequence = event.sequence.unwrap_or(0);
    filter.after_sequence.is_none_or(|after| sequence > after)
        && filter.before_sequence.is_none_or(|before| sequence < before)
        && filter.after_id.is_none_or(|after| event.id.uuid() > after.uuid())
        && filter.turn_id.is_none_or(|turn| event.context.turn_id == Some(turn))
        && filter.admits_type(event.event_type())
}

#[async_trait::async_trait]
impl EventStore for MemoryEventStore {
    async fn append(&self, new: NewEvent) -> PortResult<Event> {
        let NewEvent { mut event, idempotency_key } = new;
        // The key is taken from the envelope, else from the event; the stored event records it.
        let idempotency_key = idempotency_key.or_else(|| event.idempotency_key.take());
        event.idempotency_key.clone_from(&idempotency_key);
        if event.is_ephemeral() {
            return Err(PortError::Invalid(format!(
                "event type '{}' is ephemeral and is never stored",
                event.event_type()
            )));
        }
        let session = event.session_id;
        let mut tables = lock(&self.tables)?;
        if let (Some(key), Some(log)) = (&idempotency_key, tables.sessions.get(&session))
            && let Some(&index) = log.by_key.get(key)
        {
            return log.at(index);
        }
        if tables.ids.contains(&event.id) {
            return Err(PortError::Conflict(format!("event '{}' already exists", event.id)));
        }
        let log = tables.sessions.entry(session).or_default();
        if let (Some(class), Some(turn)) = (FenceClass::of(&event), event.context.turn_id) {
            let stage = log.stages.get(&turn).copied().unwrap_or(TurnStage::Open);
            if !class.admits(stage) {
                return Err(PortError::TurnEnded(turn.to_string()));
            }
            log.stages.insert(turn, class.advance(stage));
        }
        tables.ids.insert(event.id);
        let log = tables.sessions.entry(session).or_default();
        let index = log.events.len();
        event.sequence = Some(index as i64 + 1);
        log.by_id.insert(event.id, index);
        if let Some(key) = idempotency_key {
            log.by_key.insert(key, index);
        }
        if let Some(turn) = event.context.turn_id {
            log.by_turn.entry(turn).or_default().push(index);
        }
        log.events.push(event.clone());
        Ok(event)
    }

    async fn turn_stage(&self, session: SessionId, turn: TurnId) -> PortResult<TurnStage> {
        let tables = lock(&self.tables)?;
        Ok(tables.sessions.get(&session).and_then(|log| log.stages.get(&turn).copied()).unwrap_or(TurnStage::Open))
    }

    async fn list_events(&self, session: SessionId, filter: &EventFilter) -> PortResult<Vec<Event>> {
        let tables = lock(&self.tables)?;
        let Some(log) = tables.sessions.get(&session) else {
            return Ok(Vec::new());
        };
        // Sequences are indexes + 1: a range or a turn's index narrows the scan.
        let start = filter.after_sequence.map_or(0, |after| usize::try_from(after.max(0)).unwrap_or(usize::MAX));
        let candidates: Box<dyn Iterator<Item = &Event>> = match filter.turn_id {
            Some(turn) => Box::new(
                log.by_turn.get(&turn).into_iter().flatten().skip_while(move |&&i| i < start).map(|&i| &log.events[i]),
            ),
            None => Box::new(log.events.iter().skip(start)),
        };
        let found: Vec<&Event> = candidates.filter(|e| admits(filter, e)).collect();
        let skip = filter.limit.map_or(0, |limit| found.len().saturating_sub(limit as usize));
        Ok(found.into_iter().skip(skip).cloned().collect())
    }

    async fn get_event(&self, session: SessionId, id: EventId) -> PortResult<Option<Event>> {
        let tables = lock(&self.tables)?;
        let Some(log) = tables.sessions.get(&session) else {
            return Ok(None);
        };
        log.by_id.get(&id).map(|&index| log.at(index)).transpose()
    }

    async fn get_by_key(&self, session: SessionId, key: &str) -> PortResult<Option<Event>> {
        let tables = lock(&self.tables)?;
        let Some(log) = tables.sessions.get(&session) else {
            return Ok(None);
        };
        log.by_key.get(key).map(|&index| log.at(index)).transpose()
    }
}
