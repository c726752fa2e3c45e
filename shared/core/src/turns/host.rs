//! The store-backed [`IterationHost`]: persisted events go to the event store and then to the
//! bus (a duplicate re-emission is not published again); ephemeral events go to the bus only.

use std::sync::Arc;

use crate::domain::{SessionStatus, TokenUsage};
use crate::engine::IterationHost;
use crate::events::{Event, NewEvent};
use crate::ids::{OrgId, SessionId, TurnId};
use crate::ports::{EventBus, PortResult, StatusChange, Stores};

/// Runs an iteration's effects against the stores and the bus of this process.
#[derive(Clone)]
pub struct StoreIterationHost {
    stores: Stores,
    bus: Arc<dyn EventBus>,
    org: OrgId,
}

impl StoreIterationHost {
    /// A host acting within `org`.
    pub fn new(stores: Stores, bus: Arc<dyn EventBus>, org: OrgId) -> Self {
        Self { stores, bus, org }
    }
}

/// Persists an event and publishes it unless it was already stored; publishes a live-only one
/// (ephemeral, or what the bus keeps out of the store) directly. Shared by the host and the turn
/// services.
pub async fn record_event(stores: &Stores, bus: &dyn EventBus, event: NewEvent) -> PortResult<Option<Event>> {
    if bus.is_live_only(&event.event) {
        bus.emit(Arc::new(event.event));
        return Ok(None);
    }
    let id = event.event.id;
    let stored = stores.events.append(event).await?;
    if stored.id == id {
        bus.emit(Arc::new(stored.clone()));
    }
    Ok(Some(stored))
}

/// Persists events in order (together where the store can) and publishes each stored one;
/// live-only ones are published without being stored.
pub async fn record_events(stores: &Stores, bus: &dyn EventBus, events: Vec<NewEvent>) -> PortResult<Vec<Event>> {
    let (live, events): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| bus.is_live_only(&e.event));
    for event in live {
        bus.emit(Arc::new(event.event));
    }
    let ids: Vec<_> = events.iter().map(|e| e.event.id).collect();
    let stored = stores.events.append_all(events).await?;
    for (event, id) in stored.iter().zip(ids) {
        if event.id == id {
            bus.emit(Arc::new(event.clone()));
        }
    }
    Ok(stored)
}

#[async_trait::async_trait]
impl IterationHost for StoreIterationHost {
    async fn emit(&self, event: NewEvent) -> PortResult<Option<Event>> {
        record_event(&self.stores, self.bus.as_ref(), event).await
    }

    async fn await_tool_results(&self, session: SessionId, turn: TurnId) -> PortResult<()> {
        let change = StatusChange {
            expect: vec![SessionStatus::Active],
            expect_turn: Some(turn),
            to: SessionStatus::WaitingForToolResults,
            turn: Some(turn),
            ..StatusChange::default()
        };
        self.stores.sessions.change_status(self.org, session, change).await?;
        Ok(())
    }

    async fn end_turn(
        &self,
        session: SessionId,
        turn: TurnId,
        usage: TokenUsage,
        output_preview: Option<String>,
    ) -> PortResult<Option<TokenUsage>> {
        let change = StatusChange {
            expect: vec![SessionStatus::Active, SessionStatus::WaitingForToolResults],
            expect_turn: Some(turn),
            to: SessionStatus::Idle,
            turn: None,
            add_usage: Some(usage),
            output_preview,
            ..StatusChange::default()
        };
        match self.stores.sessions.change_status(self.org, session, change).await? {
            Some(updated) => Ok(updated.usage),
            // Already ended (a re-run): report the stored total.
            None => Ok(self.stores.sessions.get_session(self.org, session).await?.and_then(|s| s.usage)),
        }
    }
}
