//! `PgTaskNotifier`: wake-ups for workers when [`crate::PgTaskStore`] inserts a task.
//!
//! The store runs `pg_notify('everruns_task_available', '<task id>')` in the transaction that
//! inserts a task, so PostgreSQL delivers the notification on commit to every session that
//! `LISTEN`s on the channel. The notifier is such a session (a `sqlx` `PgListener`).
//!
//! Notifications are a hint, never the source of truth: they are lost while no connection
//! listens, and a worker may be busy when one arrives. Workers therefore wait for
//! `recv()` *or* a polling interval, whichever comes first, and then call `claim_next`.
//!
//! Reconnecting: a connection lost while waiting is re-established by `PgListener` itself and
//! reported as [`TaskWake::Poll`] (notifications sent in between are gone). Any other error drops
//! the listener and is returned; the next `recv()` builds a new one (reporting `Poll` first), so a
//! caller simply keeps calling `recv()` (after its polling interval when it got an error).

use std::str::FromStr;

use everruns_core::ids::{EventId, SessionId, TaskId};
use everruns_core::ports::{PortError, PortResult};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::error::port_error;

/// The channel `PgTaskStore` notifies when a task is inserted; the payload is the task id
/// (`task_<32 hex>`).
pub const TASK_AVAILABLE_CHANNEL: &str = "everruns_task_available";

/// The channel a notifying [`crate::PgEventStore`] announces appended events on; the payload is
/// `<session id> <event id>` for one event, `<session id> <first>..<last>` (sequences) for a
/// batch stored by one statement.
pub const EVENT_APPENDED_CHANNEL: &str = "everruns_event_appended";

/// What a [`PgTaskNotifier`] woke up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskWake {
    /// A task was inserted and committed.
    Task(TaskId),
    /// Notifications may have been missed (the connection was re-established, or a payload was
    /// not a task id): poll the store.
    Poll,
}

/// Listens for [`TASK_AVAILABLE_CHANNEL`] notifications.
pub struct PgTaskNotifier {
    pool: PgPool,
    listener: Option<PgListener>,
}

impl std::fmt::Debug for PgTaskNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTaskNotifier").field("listening", &self.listener.is_some()).finish()
    }
}

impl PgTaskNotifier {
    /// Listens on a connection of `pool`, held for as long as the notifier lives (one
    /// connection fewer for the stores). Closing the pool ends a pending `recv()` with
    /// `Unavailable`.
    pub async fn listen(pool: &PgPool) -> PortResult<Self> {
        let listener = subscribe(pool).await?;
        Ok(Self { pool: pool.clone(), listener: Some(listener) })
    }

    /// Listens on a connection of its own to `database_url` (reconnected as needed). `Invalid`
    /// if the URL cannot be parsed (it is not echoed), `Unavailable` if the server cannot be
    /// reached.
    pub async fn listen_url(database_url: &str) -> PortResult<Self> {
        let options = PgConnectOptions::from_str(database_url)
            .map_err(|_| PortError::Invalid("the database URL cannot be parsed".to_owned()))?
            .application_name("everruns-task-notifier");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(crate::ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|err| port_error("task_notifier", err))?;
        Self::listen(&pool).await
    }

    /// Waits for the next wake-up. Cancel-safe: it can be raced against a polling timer
    /// (`tokio::select!`) and called again. On an error, fall back to polling and call it again
    /// later: it reconnects.
    pub async fn recv(&mut self) -> PortResult<TaskWake> {
        let listener = match &mut self.listener {
            Some(listener) => listener,
            None => {
                self.listener = Some(subscribe(&self.pool).await?);
                return Ok(TaskWake::Poll);
            }
        };
        match listener.try_recv().await {
            Ok(Some(notification)) => Ok(TaskId::parse(notification.payload()).map_or(TaskWake::Poll, TaskWake::Task)),
            Ok(None) => Ok(TaskWake::Poll),
            Err(err) => {
                self.listener = None;
                Err(port_error("task_notifier", err))
            }
        }
    }
}

/// A listener on [`TASK_AVAILABLE_CHANNEL`].
async fn subscribe(pool: &PgPool) -> PortResult<PgListener> {
    let mut listener = PgListener::connect_with(pool).await.map_err(|err| port_error("task_notifier", err))?;
    listener.listen(TASK_AVAILABLE_CHANNEL).await.map_err(|err| port_error("task_notifier", err))?;
    Ok(listener)
}

/// Listens for [`EVENT_APPENDED_CHANNEL`] notifications (events appended by other processes).
pub struct PgEventListener {
    listener: PgListener,
}

impl std::fmt::Debug for PgEventListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PgEventListener")
    }
}

impl PgEventListener {
    /// Listens on a connection of `pool`.
    pub async fn listen(pool: &PgPool) -> PortResult<Self> {
        let mut listener = PgListener::connect_with(pool).await.map_err(|err| port_error("event_listener", err))?;
        listener.listen(EVENT_APPENDED_CHANNEL).await.map_err(|err| port_error("event_listener", err))?;
        Ok(Self { listener })
    }

    /// The next appended events' session and which they are. `Ok(None)` when the connection was
    /// lost and re-established (notifications in between are gone: SSE clients catch up with
    /// `since_id`), or a payload was not understood.
    pub async fn recv(&mut self) -> PortResult<Option<(SessionId, Appended)>> {
        match self.listener.try_recv().await {
            Ok(Some(notification)) => Ok(Appended::parse(notification.payload())),
            Ok(None) => Ok(None),
            Err(err) => Err(port_error("event_listener", err)),
        }
    }
}

/// Which events an [`EVENT_APPENDED_CHANNEL`] notification announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// One event, by id.
    Event(EventId),
    /// The events with these sequences (inclusive), stored together.
    Sequences(i64, i64),
}

impl Appended {
    /// `<session id> <event id>` or `<session id> <first>..<last>`.
    fn parse(payload: &str) -> Option<(SessionId, Self)> {
        let (session, which) = payload.split_once(' ')?;
        let session = SessionId::parse(session).ok()?;
        let which = match which.split_once("..") {
            Some((first, last)) => {
                let (first, last) = (first.parse().ok()?, last.parse().ok()?);
                (first <= last).then_some(Self::Sequences(first, last))?
            }
            None => Self::Event(EventId::parse(which).ok()?),
        };
        Some((session, which))
    }
}

#[cfg(test)]
mod appended_tests {
    use super::*;

    #[test]
    fn payloads_name_one_event_or_a_run_of_sequences() {
        let (session, event) = (SessionId::new(), EventId::new());
        assert_eq!(Appended::parse(&format!("{session} {event}")), Some((session, Appended::Event(event))));
        assert_eq!(Appended::parse(&format!("{session} 4..9")), Some((session, Appended::Sequences(4, 9))));
        for bad in [format!("{session} 9..4"), format!("{session} x..9"), format!("{session}"), "nope 1..2".into()] {
            assert_eq!(Appended::parse(&bad), None, "{bad}");
        }
    }
}
