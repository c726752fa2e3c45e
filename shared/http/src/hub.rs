//! The SSE hub: connection accounting (global → per organization → per session) and the shared
//! per-session fan-out — ONE bus subscription per watched session, whose frames every connection
//! of that session shares, each event serialized once and only when a connection wants it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use everruns_core::events::{Event, validate_event_type};
use everruns_core::ids::{OrgId, SessionId};
use everruns_core::ports::{EventBus, EventFilter};
use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::error::ApiError;
use everruns_services::config::SseConfig;

/// Frames buffered per watched session for its slowest connection (deltas arrive coalesced per
/// 100 ms per turn, so this is seconds of output); a connection that falls further behind catches
/// up persisted events from the store.
const FANOUT_CAPACITY: usize = 256;

/// The most values one `types` or `exclude` parameter may carry.
pub const MAX_FILTER_VALUES: usize = 64;

/// One SSE record of a domain event, serialized when a connection first wants it: an event no
/// connection admits (an `llm.generation`, which carries the whole conversation, on streams that
/// exclude it) is never serialized.
#[derive(Debug)]
pub struct Frame {
    pub(crate) event_type: &'static str,
    pub(crate) sequence: Option<i64>,
    /// When the event was created (ms since the epoch).
    pub(crate) created_ms: i64,
    source: FrameSource,
}

#[derive(Debug)]
enum FrameSource {
    Event { event: Arc<Event>, bytes: OnceLock<Bytes> },
    Ready(Bytes),
}

impl Frame {
    /// A frame of an event, serialized on first use.
    pub fn of(event: Arc<Event>) -> Self {
        Self {
            event_type: event.event_type(),
            sequence: event.sequence,
            created_ms: event.ts.millis(),
            source: FrameSource::Event { event, bytes: OnceLock::new() },
        }
    }

    /// The record: `event:`, `id:` (persisted only), one-line `data:`.
    pub fn bytes(&self) -> Bytes {
        match &self.source {
            FrameSource::Event { event, bytes } => bytes.get_or_init(|| record(event)).clone(),
            FrameSource::Ready(bytes) => bytes.clone(),
        }
    }
}

