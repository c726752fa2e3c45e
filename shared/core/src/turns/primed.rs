//! Primed contexts: a handed task's first context made from its turn's start, without a read.
//!
//! A turn's start is one write that returns the session as it left it and the events it stored.
//! When the kept fold of the session was through the sequence just before those events, the fold
//! extended with them is the session's whole history through the start, and together with the
//! returned session it is everything the first iteration's context reads. What can change after
//! the start (a cancel, a steering message, the session's deletion) is an event stored later:
//! the start subscribes to the session's events *before* it writes, so every such event reaches
//! that subscription, which becomes the context stream's signal source. A context request finds
//! its task's entry here; a request that finds none, or a fold that moved on, reads as before.
//!
//! Entries live briefly: one is taken by the first context request of its task, and one nobody
//! asks for (its worker died between the lease and the request) goes after [`PRIMED_MAX_AGE`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::Session;
use crate::ids::TaskId;
use crate::ports::EventSubscription;

/// Most primed contexts kept at once.
pub const PRIMED_CAPACITY: usize = 1024;
/// A primed context nobody asked for is dropped after this long.
pub const PRIMED_MAX_AGE: Duration = Duration::from_secs(30);

/// A handed task's first context as its start left it.
pub struct PrimedStart {
    /// The session after the start.
    pub session: Session,
    /// The sequence the session's kept fold was through right after the start.
    pub through: i64,
    /// The session's events from before the start was written.
    pub events: EventSubscription,
}

/// Primed starts by task, bounded in count and age.
#[derive(Default)]
pub struct PrimedStarts {
    entries: Mutex<HashMap<TaskId, (PrimedStart, Instant)>>,
}

impl PrimedStarts {
    /// Keeps `start` for `task`'s first context request (dropped when full).
    pub fn put(&self, task: TaskId, start: PrimedStart) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, at)| at.elapsed() < PRIMED_MAX_AGE);
        if entries.len() < PRIMED_CAPACITY {
            entries.insert(task, (start, Instant::now()));
        }
    }

    /// Takes `task`'s primed start, if one is kept and fresh.
    pub fn take(&self, task: TaskId) -> Option<PrimedStart> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(&task).filter(|(_, at)| at.elapsed() < PRIMED_MAX_AGE).map(|(start, _)| start)
    }

    /// Primed starts kept.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
