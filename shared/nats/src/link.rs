//! `NatsLink`: one process's connection to NATS (a URL or a comma-separated cluster list), the
//! JetStream context, and a watch of whether the connection is up.
//!
//! Connecting fails fast (a bad URL, an unreachable server, JetStream not enabled) so the caller
//! can fall back to PostgreSQL NOTIFY and in-memory delivery. Once connected, the client
//! reconnects forever; every (re)connection makes sure the event stream exists again (a
//! restarted server with memory storage has lost it).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use tokio::sync::watch;

/// The JetStream stream that carries live events.
pub const EVENT_STREAM: &str = "EVERRUNS_EVENTS";

/// The subject prefix of a session's live events: `everruns.events.<session id>`.
pub const EVENT_SUBJECT_PREFIX: &str = "everruns.events";

/// How long the stream keeps a live event: enough for a subscriber that starts a moment after an
/// event was published (consumers start by time) and for a reconnecting client. Persisted events
/// are re-read from the store with `since_id`; deltas older than this are gone for good.
pub const EVENT_RETENTION: Duration = Duration::from_secs(120);

/// How long the first connection may take before startup falls back.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Why NATS cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// `NATS_URL` does not name servers.
    #[error("NATS_URL is invalid: {0}")]
    InvalidUrl(String),
    /// No server answered.
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    /// The server answered but JetStream is off or refused the stream.
    #[error("NATS JetStream is not usable (start nats-server with --jetstream): {0}")]
    JetStream(String),
}

/// Splits and checks `NATS_URL`: one URL or a comma-separated list (`nats://`, `tls://`, or a
/// bare `host:port`). Credentials in a URL are never echoed in errors.
pub fn parse_nats_urls(urls: &str) -> Result<Vec<async_nats::ServerAddr>, NatsError> {
    let entries: Vec<&str> = urls.split(',').map(str::trim).collect();
    if entries.iter().any(|e| e.is_empty()) {
        return Err(NatsError::InvalidUrl("an entry of the comma-separated list is empty".to_owned()));
    }
    entries
        .iter()
        .map(|entry| {
            let scheme = entry.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
            if let Some(scheme) = &scheme
                && !matches!(scheme.as_str(), "nats" | "tls" | "ws" | "wss")
            {
                return Err(NatsError::InvalidUrl(format!(
                    "scheme '{scheme}://' is not supported (use nats://, tls://, ws:// or wss://)"
                )));
            }
            entry.parse::<async_nats::ServerAddr>().map_err(|_| {
                NatsError::InvalidUrl("expected nats://host:port (or a comma-separated list of them)".to_owned())
            })
        })
        .collect()
}

/// A live connection to NATS with JetStream.
#[derive(Clone)]
pub struct NatsLink {
    pub(crate) client: async_nats::Client,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) up: watch::Receiver<bool>,
    /// This process's identity on the wire (to ignore its own task announcements).
    pub(crate) instance: Arc<str>,
}

impl std::fmt::Debug for NatsLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsLink").field("up", &*self.up.borrow()).field("instance", &self.instance).finish()
    }
}

impl NatsLink {
    /// Connects to `urls` and prepares the event stream; an error means "fall back".
    pub async fn connect(urls: &str, name: &str) -> Result<Self, NatsError> {
        let servers = parse_nats_urls(urls)?;
        let (up_tx, up) = watch::channel(false);
        let up_tx = Arc::new(up_tx);
        let events = up_tx.clone();
        let options = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(CONNECT_TIMEOUT)
            .max_reconnects(None)
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            events.send_replace(true);
                        }
                        async_nats::Event::Disconnected | async_nats::Event::Closed => {
                            if events.send_replace(false) {
                                tracing::warn!("NATS connection lost; delivering locally until it is back");
                            }
                        }
                        other => tracing::debug!("NATS: {other}"),
                    }
                }
            });
        let client = tokio::time::timeout(CONNECT_TIMEOUT, options.connect(servers))
            .await
            .map_err(|_| NatsError::Connect(format!("no answer within {CONNECT_TIMEOUT:?}")))?
            .map_err(|e| NatsError::Connect(e.to_string()))?;
        let jetstream = jetstream::new(client.clone());
        ensure_stream(&jetstream).await?;
        up_tx.send_replace(true);
        let link = Self { client, jetstream, up, instance: uuid::Uuid::new_v4().simple().to_string().into() };
        tokio::spawn(restore_on_reconnect(link.jetstream.clone(), link.up.clone()));
        Ok(link)
    }

    /// Whether the connection is up right now.
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// A watch of [`Self::is_up`].
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.up.clone()
    }

    /// Makes sure the event stream exists (after a server restart, say).
    pub async fn ensure_stream(&self) -> Result<(), NatsError> {
        ensure_stream(&self.jetstream).await
    }
}

/// Creates the event stream if it is missing (memory storage, old messages discarded).
async fn ensure_stream(jetstream: &jetstream::Context) -> Result<(), NatsError> {
    let config = stream::Config {
        name: EVENT_STREAM.to_owned(),
        subjects: vec![format!("{EVENT_SUBJECT_PREFIX}.>")],
        storage: stream::StorageType::Memory,
        max_age: EVENT_RETENTION,
        max_bytes: 256 * 1024 * 1024,
        discard: stream::DiscardPolicy::Old,
        ..stream::Config::default()
    };
    let attempt = jetstream.get_or_create_stream(config);
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(NatsError::JetStream(error.to_string())),
        Err(_) => Err(NatsError::JetStream(format!("no answer within {CONNECT_TIMEOUT:?}"))),
    }
}

/// On every reconnection, re-creates the event stream if the server lost it.
async fn restore_on_reconnect(jetstream: jetstream::Context, mut up: watch::Receiver<bool>) {
    loop {
        if up.wait_for(|up| !*up).await.is_err() || up.wait_for(|up| *up).await.is_err() {
            return;
        }
        tracing::info!("NATS connection restored");
        if let Err(error) = ensure_stream(&jetstream).await {
            tracing::warn!("after reconnecting: {error}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_one_or_a_comma_separated_list() {
        assert_eq!(parse_nats_urls("nats://127.0.0.1:4222").map(|v| v.len()).ok(), Some(1));
        assert_eq!(parse_nats_urls("nats://a:4222, nats://b:4222,nats://c:4222").map(|v| v.len()).ok(), Some(3));
        assert_eq!(parse_nats_urls("127.0.0.1:4222").map(|v| v.len()).ok(), Some(1));
    }

    #[test]
    fn bad_urls_are_named_without_credentials() {
        let error = parse_nats_urls("redis://user:secret@host:6379").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("'redis://' is not supported"), "{error}");
        assert!(!error.contains("secret"));
        let error = parse_nats_urls("nats://a:4222,,nats://b:4222").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("empty"), "{error}");
        assert!(parse_nats_urls("nats://host:notaport").is_err());
    }
}
