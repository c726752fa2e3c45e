//! Azure OpenAI on the Chat Completions wire: the deployment URL and the credential header.
//!
//! `POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version={version}`.
//! The endpoint is the provider's `base_url` (the resource, e.g. `https://<name>.openai.azure.com`;
//! required: a missing one is a configuration error at turn time). The deployment and the API
//! version come from the provider metadata's `extra` (`deployment`, `api_version`), else from a
//! `base_url` that already names them (`…/openai/deployments/<d>?api-version=<v>`), else the
//! deployment is the model id and the version [`DEFAULT_API_VERSION`]. The key goes in the
//! `api-key` header, or as `Authorization: Bearer <token>` when `extra.auth` is `entra` (a
//! Microsoft Entra ID access token stored as the key).

use reqwest::header::{AUTHORIZATION, HeaderName};

use everruns_core::driver::{DriverError, DriverErrorKind};
use everruns_core::driver_registry::DriverConfig;
use everruns_driver_common::request::secret_header;

use crate::extra_str;

/// The API version used when the provider names none (the 2024-10-21 GA version: streaming
/// usage, tools, `max_completion_tokens`).
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// Where and how an Azure OpenAI provider is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureTarget {
    /// The resource endpoint without a trailing `/` or `/openai…` path; `None` when unset.
    pub endpoint: Option<String>,
    /// The deployment, when configured (else the model id is used).
    pub deployment: Option<String>,
    /// The `api-version` query value.
    pub api_version: String,
    /// Whether the key is a Microsoft Entra ID token (`Authorization: Bearer`).
    pub entra: bool,
}

impl AzureTarget {
    /// The target described by a factory config (base URL and metadata).
    pub fn from_config(config: &DriverConfig) -> Self {
        let raw = config.base_url.as_deref().map(str::trim).unwrap_or_default();
        let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
        let query_version = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("api-version="))
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let path = path.trim_end_matches('/');
        let (endpoint, url_deployment) = match path.find("/openai") {
            Some(at) => {
                let rest = &path[at + "/openai".len()..];
                let deployment = rest
                    .strip_prefix("/deployments/")
                    .and_then(|d| d.split('/').next())
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned);
                (&path[..at], deployment)
            }
            None => (path, None),
        };
        let metadata = &config.metadata;
        let auth = extra_str(metadata, &["auth"]).unwrap_or_default().to_ascii_lowercase();
        Self {
            endpoint: Some(endpoint.to_owned()).filter(|e| !e.is_empty()),
            deployment: extra_str(metadata, &["deployment"]).or(url_deployment),
            api_version: extra_str(metadata, &["api_version"])
                .or(query_version)
                .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned()),
            entra: matches!(auth.as_str(), "entra" | "entra_id" | "azure_ad" | "bearer"),
        }
    }

    /// The Chat Completions URL for `model` (the deployment when none is configured).
    pub fn url(&self, model: &str) -> Result<String, DriverError> {
        let endpoint = self.endpoint.as_deref().ok_or_else(|| {
            misconfigured(
                "the Azure OpenAI provider has no base_url: set it to the resource endpoint, e.g. https://<resource>.openai.azure.com",
            )
        })?;
        let deployment = self.deployment.as_deref().unwrap_or(model).trim();
        if deployment.is_empty() || !deployment.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(misconfigured(format!(
                "'{deployment}' is not a valid Azure OpenAI deployment name (letters, digits, '-', '_', '.')"
            )));
        }
        if self.api_version.is_empty() || !self.api_version.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(misconfigured(format!("'{}' is not a valid Azure OpenAI api-version", self.api_version)));
        }
        Ok(format!("{endpoint}/openai/deployments/{deployment}/chat/completions?api-version={}", self.api_version))
    }

    /// The credential header: `api-key: <key>`, or `Authorization: Bearer <token>` for Entra.
    pub fn auth_header(&self, key: &str) -> Result<(HeaderName, reqwest::header::HeaderValue), DriverError> {
        if self.entra {
            Ok((AUTHORIZATION, secret_header(&format!("Bearer {key}"))?))
        } else {
            Ok((HeaderName::from_static("api-key"), secret_header(key)?))
        }
    }
}

/// A provider configuration error (the "misconfigured" class: the operator must fix it).
fn misconfigured(message: impl Into<String>) -> DriverError {
    DriverError::new(DriverErrorKind::Authentication, message)
}

#[cfg(test)]
mod tests {
    use everruns_core::driver_registry::ProviderMetadata;
    use serde_json::json;

    use super::*;

    fn target(base_url: Option<&str>, extra: Option<serde_json::Value>) -> AzureTarget {
        let metadata = ProviderMetadata { extra, ..Default::default() };
        AzureTarget::from_config(&DriverConfig {
            model: "gpt-4o".into(),
            base_url: base_url.map(str::to_owned),
            metadata,
            ..Default::default()
        })
    }

    #[test]
    fn the_url_defaults_to_the_model_and_the_ga_version() {
        let t = target(Some("https://res.openai.azure.com/"), None);
        assert_eq!(
            t.url("gpt-4o").ok().as_deref(),
            Some("https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21")
        );
        assert!(!t.entra);
    }

    #[test]
    fn metadata_and_base_url_can_name_deployment_and_version() {
        let t = target(
            Some("https://res.openai.azure.com/openai/deployments/from-url?api-version=2025-01-01-preview"),
            None,
        );
        assert_eq!(t.endpoint.as_deref(), Some("https://res.openai.azure.com"));
        assert_eq!((t.deployment.as_deref(), t.api_version.as_str()), (Some("from-url"), "2025-01-01-preview"));
        let t = target(
            Some("https://res.openai.azure.com/openai"),
            Some(json!({"deployment": "prod-4o", "api_version": "2024-12-01-preview", "auth": "Entra"})),
        );
        assert_eq!(
            t.url("ignored").ok().as_deref(),
            Some(
                "https://res.openai.azure.com/openai/deployments/prod-4o/chat/completions?api-version=2024-12-01-preview"
            )
        );
        assert!(t.entra);
    }

    #[test]
    fn a_missing_endpoint_or_a_bad_name_is_a_configuration_error() {
        for base in [None, Some(""), Some("  ")] {
            let error = target(base, None).url("gpt-4o").err();
            assert_eq!(error.as_ref().map(|e| e.kind), Some(DriverErrorKind::Authentication));
            assert!(error.is_some_and(|e| e.message.contains("base_url")));
        }
        assert!(target(Some("https://r"), None).url("a/../b").is_err());
        assert!(target(Some("https://r"), Some(json!({"api_version": "x&y=1"}))).url("m").is_err());
    }
}
