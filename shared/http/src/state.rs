//! `AppState`: what every handler holds — the application ([`App`]: configuration, ports, turn
//! services) and the HTTP adapter's own parts, the SSE hub and the shutdown signal.

use std::ops::Deref;
use std::sync::Arc;

use everruns_services::App;
use tokio::sync::watch;

use crate::hub::SseHub;

/// Handles every request needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The application the handlers translate to (shared: axum clones the state for every
    /// request and middleware, and the application is a few dozen reference counts).
    pub app: Arc<App>,
    /// SSE connection accounting.
    pub sse: Arc<SseHub>,
    /// Flips to `true` when the server shuts down (SSE streams say goodbye).
    pub shutdown: watch::Receiver<bool>,
}

/// A handler reads the application's parts (`state.stores`, `state.config`) and passes
/// `&state` to a service as the `&App` it is.
impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.app
    }
}
