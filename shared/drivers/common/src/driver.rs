//! What every HTTP driver holds ([`DriverSettings`]) and its one call: [`post_stream`], a JSON POST
//! answered by an SSE stream, decoded and retried per the policy.

use std::fmt;

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use serde_json::Value;

use everruns_core::driver::{ChatRequest, ChatStream, DriverError};
use everruns_core::driver_registry::DriverConfig;

use crate::http::{send, shared_client};
use crate::request::base_url;
use crate::retry::{RetryPolicy, stream_with_retry};
use crate::stream::{EventDecoder, decode_response};

/// The configuration of one driver instance: model, credentials, endpoint, client, retries.
#[derive(Clone)]
pub struct DriverSettings {
    /// Wire model id used when the request names none.
    pub model: String,
    /// API key (never printed by `Debug`).
    pub api_key: Option<String>,
    /// Base URL, without trailing `/`.
    pub base_url: String,
    /// The HTTP client, or the error that prevented building it (reported on each call).
    pub client: Result<reqwest::Client, DriverError>,
    /// Driver-level retries.
    pub retry: RetryPolicy,
}

impl fmt::Debug for DriverSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverSettings")
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl DriverSettings {
    /// Settings from a factory's [`DriverConfig`]: its `base_url` overrides `default_base_url`;
    /// the shared client and the default retry policy are used.
    pub fn from_config(config: &DriverConfig, default_base_url: &str) -> Self {
        Self {
            model: config.model.clone(),
            api_key: config.api_key.clone(),
            base_url: base_url(config.base_url.as_deref(), default_base_url),
            client: shared_client(),
            retry: RetryPolicy::default(),
        }
    }

    /// The model to call: the request's when it names one, else the configured one.
    pub fn model_for<'a>(&'a self, request: &'a ChatRequest) -> &'a str {
        if request.model.trim().is_empty() { &self.model } else { &request.model }
    }
}

/// POSTs `body` as JSON to `url` with `headers` (plus `Accept: text/event-stream`) and decodes the
/// SSE answer with a fresh decoder from `decoder` for each attempt, retrying per `settings.retry`.
pub async fn post_stream<D, F>(
    settings: &DriverSettings,
    url: &str,
    headers: HeaderMap,
    body: &Value,
    decoder: F,
) -> Result<ChatStream, DriverError>
where
    D: EventDecoder,
    F: Fn() -> D,
{
    let client = settings.client.clone()?;
    let body = serde_json::to_vec(body)
        .map_err(|e| DriverError::new(everruns_core::DriverErrorKind::Other, format!("encoding the request: {e}")))?;
    stream_with_retry(&settings.retry, || {
        let request = client
            .post(url)
            .headers(headers.clone())
            .header(ACCEPT, HeaderValue::from_static("text/event-stream"))
            .header(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.clone());
        let decoder = decoder();
        async move { Ok(decode_response(send(request).await?, decoder)) }
    })
    .await
}
