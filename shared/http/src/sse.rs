//! Server-sent events for one session: `connected` first, replay after `since_id`, then live
//! events with no gap and no duplicate, `: heartbeat` comments on a fixed interval, connection
//! cycling with `disconnecting`, and a goodbye on shutdown. While a turn runs, each beat also
//! reads the store for events stored but never published, so none waits longer than a beat.
//!
//! Each connection holds a slot of the hub ([`crate::hub`]: limits and the shared per-session
//! fan-out) that frees when the stream drops.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use everruns_core::ids::{EventId, OrgId, SessionId};
use everruns_core::ports::EventFilter;
use futures::Stream;
use serde::Deserialize;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::error::ApiError;
pub use crate::hub::{Frame, MAX_FILTER_VALUES, SseHub, SseSlot, TypeFilter};
use crate::hub::{FrameReceiver, GOODBYE, Pulse, disconnecting, record};
use crate::state::AppState;

/// Where a stream resumes.
#[derive(Debug, Clone, Copy)]
pub enum Resume {
    /// Live only.
    Live,
    /// Persisted events after this one, then live.
    After(EventId),
}

const CONNECTED: &[u8] = b"event: connected\nretry: 100\ndata: {\"status\":\"connected\"}\n\n";
const HEARTBEAT: &[u8] = b": heartbeat\n\n";
/// The event after which a session has no turn running.
const SETTLED: &str = "session.idled";

/// A lifetime of `cycle` ±20%.
fn jittered(cycle: Duration) -> Duration {
    let random = (uuid::Uuid::new_v4().as_u128() % 4001) as f64 / 10_000.0; // 0.0..=0.4
    cycle.mul_f64(0.8 + random)
}

enum Wake {
    Pulse,
    Frame(Result<Arc<Frame>, broadcast::error::RecvError>),
}

struct Connection {
    state: AppState,
    session: SessionId,
    filter: TypeFilter,
    resume: Option<Resume>,
    frames: FrameReceiver,
    pending: VecDeque<Bytes>,
    pulse: watch::Receiver<Pulse>,
    cycle_at: Instant,
    last_sequence: i64,
    /// The last persisted event seen was `session.idled`: the session's turn is over, so the beat
    /// need not look for events whose publication went missing.
    settled: bool,
    finished: bool,
    /// When the connection opened (ms since the epoch).
    opened_ms: i64,
    _slot: SseSlot,
}

