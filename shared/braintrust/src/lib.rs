//! Braintrust integration for Everruns: every `llm.generation` event is logged to a Braintrust
//! project, for observability, evaluation and logging.
//!
//! - [`BraintrustConfig`] reads `BRAINTRUST_API_KEY` (required to enable),
//!   `BRAINTRUST_PROJECT_NAME` (default `My Project`), `BRAINTRUST_PROJECT_ID` (skips the name
//!   lookup) and `BRAINTRUST_API_URL` (default `https://api.braintrust.dev`).
//! - [`BraintrustLogger`] is an [`EventEmitter`](everruns_core::ports::EventEmitter): `emit` never
//!   blocks a turn; a background task resolves the project, batches rows and inserts them, and only
//!   logs (throttled) warnings when Braintrust is unreachable or failing.
//!   [`BraintrustLogger::flush`] sends what is pending (Lambda, shutdown).
//! - [`generation_row`] is the event → row mapping (see the [`row`] module for the table).
//!
//! ```no_run
//! # async fn wire() -> Result<(), everruns_braintrust::BraintrustError> {
//! if let Some(logger) = everruns_braintrust::BraintrustLogger::from_env()? {
//!     // register `logger` (or an `Arc` of it) with the event fan-out; on shutdown:
//!     let _ = logger.flush().await;
//! }
//! # Ok(())
//! # }
//! ```

mod chat;
mod client;
mod config;
mod error;
mod logger;
mod options;
mod pacing;
mod pending;
pub mod row;
mod stats;
mod worker;

pub use config::{
    API_KEY_VAR, API_URL_VAR, BraintrustConfig, DEFAULT_API_URL, DEFAULT_PROJECT_NAME, PROJECT_ID_VAR, PROJECT_NAME_VAR,
};
pub use error::{BraintrustConfigError, BraintrustError};
pub use logger::{BraintrustLogger, FlushOutcome};
pub use options::LoggerOptions;
pub use row::generation_row;
pub use stats::BraintrustStats;
