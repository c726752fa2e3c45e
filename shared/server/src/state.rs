//! Application state shared by every handler: configuration, the platform definition, the
//! stores, the turn services, the secret cipher and the SSE hub.

use std::sync::Arc;

use everruns_core::PlatformDefinition;
use everruns_core::ports::{SecretCipher, Stores};
use everruns_core::turns::TurnService;
use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::sse::SseHub;

/// Handles every request needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Configuration, read once.
    pub config: Arc<ServerConfig>,
    /// The runtime surface.
    pub platform: Arc<PlatformDefinition>,
    /// Storage.
    pub stores: Stores,
    /// Turn services (start, tool results, cancel).
    pub turns: TurnService,
    /// Seals provider keys.
    pub cipher: Arc<dyn SecretCipher>,
    /// SSE connection accounting.
    pub sse: Arc<SseHub>,
    /// Flips to `true` when the server shuts down (SSE streams say goodbye).
    pub shutdown: watch::Receiver<bool>,
    /// Whether the instance may let its database sleep (`DATABASE_IDLE_RELEASE_SECS`).
    pub dormancy: crate::dormancy::Dormancy,
}