impl Connection {
    /// Queues persisted events after the cursor (or after `last_sequence`). Every type is read
    /// and the filter applied here, so `last_sequence` is the highest sequence the connection
    /// has seen, whatever it delivers: a live frame beyond `last_sequence + 1` then proves a gap.
    async fn replay(&mut self, cursor: Option<Resume>) -> Result<(), ApiError> {
        let mut filter = EventFilter::default();
        match cursor {
            Some(Resume::After(id)) => match self.state.stores.events.get_event(self.session, id).await? {
                Some(event) => filter.after_sequence = event.sequence,
                // A cursor never persisted (a delta's id): resume by UUIDv7 time order.
                None => filter.after_id = Some(id),
            },
            _ => filter.after_sequence = Some(self.last_sequence),
        }
        for event in self.state.stores.events.list_events(self.session, &filter).await? {
            let sequence = event.sequence.unwrap_or(0);
            if sequence > self.last_sequence {
                self.last_sequence = sequence;
                self.settled = event.event_type() == SETTLED;
                if self.filter.admits(event.event_type()) {
                    self.pending.push_back(record(&event));
                }
            }
        }
        Ok(())
    }

    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(bytes) = self.pending.pop_front() {
                return Some(bytes);
            }
            if self.finished {
                return None;
            }
            if let Some(resume) = self.resume.take() {
                if let Resume::After(_) = resume
                    && let Err(error) = self.replay(Some(resume)).await
                {
                    tracing::warn!(session = %self.session, "SSE replay failed: {error}");
                    self.finished = true;
                    return Some(disconnecting("error"));
                }
                continue;
            }
            if self.pulse.borrow().shutdown {
                self.finished = true;
                return Some(disconnecting("shutdown"));
            }
            let wake = tokio::select! {
                biased;
                changed = self.pulse.changed() => match changed {
                    Ok(()) => Wake::Pulse,
                    Err(_) => return None,
                },
                frame = self.frames.recv() => Wake::Frame(frame),
            };
            match wake {
                Wake::Pulse => {
                    if self.pulse.borrow_and_update().shutdown {
                        continue;
                    }
                    // Cycling is checked on the beat: a connection ends within one heartbeat
                    // interval after its (jittered) lifetime.
                    if Instant::now() >= self.cycle_at {
                        self.finished = true;
                        return Some(disconnecting("connection_cycle"));
                    }
                    // A session deleted through another instance ends its streams here.
                    if let Ok(None) = self.state.stores.sessions.get_session(self._slot.org, self.session).await {
                        self.finished = true;
                        return Some(disconnecting("session_deleted"));
                    }
                    // While a turn runs, events stored but never published (their publisher's
                    // call was dropped between the commit and the publish, or the process died
                    // there) are read from the store: such an event waits one beat at most
                    // instead of until a later event shows the gap.
                    if self.last_sequence > 0
                        && !self.settled
                        && self.replay(None).await.is_ok()
                        && !self.pending.is_empty()
                    {
                        continue;
                    }
                    return Some(Bytes::from_static(HEARTBEAT));
                }
                Wake::Frame(Ok(frame)) => {
                    if frame.event_type == GOODBYE {
                        self.finished = true;
                        return Some(frame.bytes());
                    }
                    // A live-only event (a delta) from before this connection opened: a bus that
                    // starts its subscriptions a little early (NATS) hands those on; they belong to
                    // no stream of this client.
                    if frame.sequence.is_none() && frame.created_ms < self.opened_ms {
                        continue;
                    }
                    if let Some(sequence) = frame.sequence {
                        if sequence <= self.last_sequence {
                            continue;
                        }
                        if self.last_sequence > 0 && sequence > self.last_sequence + 1 {
                            // A persisted event went missing on the way (events of one session
                            // published by different instances can cross): read the store,
                            // which has it and this one.
                            if self.replay(None).await.is_err() {
                                self.finished = true;
                                return Some(disconnecting("error"));
                            }
                            continue;
                        }
                        self.last_sequence = sequence;
                        self.settled = frame.event_type == SETTLED;
                    }
                    if self.filter.admits(frame.event_type) {
                        return Some(frame.bytes());
                    }
                }
                Wake::Frame(Err(broadcast::error::RecvError::Lagged(_))) => {
                    // Too slow: catch up on persisted events from the store (deltas are lost).
                    if self.last_sequence > 0 && self.replay(None).await.is_err() {
                        self.finished = true;
                        return Some(disconnecting("error"));
                    }
                }
                Wake::Frame(Err(broadcast::error::RecvError::Closed)) => {
                    self.finished = true;
                    return Some(disconnecting("error"));
                }
            }
        }
    }
}

/// Builds the byte stream of one SSE connection. Validation and the slot come first (4xx before
/// streaming); the stream then starts with `connected`.
pub fn session_stream(
    state: AppState,
    session: SessionId,
    filter: TypeFilter,
    resume: Resume,
    slot: SseSlot,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let config = &state.config.sse;
    let frames = state.sse.frames(state.turns.bus(), session);
    let mut pulse = state.sse.pulse(state.shutdown.clone());
    pulse.mark_unchanged();
    let connection = Connection {
        filter,
        resume: Some(resume),
        frames,
        pending: VecDeque::from([Bytes::from_static(CONNECTED)]),
        pulse,
        cycle_at: Instant::now() + jittered(config.realtime_cycle),
        last_sequence: 0,
        settled: false,
        finished: false,
        opened_ms: everruns_core::time::Timestamp::now().millis(),
        _slot: slot,
        session,
        state,
    };
    futures::stream::unfold(connection, |mut connection| async move {
        connection.next().await.map(|bytes| (Ok(bytes), connection))
    })
}

/// The query of an SSE request (`types` and `exclude` as repeated keys).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Resume after this event.
    #[param(pattern = "^event_[0-9a-f]{32}$")]
    pub since_id: Option<String>,
    /// Only these types.
    #[serde(default)]
    #[param(style = Form, explode, max_items = 64)]
    pub types: Vec<String>,
    /// Not these types.
    #[serde(default)]
    #[param(style = Form, explode, max_items = 64)]
    pub exclude: Vec<String>,
}

/// Validates an SSE request in the contract's order — filters (400), session id (400), session
/// existence (404), connection limits (429) — and returns the stream to send.
pub async fn open(
    state: &AppState,
    org: OrgId,
    session: &str,
    params: &StreamParams,
) -> Result<impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static, ApiError> {
    let filter = TypeFilter::new(&params.types, &params.exclude)?;
    let resume = match params.since_id.as_deref() {
        Some(since) => Resume::After(EventId::parse(since)?),
        None => Resume::Live,
    };
    let session = everruns_services::sessions::find(state, org, session).await?;
    let slot = state.sse.acquire(org, session.id)?;
    Ok(session_stream(state.clone(), session.id, filter, resume, slot))
}
