//! `NatsEventBus`: the [`EventBus`] shared by every control-plane instance through JetStream.
//!
//! - `emit` hands the event to one publisher task per process (so a session's events leave in
//!   emission order) which publishes to `everruns.events.<session>` and collects the stream's
//!   acknowledgements without waiting on them one by one. It never blocks: a full outbox drops
//!   the event with a warning (persisted events stay readable from the store with `since_id`).
//! - `subscribe` creates an ordered push consumer filtered on the session's subject, starting a
//!   moment before the call by time, so nothing published after the call is missed even though
//!   the consumer is created asynchronously.
//! - Deltas and `llm.generation` are live only with NATS: they skip the store
//!   ([`EventBus::is_live_only`]).
//! - While the connection is down, events go to the local fallback bus and subscriptions are made
//!   there. Every subscription ends when the connection changes state (lost or restored), so SSE
//!   clients reconnect with `since_id` and resume on the right path without missing a persisted
//!   event.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, push};
use everruns_core::events::Event;
use everruns_core::ids::SessionId;
use everruns_core::ports::{EventBus, EventEmitter, EventSubscription};
use everruns_core::throttle::WarnThrottle;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::link::{EVENT_STREAM, EVENT_SUBJECT_PREFIX, NatsLink};

/// Events waiting for the publisher before `emit` starts dropping.
pub const OUTBOX_CAPACITY: usize = 65_536;

/// Acknowledgements awaited at once before the publisher waits for the oldest.
const MAX_PENDING_ACKS: usize = 4096;

/// How far before `subscribe` a consumer starts (clock differences between this process and the
/// NATS server).
const START_MARGIN: Duration = Duration::from_secs(1);

/// At most one warning of a kind this often.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The event types that skip the store when NATS carries events (besides the ephemeral ones).
pub const LIVE_ONLY_WITH_NATS: &[&str] = &["llm.generation"];

/// The JetStream [`EventBus`], with a local fallback while the connection is down.
pub struct NatsEventBus {
    link: NatsLink,
    fallback: Arc<dyn EventBus>,
    outbox: mpsc::Sender<Arc<Event>>,
    dropped: WarnThrottle,
}

impl std::fmt::Debug for NatsEventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsEventBus").field("link", &self.link).finish()
    }
}

/// The subject of a session's live events.
pub fn event_subject(session: SessionId) -> String {
    format!("{EVENT_SUBJECT_PREFIX}.{session}")
}

impl NatsEventBus {
    /// A bus over `link`; `fallback` delivers within this process while NATS is unreachable.
    pub fn new(link: NatsLink, fallback: Arc<dyn EventBus>) -> Self {
        let (outbox, pending) = mpsc::channel(OUTBOX_CAPACITY);
        tokio::spawn(publish(link.clone(), pending));
        Self { link, fallback, outbox, dropped: WarnThrottle::new(WARN_EVERY) }
    }
}

impl EventEmitter for NatsEventBus {
    fn emit(&self, event: Arc<Event>) {
        if !self.link.is_up() {
            self.fallback.emit(event);
            return;
        }
        if self.outbox.try_send(event).is_err()
            && let Some(held_back) = self.dropped.due()
        {
            tracing::warn!("NATS outbox full: {} live event(s) dropped", held_back + 1);
        }
    }
}

impl EventBus for NatsEventBus {
    fn subscribe(&self, session_id: SessionId) -> EventSubscription {
        let up = self.link.watch();
        let was_up = *up.borrow();
        let live =
            if was_up { consume(self.link.clone(), session_id).boxed() } else { self.fallback.subscribe(session_id) };
        // End the subscription as soon as the connection state differs from the one it was
        // made under.
        let changed = async move {
            let mut up = up;
            let _ = up.wait_for(|now| *now != was_up).await;
        };
        Box::pin(live.take_until(changed))
    }

    fn is_live_only(&self, event: &Event) -> bool {
        event.is_ephemeral() || LIVE_ONLY_WITH_NATS.contains(&event.event_type())
    }
}

/// The live events of one session from JetStream (ends on an error: the subscriber resumes from
/// the store).
fn consume(link: NatsLink, session: SessionId) -> impl futures::Stream<Item = Arc<Event>> + Send {
    let start_time = chrono::Utc::now() - START_MARGIN;
    let messages = async move {
        let config = push::OrderedConfig {
            deliver_subject: link.client.new_inbox(),
            filter_subject: event_subject(session),
            deliver_policy: DeliverPolicy::ByStartTime { start_time },
            ..push::OrderedConfig::default()
        };
        let stream = match link.jetstream.get_stream_no_info(EVENT_STREAM).await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%session, "NATS event stream unavailable: {error}");
                let _ = link.ensure_stream().await;
                return None;
            }
        };
        match stream.create_consumer(config).await {
            Ok(consumer) => match consumer.messages().await {
                Ok(messages) => Some(messages),
                Err(error) => {
                    tracing::warn!(%session, "NATS subscription failed: {error}");
                    None
                }
            },
            Err(error) => {
                tracing::warn!(%session, "NATS consumer not created: {error}");
                None
            }
        }
    };
    futures::stream::once(messages)
        .filter_map(|messages| async move { messages })
        .flatten()
        .take_while(|message| {
            let ok = message.is_ok();
            if let Err(error) = message {
                tracing::warn!("NATS subscription ended: {error}");
            }
            async move { ok }
        })
        .filter_map(|message| async move {
            let message = message.ok()?;
            match serde_json::from_slice::<Event>(&message.payload) {
                Ok(event) => Some(Arc::new(event)),
                Err(error) => {
                    tracing::warn!(subject = %message.subject, "undecodable live event skipped: {error}");
                    None
                }
            }
        })
}

/// The publisher task: publishes in order, awaits acknowledgements concurrently.
async fn publish(link: NatsLink, mut outbox: mpsc::Receiver<Arc<Event>>) {
    let failed = WarnThrottle::new(WARN_EVERY);
    let warn = |what: &str, error: &dyn std::fmt::Display| {
        if let Some(held_back) = failed.due() {
            tracing::warn!("{} live event(s) {what}: {error}", held_back + 1);
        }
    };
    let mut acks = FuturesUnordered::new();
    loop {
        tokio::select! {
            next = outbox.recv() => {
                let Some(event) = next else { break };
                let payload = match serde_json::to_vec(&*event) {
                    Ok(payload) => bytes::Bytes::from(payload),
                    Err(error) => {
                        tracing::warn!("live event not encodable: {error}");
                        continue;
                    }
                };
                match link.jetstream.publish(event_subject(event.session_id), payload).await {
                    Ok(ack) => acks.push(ack.into_future()),
                    Err(error) => warn("not published to NATS", &error),
                }
                while acks.len() >= MAX_PENDING_ACKS {
                    if let Some(Err(error)) = acks.next().await {
                        warn("not acknowledged by JetStream", &error);
                    }
                }
            }
            Some(ack) = acks.next(), if !acks.is_empty() => {
                if let Err(error) = ack {
                    warn("not acknowledged by JetStream", &error);
                }
            }
        }
    }
}
