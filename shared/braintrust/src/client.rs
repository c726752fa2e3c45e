//! The two Braintrust REST calls the logger makes (Bearer auth, JSON):
//!
//! - `POST {api_url}/v1/project` with `{"name": …}`: creates the project, or returns the existing
//!   one of that name unmodified; the logger keeps its `id`.
//! - `POST {api_url}/v1/project_logs/{project_id}/insert` with `{"events": [row, …]}`: inserts
//!   (or, for a known row `id`, replaces) rows; answers `{"row_ids": […]}`.

use everruns_core::report::error_chain;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use crate::config::{API_KEY_VAR, BraintrustConfig};
use crate::error::{BraintrustConfigError, BraintrustError};
use crate::options::LoggerOptions;

/// Why a call failed. Never returned to users of the crate: it only feeds warnings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ApiError {
    /// No response: connection refused or reset, DNS, timeout.
    #[error("request failed: {0}")]
    Transport(String),
    /// A non-2xx response (body truncated).
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The first 300 characters of the body.
        body: String,
    },
    /// A 2xx response that is not what the API documents.
    #[error("unexpected response: {0}")]
    InvalidResponse(String),
}

impl ApiError {
    /// Whether trying again may help: transport failures, 408, 429 and 5xx.
    pub(crate) fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status { status, .. } => *status == 408 || *status == 429 || *status >= 500,
            Self::InvalidResponse(_) => false,
        }
    }
}

/// A Braintrust API client bound to one base URL and key.
#[derive(Clone)]
pub(crate) struct ApiClient {
    http: reqwest::Client,
    base: String,
    auth: HeaderValue,
}

impl ApiClient {
    /// Builds the HTTP client (no proxies from the environment, the options' timeouts).
    pub(crate) fn new(config: &BraintrustConfig, options: &LoggerOptions) -> Result<Self, BraintrustError> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.api_key()))
            .map_err(|_| BraintrustConfigError::InvalidApiKey { variable: API_KEY_VAR })?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(format!("everruns-braintrust/{}", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build()
            .map_err(|e| BraintrustError::HttpClient(error_chain(&e)))?;
        Ok(Self { http, base: config.api_url().to_owned(), auth })
    }

    /// `POST /v1/project`: the id of the project of that name (created if missing).
    pub(crate) async fn register_project(&self, name: &str) -> Result<String, ApiError> {
        let body = serde_json::to_vec(&json!({ "name": name })).map_err(|e| ApiError::Transport(e.to_string()))?;
        let response = self.post(&format!("{}/v1/project", self.base), body).await?;
        let project: Value = response.json().await.map_err(|e| ApiError::InvalidResponse(error_chain(&e)))?;
        match project.get("id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(id.to_owned()),
            _ => Err(ApiError::InvalidResponse("the project has no id".to_owned())),
        }
    }

    /// `POST /v1/project_logs/{project_id}/insert` with a ready `{"events": […]}` body.
    pub(crate) async fn insert(&self, project_id: &str, body: Vec<u8>) -> Result<(), ApiError> {
        let url = format!("{}/v1/project_logs/{project_id}/insert", self.base);
        self.post(&url, body).await.map(drop)
    }

    async fn post(&self, url: &str, body: Vec<u8>) -> Result<reqwest::Response, ApiError> {
        let response = self
            .http
            .post(url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await
            .map_err(|e| ApiError::Transport(error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(status_error(status, response).await)
    }
}

async fn status_error(status: StatusCode, response: reqwest::Response) -> ApiError {
    let body = response.text().await.unwrap_or_default();
    ApiError::Status { status: status.as_u16(), body: body.chars().take(300).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_only_what_may_recover() {
        assert!(ApiError::Transport("refused".into()).is_retryable());
        for status in [408, 429, 500, 502, 503] {
            assert!(ApiError::Status { status, body: String::new() }.is_retryable(), "{status}");
        }
        for status in [400, 401, 403, 404, 413] {
            assert!(!ApiError::Status { status, body: String::new() }.is_retryable(), "{status}");
        }
        assert!(!ApiError::InvalidResponse("x".into()).is_retryable());
    }
}
