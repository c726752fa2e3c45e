//! # everruns-chat-completions
//!
//! Three chat drivers on the OpenAI **Chat Completions** wire, streaming
//! (`POST …/chat/completions` with `stream: true` and `stream_options.include_usage`):
//!
//! - `openai_completions`: `{base_url}/chat/completions`, default base [`DEFAULT_BASE_URL`],
//!   `Authorization: Bearer <api_key>`. A `base_url` points it at any compatible server (vLLM,
//!   Ollama, LM Studio, Groq, Together); such a server may need no key, so with a custom base URL
//!   a missing key sends no `Authorization` header (with OpenAI's own endpoint it fails closed).
//! - `azure_openai`: the deployment URL and `api-key` (or Entra bearer) header of [`azure`].
//! - `openrouter`: `{base_url}/chat/completions`, default base [`OPENROUTER_BASE_URL`], with the
//!   attribution headers `HTTP-Referer` and `X-Title` (provider metadata `extra.http_referer` /
//!   `extra.x_title`, else [`OPENROUTER_DEFAULT_REFERER`] / [`OPENROUTER_DEFAULT_TITLE`]) and
//!   model names such as `anthropic/claude-sonnet-4`.
//!
//! The history maps to `messages` ([`request`]); the chunk stream maps to chat chunks
//! ([`events`]). The driver never reads the environment; a missing key (or Azure endpoint) is an
//! `Authentication` ("misconfigured") error before any HTTP call. Failures are retried per
//! [`RetryPolicy`] before the first chunk; HTTP errors are typed by `everruns-driver-common`
//! (401/403 authentication, 429 rate limit with `retry-after`, 5xx provider, 400 context length
//! as request-too-large).

pub mod azure;
pub mod events;
pub mod request;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use everruns_core::driver::{ChatDriver, ChatRequest, ChatStream, DriverError};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry, ProviderMetadata};
use everruns_driver_common::request::{require_api_key, secret_header};
use everruns_driver_common::{DriverSettings, RetryPolicy, post_stream};

pub use azure::AzureTarget;
pub use events::ChatCompletionsDecoder;
pub use request::Dialect;

/// The OpenAI API base URL used by `openai_completions` when the provider sets none.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// OpenRouter's OpenAI-compatible base URL.
pub const OPENROUTER_BASE_URL: &str = "https://openrouter.ai/api/v1";
/// The `HTTP-Referer` sent to OpenRouter when the provider metadata names none.
pub const OPENROUTER_DEFAULT_REFERER: &str = "https://everruns.dev";
/// The `X-Title` sent to OpenRouter when the provider metadata names none.
pub const OPENROUTER_DEFAULT_TITLE: &str = "Everruns";

/// Which backend a driver instance speaks to.
#[derive(Debug, Clone)]
enum Backend {
    /// OpenAI, or a compatible server at a custom base URL (`custom`).
    OpenAi { custom: bool },
    /// Azure OpenAI.
    Azure(AzureTarget),
    /// OpenRouter, with its attribution headers.
    OpenRouter { referer: String, title: String },
}

/// A Chat Completions driver (OpenAI and compatible servers, Azure OpenAI or OpenRouter).
#[derive(Debug, Clone)]
pub struct ChatCompletionsDriver {
    settings: DriverSettings,
    backend: Backend,
}

impl ChatCompletionsDriver {
    /// The `openai_completions` driver: OpenAI, or the compatible server at the config's base URL.
    pub fn openai(config: &DriverConfig) -> Self {
        let custom = config.base_url.as_deref().is_some_and(|url| {
            let url = url.trim().trim_end_matches('/');
            !url.is_empty() && url != DEFAULT_BASE_URL
        });
        Self { settings: DriverSettings::from_config(config, DEFAULT_BASE_URL), backend: Backend::OpenAi { custom } }
    }