/// Serializes an event as one SSE record, written straight into the record's buffer.
pub(crate) fn record(event: &Event) -> Bytes {
    // Sized up front: a generation carries the whole conversation, and growing the buffer by
    // doubling copied it about once more.
    let mut out = Vec::with_capacity(64 + event.json_len_hint());
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.event_type().as_bytes());
    out.push(b'\n');
    if event.sequence.is_some() {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(event.id.to_string().as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    let start = out.len();
    if serde_json::to_writer(&mut out, event).is_err() {
        out.truncate(start);
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The `event_type` of a hub's goodbye frame (not a domain event: it ends the connections).
pub(crate) const GOODBYE: &str = "disconnecting";

impl Frame {
    /// A frame that ends every connection of its session with `disconnecting {reason}`.
    fn goodbye(reason: &str) -> Self {
        Self {
            event_type: GOODBYE,
            sequence: None,
            created_ms: i64::MAX,
            source: FrameSource::Ready(disconnecting(reason)),
        }
    }
}

/// Which event types a stream delivers (`types` first, then `exclude`).
#[derive(Debug, Clone, Default)]
pub struct TypeFilter {
    types: Vec<&'static str>,
    exclude: Vec<&'static str>,
}

impl TypeFilter {
    /// Validates both lists against the event registry.
    pub fn new(types: &[String], exclude: &[String]) -> Result<Self, ApiError> {
        let check = |param: &str, values: &[String]| -> Result<Vec<&'static str>, ApiError> {
            if values.len() > MAX_FILTER_VALUES {
                return Err(ApiError::BadRequest {
                    code: "invalid_filter",
                    message: format!("{param}: too many values ({}, max {MAX_FILTER_VALUES})", values.len()),
                });
            }
            values
                .iter()
                .map(|v| {
                    validate_event_type(v).map_err(|e| ApiError::BadRequest {
                        code: "invalid_filter",
                        message: format!("{param}: unknown event type '{}'", e.0),
                    })
                })
                .collect()
        };
        Ok(Self { types: check("types", types)?, exclude: check("exclude", exclude)? })
    }

    /// Whether an event type passes.
    pub fn admits(&self, event_type: &str) -> bool {
        (self.types.is_empty() || self.types.contains(&event_type)) && !self.exclude.contains(&event_type)
    }

    /// As a store filter.
    pub fn to_event_filter(&self) -> EventFilter {
        EventFilter {
            types: self.types.iter().map(|t| (*t).to_owned()).collect(),
            exclude: self.exclude.iter().map(|t| (*t).to_owned()).collect(),
            ..EventFilter::default()
        }
    }
}

/// A session's shared fan-out: the frames, and a wake-up for its forwarder when a subscriber
/// leaves (the last one takes the forwarder and its bus subscription with it at once).
#[derive(Clone)]
struct Fanout {
    frames: broadcast::Sender<Arc<Frame>>,
    left: Arc<tokio::sync::Notify>,
}

/// One connection's subscription to a fan-out.
pub(crate) struct FrameReceiver {
    frames: Option<broadcast::Receiver<Arc<Frame>>>,
    left: Arc<tokio::sync::Notify>,
}

impl FrameReceiver {
    pub(crate) async fn recv(&mut self) -> Result<Arc<Frame>, broadcast::error::RecvError> {
        match self.frames.as_mut() {
            Some(frames) => frames.recv().await,
            None => Err(broadcast::error::RecvError::Closed),
        }
    }
}

impl Drop for FrameReceiver {
    fn drop(&mut self) {
        drop(self.frames.take());
        self.left.notify_one();
    }
}

/// Connection accounting and the shared per-session fan-out.
pub struct SseHub {
    config: SseConfig,
    global: AtomicUsize,
    per_org: Mutex<HashMap<OrgId, usize>>,
    per_session: Mutex<HashMap<SessionId, usize>>,
    fanouts: Arc<Mutex<HashMap<SessionId, Fanout>>>,
    pulse: std::sync::OnceLock<watch::Receiver<Pulse>>,
}

/// The hub-wide clock every connection follows: a heartbeat counter and the shutdown flag. One
/// ticker for all connections instead of two timers each keeps idle subscribers small.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pulse {
    beat: u64,
    pub(crate) shutdown: bool,
}

impl SseHub {
    /// A hub with the given limits.
    pub fn new(config: SseConfig) -> Self {
        Self {
            config,
            global: AtomicUsize::new(0),
            per_org: Mutex::default(),
            per_session: Mutex::default(),
            fanouts: Arc::default(),
            pulse: std::sync::OnceLock::new(),
        }
    }

    /// The shared pulse, started on first use: a beat every heartbeat interval, and `shutdown`
    /// as soon as the server stops.
    pub(crate) fn pulse(&self, mut shutdown: watch::Receiver<bool>) -> watch::Receiver<Pulse> {
        let period = self.config.heartbeat_interval;
        self.pulse
            .get_or_init(|| {
                let (tx, rx) = watch::channel(Pulse::default());
                tokio::spawn(async move {
                    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
                    loop {
                        tokio::select! {
                            _ = ticks.tick() => {
                                tx.send_modify(|p| p.beat += 1);
                            }
                            _ = shutdown.wait_for(|down| *down) => {
                                tx.send_modify(|p| p.shutdown = true);
                                return;
                            }
                        }
                    }
                });
                rx
            })
            .clone()
    }

    /// Ends this instance's connections to a session (it was deleted) with
    /// `disconnecting {reason}`. Connections on other instances notice at their next heartbeat.
    pub fn close_session(&self, session: SessionId, reason: &str) {
        let fanouts = self.fanouts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fanout) = fanouts.get(&session) {
            let _ = fanout.frames.send(Arc::new(Frame::goodbye(reason)));
        }
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.global.load(Ordering::Relaxed)
    }

    /// Takes a connection slot, or answers 429 naming the limit that was hit.
    pub fn acquire(self: &Arc<Self>, org: OrgId, session: SessionId) -> Result<SseSlot, ApiError> {
        let too_many = |what: &str| ApiError::TooManyRequests {
            message: format!("{what} SSE connection limit reached"),
            retry_after: Duration::from_secs(1),
        };
        if self.global.fetch_add(1, Ordering::AcqRel) >= self.config.global_max {
            self.global.fetch_sub(1, Ordering::AcqRel);
            return Err(too_many("global"));
        }
        let slot = SseSlot { hub: self.clone(), org, session, org_taken: false, session_taken: false };
        let mut slot = slot;
        {
            let mut orgs = self.per_org.lock().unwrap_or_else(|p| p.into_inner());
            let count = orgs.entry(org).or_default();
            if *count >= self.config.per_org_max {
                return Err(too_many("per-organization"));
            }
            *count += 1;
            slot.org_taken = true;
        }
        let mut sessions = self.per_session.lock().unwrap_or_else(|p| p.into_inner());
        let count = sessions.entry(session).or_default();
        if *count >= self.config.per_session_max {
            return Err(too_many("per-session"));
        }
        *count += 1;
        slot.session_taken = true;
        Ok(slot)
    }

    /// Subscribes to a session's frames, starting the shared forwarder if needed.
    pub(crate) fn frames(&self, bus: &Arc<dyn EventBus>, session: SessionId) -> FrameReceiver {
        let mut fanouts = self.fanouts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(fanout) = fanouts.get(&session) {
            return FrameReceiver { frames: Some(fanout.frames.subscribe()), left: fanout.left.clone() };
        }
        let (tx, rx) = broadcast::channel(FANOUT_CAPACITY);
        let fanout = Fanout { frames: tx.clone(), left: Arc::default() };
        let left = fanout.left.clone();
        fanouts.insert(session, fanout);
        // Subscribe before returning, so nothing published after this call is missed.
        let mut events = bus.subscribe(session);
        let registry = self.fanouts.clone();
        let receiver = FrameReceiver { frames: Some(rx), left: left.clone() };
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(event) => {
                            let _ = tx.send(Arc::new(Frame::of(event)));
                        }
                        None => break,
                    },
                    _ = left.notified() => {}
                }
                let mut fanouts = registry.lock().unwrap_or_else(|p| p.into_inner());
                if tx.receiver_count() == 0 {
                    fanouts.remove(&session);
                    return;
                }
            }
            registry.lock().unwrap_or_else(|p| p.into_inner()).remove(&session);
        });
        receiver
    }

    /// Sessions with a live fan-out (for leak tests).
    pub fn fanouts(&self) -> usize {
        self.fanouts.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// A held connection slot; released on drop.
pub struct SseSlot {
    hub: Arc<SseHub>,
    pub(crate) org: OrgId,
    session: SessionId,
    org_taken: bool,
    session_taken: bool,
}

impl Drop for SseSlot {
    fn drop(&mut self) {
        self.hub.global.fetch_sub(1, Ordering::AcqRel);
        fn release<K: std::hash::Hash + Eq>(map: &Mutex<HashMap<K, usize>>, key: &K) {
            let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(count) = map.get_mut(key) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(key);
                }
            }
        }
        if self.org_taken {
            release(&self.hub.per_org, &self.org);
        }
        if self.session_taken {
            release(&self.hub.per_session, &self.session);
        }
    }
}

