//! # everruns-openai
//!
//! The `openai` chat driver: the OpenAI **Responses API**, streaming
//! (`POST {base_url}/responses` with `stream: true`, default base URL [`DEFAULT_BASE_URL`]).
//!
//! The history maps to `instructions` and `input` items ([`request`]); the event stream maps to
//! chat chunks ([`events`]). Authentication is `Authorization: Bearer <api_key>`; a missing key is
//! an `Authentication` error before any HTTP call (the driver never reads the environment).
//! Failures are retried per [`RetryPolicy`] before the first chunk.

pub mod events;
pub mod request;

use reqwest::header::{AUTHORIZATION, HeaderMap};

use everruns_core::driver::{ChatDriver, ChatRequest, ChatStream, DriverError};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry};
use everruns_driver_common::request::{require_api_key, secret_header};
use everruns_driver_common::{DriverSettings, RetryPolicy, post_stream};

pub use events::ResponsesDecoder;

/// The OpenAI API base URL used when the provider sets none.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The OpenAI Responses API driver.
#[derive(Debug, Clone)]
pub struct OpenAiDriver {
    settings: DriverSettings,
}

impl OpenAiDriver {
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
impl ChatDriver for OpenAiDriver {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        let api_key = require_api_key(self.settings.api_key.as_deref(), "OpenAI")?;
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, secret_header(&format!("Bearer {api_key}"))?);
        let body = request::build_body(self.settings.model_for(&request), &request);
        let url = format!("{}/responses", self.settings.base_url);
        post_stream(&self.settings, &url, headers, &body, ResponsesDecoder::new).await
    }
}

/// Registers the driver under [`DriverId::OpenAi`]. Panics if `openai` is already registered.
pub fn register_driver(registry: &mut DriverRegistry) {
    registry.register(DriverId::OpenAi, |config| Box::new(OpenAiDriver::new(config)));
}
