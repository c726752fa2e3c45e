//! Where a Bedrock provider's calls go and whose identity signs them: [`BedrockSettings`], read from
//! the provider's stored secret and metadata.
//!
//! The stored secret (`api_key`, sealed by the platform cipher) is one of:
//! - nothing: the default AWS credential chain of the process (the worker's IAM role on Lambda);
//! - a JSON credentials document: `{"access_key_id", "secret_access_key", "session_token"?}` for
//!   static keys (SigV4), optionally with `region`, `role_arn`, `external_id` and
//!   `sts_endpoint_url`; a document without keys keeps the default chain but sets those fields;
//! - any other text: a Bedrock API key, sent as a bearer token.
//!
//! The provider's free-form metadata (`ProviderMetadata::extra`) may carry the same `region`,
//! `role_arn`, `external_id` and `sts_endpoint_url` keys; the document wins over the metadata.
//! With `role_arn`, the base identity (keys or default chain) assumes that role through STS.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use everruns_core::driver::{DriverError, DriverErrorKind};
use everruns_core::driver_registry::DriverConfig;

/// Static AWS keys from a credentials document.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct StaticKeys {
    /// `access_key_id`.
    pub access_key_id: String,
    /// `secret_access_key`.
    pub secret_access_key: String,
    /// `session_token`, for temporary keys.
    pub session_token: Option<String>,
}

/// The base identity of a provider's calls.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The process's default AWS credential chain (environment, web identity, container, IMDS).
    DefaultChain,
    /// Static keys from the provider's credentials document.
    Keys(StaticKeys),
    /// A Bedrock API key, sent as `Authorization: Bearer`.
    ApiKey(String),
}

/// Everything that decides which client serves a provider: identity, region, role and endpoints.
/// Equal settings share one SDK client (connection pool and credentials cache).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BedrockSettings {
    /// Who signs.
    pub identity: Identity,
    /// AWS region; `None`: the default region chain, else `us-east-1`.
    pub region: Option<String>,
    /// A role to assume through STS with the base identity.
    pub role_arn: Option<String>,
    /// The external id the role's trust policy requires.
    pub external_id: Option<String>,
    /// STS endpoint override (a VPC endpoint, or a local fake in tests).
    pub sts_endpoint_url: Option<String>,
    /// Bedrock Runtime endpoint override (the provider's `base_url`).
    pub endpoint_url: Option<String>,
}

impl fmt::Debug for BedrockSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let identity = match &self.identity {
            Identity::DefaultChain => "default-chain".to_owned(),
            Identity::Keys(keys) => format!("keys({}, <redacted>)", keys.access_key_id),
            Identity::ApiKey(_) => "api-key(<redacted>)".to_owned(),
        };
        f.debug_struct("BedrockSettings")
            .field("identity", &identity)
            .field("region", &self.region)
            .field("role_arn", &self.role_arn)
            .field("sts_endpoint_url", &self.sts_endpoint_url)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

/// The JSON credentials document (every field optional; see the module docs).
#[derive(Debug, Default, Deserialize)]
struct CredentialsDocument {
    #[serde(default, alias = "aws_access_key_id", alias = "accessKeyId")]
    access_key_id: Option<String>,
    #[serde(default, alias = "aws_secret_access_key", alias = "secretAccessKey")]
    secret_access_key: Option<String>,
    #[serde(default, alias = "aws_session_token", alias = "sessionToken")]
    session_token: Option<String>,
    #[serde(flatten)]
    routing: Routing,
}

/// The keys both the document and the provider metadata may carry.
#[derive(Debug, Default, Deserialize)]
struct Routing {
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    role_arn: Option<String>,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    sts_endpoint_url: Option<String>,
}

fn misconfigured(message: impl Into<String>) -> DriverError {
    DriverError::new(DriverErrorKind::Authentication, message)
}

