//! # everruns-anthropic
//!
//! The `anthropic` chat driver: the Anthropic **Messages API**, streaming
//! (`POST {base_url}/v1/messages` with `stream: true`, default base URL [`DEFAULT_BASE_URL`]).
//!
//! The history maps to `system`, `messages` and `tools` ([`request`]); the event stream maps to chat
//! chunks ([`events`]). Authentication is `x-api-key` with `anthropic-version: 2023-06-01`; a
//! missing key is an `Authentication` error before any HTTP call (the driver never reads the
//! environment). Failures are retried per [`RetryPolicy`] before the first chunk.

pub mod events;
pub mod request;

use reqwest::header::{HeaderMap, HeaderValue};

use everruns_core::driver::{ChatDriver, ChatRequest, ChatStream, DriverError};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry};
use everruns_driver_common::request::{require_api_key, secret_header};
use everruns_driver_common::{DriverSettings, RetryPolicy, post_stream};

pub use events::MessagesDecoder;
pub use request::DEFAULT_MAX_TOKENS;

/// The Anthropic API base URL used when the provider sets none.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` header value.
pub const API_VERSION: &str = "2023-06-01";

/// The Anthropic Messages API driver.
#[derive(Debug, Clone)]
pub struct AnthropicDriver {
    settings: DriverSettings,
}

impl AnthropicDriver {
    /// A driver for the model, key and optional base URL of a factory config.
    pub fn new(config: &DriverConfig) -> Self {
        Self { settings: DriverSettings::from_config(config, DEFAULT_BASE_URL) }
    }

    /// The same driver with another retry policy (tests shorten the backoff).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.settings.retry = retry;
        self
    }

    /// The same driver with its own HTTP client instead of the shared one.
    pub fn with_client(mut self, client: reqwest::Client) -> Self {
        self.settings.client = Ok(client);
        self
    }

    /// The settings in use.
    pub fn settings(&self) -> &DriverSettings {
        &self.settings
    }
}

#[async_trait::async_trait]
impl ChatDriver for AnthropicDriver {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        let api_key = require_api_key(self.settings.api_key.as_deref(), "Anthropic")?;
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", secret_header(api_key)?);
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        let body = request::build_body(self.settings.model_for(&request), &request);
        let url = format!("{}/v1/messages", self.settings.base_url);
        post_stream(&self.settings, &url, headers, &body, MessagesDecoder::new).await
    }
}

/// Registers the driver under [`DriverId::Anthropic`]. Panics if `anthropic` is already registered.
pub fn register_driver(registry: &mut DriverRegistry) {
    registry.register(DriverId::Anthropic, |config| Box::new(AnthropicDriver::new(config)));
}