/// The `disconnecting` record that ends a connection with `reason`.
pub(crate) fn disconnecting(reason: &str) -> Bytes {
    Bytes::from(format!("event: disconnecting\nretry: 100\ndata: {{\"reason\":\"{reason}\",\"retry_ms\":100}}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub(global: usize, org: usize, session: usize) -> Arc<SseHub> {
        Arc::new(SseHub::new(SseConfig {
            realtime_cycle: Duration::from_secs(300),
            monitoring_cycle: Duration::from_secs(600),
            heartbeat_interval: Duration::from_secs(30),
            global_max: global,
            per_org_max: org,
            per_session_max: session,
        }))
    }

    fn message(result: Result<SseSlot, ApiError>) -> String {
        result.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn limits_are_checked_global_then_org_then_session_and_released_on_drop() {
        let hub = hub(3, 2, 1);
        let (org_a, org_b) = (OrgId::DEFAULT, OrgId::new());
        let s1 = hub.acquire(org_a, SessionId::new()).unwrap_or_else(|e| panic!("{e}"));
        let session = SessionId::new();
        let s2 = hub.acquire(org_a, session).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(message(hub.acquire(org_a, SessionId::new())), "per-organization SSE connection limit reached");
        assert_eq!(message(hub.acquire(org_b, session)), "per-session SSE connection limit reached");
        let s3 = hub.acquire(org_b, SessionId::new()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(message(hub.acquire(org_b, SessionId::new())), "global SSE connection limit reached");
        assert_eq!(hub.connections(), 3);
        drop((s1, s2, s3));
        assert_eq!(hub.connections(), 0);
        assert!(hub.acquire(org_a, session).is_ok(), "slots come back");
    }

    #[test]
    fn filters_validate_and_apply_types_then_exclude() {
        let filter = TypeFilter::new(&["turn.started".into(), "turn.completed".into()], &["turn.completed".into()])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(filter.admits("turn.started"));
        assert!(!filter.admits("turn.completed"));
        assert!(!filter.admits("input.message"));
        let too_many: Vec<String> = (0..65).map(|_| "turn.started".to_owned()).collect();
        assert!(TypeFilter::new(&too_many, &[]).is_err_and(|e| e.to_string().contains("too many values (65, max 64)")));
    }
}