/// A non-blank, trimmed value.
fn present(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

impl BedrockSettings {
    /// Reads a factory config. A malformed credentials document or incomplete keys are an
    /// [`DriverErrorKind::Authentication`] error (reported on each call, never the secret itself).
    pub fn from_config(config: &DriverConfig) -> Result<Self, DriverError> {
        let metadata: Routing = match &config.metadata.extra {
            Some(Value::Object(map)) => serde_json::from_value(Value::Object(map.clone()))
                .map_err(|e| misconfigured(format!("the Bedrock provider metadata is malformed: {e}")))?,
            _ => Routing::default(),
        };
        let secret = config.api_key.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let (identity, document) = match secret {
            None => (Identity::DefaultChain, Routing::default()),
            Some(text) if text.starts_with('{') => {
                // Only the position is reported: serde's message may quote a value.
                let document: CredentialsDocument = serde_json::from_str(text).map_err(|e| {
                    misconfigured(format!(
                        "the Bedrock credentials document is not a valid JSON object of strings (line {}, column {})",
                        e.line(),
                        e.column()
                    ))
                })?;
                (document_identity(&document)?, document.routing)
            }
            Some(text) => (Identity::ApiKey(text.to_owned()), Routing::default()),
        };
        let endpoint_url = present(config.base_url.clone()).map(|u| u.trim_end_matches('/').to_owned());
        Ok(Self {
            identity,
            region: present(document.region).or(present(metadata.region)),
            role_arn: present(document.role_arn).or(present(metadata.role_arn)),
            external_id: present(document.external_id).or(present(metadata.external_id)),
            sts_endpoint_url: present(document.sts_endpoint_url).or(present(metadata.sts_endpoint_url)),
            endpoint_url,
        })
    }
}

fn document_identity(document: &CredentialsDocument) -> Result<Identity, DriverError> {
    let access_key_id = present(document.access_key_id.clone());
    let secret_access_key = present(document.secret_access_key.clone());
    match (access_key_id, secret_access_key) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Identity::Keys(StaticKeys {
            access_key_id,
            secret_access_key,
            session_token: present(document.session_token.clone()),
        })),
        (None, None) if present(document.session_token.clone()).is_none() => Ok(Identity::DefaultChain),
        _ => Err(misconfigured(
            "the Bedrock credentials document needs both access_key_id and secret_access_key (session_token is optional)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use everruns_core::driver_registry::ProviderMetadata;
    use serde_json::json;

    use super::*;

    fn settings(api_key: Option<&str>, extra: Option<Value>) -> Result<BedrockSettings, DriverError> {
        BedrockSettings::from_config(&DriverConfig {
            model: "m".into(),
            api_key: api_key.map(str::to_owned),
            base_url: Some("http://127.0.0.1:9/".into()),
            metadata: ProviderMetadata { extra, ..Default::default() },
        })
    }

    #[test]
    fn no_secret_is_the_default_chain_with_metadata_routing() {
        let got = settings(None, Some(json!({"region": "eu-west-3", "role_arn": "arn:aws:iam::1:role/r"})));
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert!(got.identity == Identity::DefaultChain);
        assert_eq!(got.region.as_deref(), Some("eu-west-3"));
        assert_eq!(got.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(got.endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
    }

    #[test]
    fn documents_carry_keys_and_win_over_metadata() {
        let doc = r#"{"access_key_id":"AKIDEXAMPLE","secret_access_key":"s3cr3t","session_token":"tok","region":"us-west-2"}"#;
        let got = settings(Some(doc), Some(json!({"region": "eu-west-1"}))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.region.as_deref(), Some("us-west-2"));
        match &got.identity {
            Identity::Keys(keys) => {
                assert_eq!((keys.access_key_id.as_str(), keys.session_token.as_deref()), ("AKIDEXAMPLE", Some("tok")));
            }
            _ => panic!("expected keys"),
        }
        let printed = format!("{got:?}");
        assert!(printed.contains("AKIDEXAMPLE") && !printed.contains("s3cr3t") && !printed.contains("tok\""));
        let region_only = settings(Some(r#"{"region":"ap-south-1"}"#), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(region_only.identity == Identity::DefaultChain);
        assert_eq!(region_only.region.as_deref(), Some("ap-south-1"));
    }

    #[test]
    fn plain_text_is_an_api_key_and_bad_documents_are_misconfigurations() {
        let got = settings(Some("ABSKbedrock-key"), None).unwrap_or_else(|e| panic!("{e}"));
        assert!(got.identity == Identity::ApiKey("ABSKbedrock-key".into()));
        assert!(!format!("{got:?}").contains("ABSK"));
        for bad in [r#"{"access_key_id":"AKID"}"#, r#"{"secret_access_key":"x"}"#, r#"{"region": 3}"#, "{nope"] {
            let error = settings(Some(bad), None).err().map(|e| (e.kind, e.message));
            assert!(
                matches!(&error, Some((DriverErrorKind::Authentication, m)) if !m.contains("x\"")),
                "{bad}: {error:?}"
            );
        }
        assert!(settings(None, Some(json!({"region": ["x"]}))).is_err());
    }
}
