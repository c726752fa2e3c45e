//! `App`: what every application service works with — configuration, the platform definition,
//! the stores and turn services behind their ports, the secret cipher and the instance's
//! dormancy. Transports hold one and call the services with it.

use std::sync::Arc;

use everruns_core::PlatformDefinition;
use everruns_core::ports::{SecretCipher, Stores};
use everruns_core::turns::TurnService;

use crate::config::ServerConfig;
use crate::dormancy::Dormancy;

/// The application's ports and settings. Cheap to clone.
#[derive(Clone)]
pub struct App {
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
    /// Whether the instance may let its database sleep (`DATABASE_IDLE_RELEASE_SECS`).
    pub dormancy: Dormancy,
}
