//! # everruns-gemini
//!
//! The `gemini` chat driver: the Google **Gemini API**, streaming
//! (`POST {base_url}/v1beta/models/{model}:streamGenerateContent?alt=sse`, default base URL
//! [`DEFAULT_BASE_URL`]).
//!
//! The history maps to `contents`, `systemInstruction`, `tools` and `generationConfig`
//! ([`request`]); the event stream maps to chat chunks ([`events`]). Authentication is the
//! `x-goog-api-key` header (never a URL query); a missing key is an `Authentication` error before
//! any HTTP call (the driver never reads the environment). Failures are retried per [`RetryPolicy`]
//! before the first chunk.

pub mod events;
pub mod request;

use reqwest::header::HeaderMap;

use everruns_core::driver::{ChatDriver, ChatRequest, ChatStream, DriverError};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry};
use everruns_driver_common::request::{require_api_key, secret_header};
use everruns_driver_common::{DriverSettings, RetryPolicy, post_stream};

pub use events::GenerateContentDecoder;
pub use request::DEFAULT_MAX_OUTPUT_TOKENS;

/// The Gemini API base URL used when the provider sets none.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// The Gemini API driver.
#[derive(Debug, Clone)]
pub struct GeminiDriver {
    settings: DriverSettings,
}

impl GeminiDriver {
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

/// The streaming URL for a model (`models/` prefix optional; other characters percent-encoded).
pub fn stream_url(base_url: &str, model: &str) -> String {
    let model = model.trim().strip_prefix("models/").unwrap_or(model.trim());
    let mut encoded = String::with_capacity(model.len());
    for byte in model.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{base_url}/v1beta/models/{encoded}:streamGenerateContent?alt=sse")
}

#[async_trait::async_trait]
impl ChatDriver for GeminiDriver {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        let api_key = require_api_key(self.settings.api_key.as_deref(), "Gemini")?;
        let mut headers = HeaderMap::new();
        headers.insert("x-goog-api-key", secret_header(api_key)?);
        let model = self.settings.model_for(&request);
        let body = request::build_body(model, &request);
        let url = stream_url(&self.settings.base_url, model);
        post_stream(&self.settings, &url, headers, &body, GenerateContentDecoder::new).await
    }
}

/// Registers the driver under [`DriverId::Gemini`]. Panics if `gemini` is already registered.
pub fn register_driver(registry: &mut DriverRegistry) {
    registry.register(DriverId::Gemini, |config| Box::new(GeminiDriver::new(config)));
}

#[cfg(test)]
mod tests {
    use super::stream_url;

    #[test]
    fn model_names_are_path_safe() {
        assert_eq!(
            stream_url("http://h", "models/gemini-2.5-flash"),
            "http://h/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert_eq!(stream_url("http://h", "a/b?c"), "http://h/v1beta/models/a%2Fb%3Fc:streamGenerateContent?alt=sse");
    }
}