    /// The `azure_openai` driver (the config's base URL is the resource endpoint).
    pub fn azure(config: &DriverConfig) -> Self {
        Self {
            settings: DriverSettings::from_config(config, ""),
            backend: Backend::Azure(AzureTarget::from_config(config)),
        }
    }

    /// The `openrouter` driver.
    pub fn openrouter(config: &DriverConfig) -> Self {
        let header =
            |keys: &[&str], default: &str| extra_str(&config.metadata, keys).unwrap_or_else(|| default.to_owned());
        let backend = Backend::OpenRouter {
            referer: header(&["http_referer", "referer"], OPENROUTER_DEFAULT_REFERER),
            title: header(&["x_title", "title"], OPENROUTER_DEFAULT_TITLE),
        };
        Self { settings: DriverSettings::from_config(config, OPENROUTER_BASE_URL), backend }
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

    /// How the request body spells the open options for this backend.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::OpenAi { custom: false } | Backend::Azure(_) => Dialect::OpenAi,
            Backend::OpenAi { custom: true } => Dialect::Compatible,
            Backend::OpenRouter { .. } => Dialect::OpenRouter,
        }
    }

    /// The URL and headers of a call to `model`, or the configuration error that prevents it.
    fn target(&self, model: &str) -> Result<(String, HeaderMap), DriverError> {
        let api_key = self.settings.api_key.as_deref();
        let mut headers = HeaderMap::new();
        let url = match &self.backend {
            Backend::OpenAi { custom } => {
                match api_key.map(str::trim).filter(|k| !k.is_empty()) {
                    Some(key) => {
                        headers.insert(AUTHORIZATION, secret_header(&format!("Bearer {key}"))?);
                    }
                    None if *custom => {}
                    // OpenAI's own endpoint fails closed without a key.
                    None => {
                        require_api_key(None, "OpenAI")?;
                    }
                }
                format!("{}/chat/completions", self.settings.base_url)
            }
            Backend::Azure(target) => {
                let url = target.url(model)?;
                let key = require_api_key(api_key, "Azure OpenAI")?;
                let (name, value) = target.auth_header(key)?;
                headers.insert(name, value);
                url
            }
            Backend::OpenRouter { referer, title } => {
                let key = require_api_key(api_key, "OpenRouter")?;
                headers.insert(AUTHORIZATION, secret_header(&format!("Bearer {key}"))?);
                for (name, value) in [("http-referer", referer), ("x-title", title)] {
                    if let Ok(value) = HeaderValue::from_str(value) {
                        headers.insert(HeaderName::from_static(name), value);
                    }
                }
                format!("{}/chat/completions", self.settings.base_url)
            }
        };
        Ok((url, headers))
    }
}

#[async_trait::async_trait]
impl ChatDriver for ChatCompletionsDriver {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        let model = self.settings.model_for(&request);
        let (url, headers) = self.target(model)?;
        let body = request::build_body(model, &request, self.dialect());
        post_stream(&self.settings, &url, headers, &body, ChatCompletionsDecoder::new).await
    }
}

/// A non-blank string in the provider metadata's `extra` object, under the first of `keys` set.
pub(crate) fn extra_str(metadata: &ProviderMetadata, keys: &[&str]) -> Option<String> {
    let extra = metadata.extra.as_ref()?;
    keys.iter()
        .find_map(|key| extra.get(key).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty()))
        .map(str::to_owned)
}

/// Registers `openai_completions`, `azure_openai` and `openrouter`. Panics if one of them is
/// already registered.
pub fn register_drivers(registry: &mut DriverRegistry) {
    registry.register(DriverId::OpenAiCompletions, |config| Box::new(ChatCompletionsDriver::openai(config)));
    registry.register(DriverId::AzureOpenAi, |config| Box::new(ChatCompletionsDriver::azure(config)));
    registry.register(DriverId::OpenRouter, |config| Box::new(ChatCompletionsDriver::openrouter(config)));
}
