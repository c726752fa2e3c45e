//! Providers (keys sealed by the secret cipher, never returned) and their models.
//!
//! A provider's secret is `api_key`, or `credentials`: an object of string fields for drivers
//! with several secrets (Bedrock: `access_key_id`, `secret_access_key`, `session_token`, `region`,
//! `role_arn`), stored as its JSON document exactly like a key (sealed, never returned,
//! `api_key_set`) and taking precedence over `api_key`.

use everruns_core::DriverId;
use everruns_core::domain::{Model, ModelSource, Provider, ProviderStatus};
use everruns_core::ids::{ModelId, OrgId, ProviderId};
use everruns_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::{ServiceError, ServiceResult};

/// Fields of `POST /v1/providers` and (all optional) `PATCH`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderInput {
    /// Name.
    pub name: Option<String>,
    /// Driver id.
    pub provider_type: Option<String>,
    /// API key (write-only).
    pub api_key: Option<String>,
    /// Typed credential fields (write-only): an object of strings, stored as a JSON document in
    /// place of the key (`{}` removes it). Checked by [`credentials_document`].
    pub credentials: Option<serde_json::Value>,
    /// Endpoint override.
    pub base_url: Option<String>,
    /// Status (PATCH only).
    pub status: Option<ProviderStatus>,
}

/// A model with its provider's facts, as `GET /v1/models` returns it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelWithProvider {
    /// The model.
    #[serde(flatten)]
    pub model: Model,
    /// Provider name.
    pub provider_name: String,
    /// Driver id.
    pub provider_type: DriverId,
    /// Provider active and usable.
    pub healthy: bool,
    /// Vendor (`llmsim`, `openai`, …) when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_vendor: Option<&'static str>,
}

/// Fields of `POST /v1/providers/{id}/models` and (all optional) `PATCH /v1/models/{id}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelInput {
    /// Wire model id.
    pub model_id: Option<String>,
    /// UI label.
    pub display_name: Option<String>,
    /// Capabilities.
    pub capabilities: Option<Vec<String>>,
    /// Enabled.
    pub enabled: Option<bool>,
    /// Favorite.
    pub is_favorite: Option<bool>,
    /// Move to another provider (PATCH only).
    pub provider_id: Option<String>,
}

/// Active, and with a key unless the driver needs none (the simulator; Bedrock, which falls back
/// to the process's AWS credential chain).
fn healthy(provider: &Provider) -> bool {
    provider.status == ProviderStatus::Active
        && (provider.api_key_set || matches!(provider.provider_type, DriverId::LlmSim | DriverId::Bedrock))
}

/// The secret to store: `credentials` as a compact JSON document when given (an object whose
/// fields are all strings; `{}` clears the secret like an empty `api_key`), else `api_key`. The
/// error never quotes a value.
pub fn credentials_document(
    credentials: Option<serde_json::Value>,
    api_key: Option<String>,
) -> ServiceResult<Option<String>> {
    match credentials {
        None | Some(serde_json::Value::Null) => Ok(api_key),
        Some(serde_json::Value::Object(fields)) => {
            if let Some((name, _)) = fields.iter().find(|(_, value)| !value.is_string()) {
                let name: String = name.chars().take(64).collect();
                return Err(ServiceError::bad_request(format!("credentials.{name} must be a string")));
            }
            if fields.is_empty() {
                return Ok(Some(String::new()));
            }
            serde_json::to_string(&fields).map(Some).map_err(|e| ServiceError::Internal(e.to_string()))
        }
        Some(_) => Err(ServiceError::bad_request("credentials must be an object of string fields")),
    }
}

fn vendor(driver: &DriverId) -> Option<&'static str> {
    match driver {
        DriverId::OpenAi | DriverId::OpenAiCompletions | DriverId::AzureOpenAi => Some("openai"),
        DriverId::Anthropic => Some("anthropic"),
        DriverId::Gemini => Some("google"),
        DriverId::LlmSim => Some("llmsim"),
        _ => None,
    }
}

/// Reads a provider (400 malformed id, 404 absent).
pub async fn find_provider(state: &App, org: OrgId, id: &str) -> ServiceResult<Provider> {
    let id = ProviderId::parse(id)?;
    state.stores.providers.get_provider(org, id).await?.ok_or_else(|| ServiceError::not_found("provider", id))
}

/// A provider's `base_url` must be one the outbound policy lets turns reach (checked again at turn
/// time, in case its name resolves elsewhere later).
async fn check_base_url(state: &App, url: Option<&str>) -> ServiceResult<()> {
    match url.filter(|u| !u.is_empty()) {
        Some(url) => state
            .config
            .outbound
            .check_resolved(url)
            .await
            .map_err(|why| ServiceError::bad_request(format!("base_url {why}"))),
        None => Ok(()),
    }
}

/// Creates a provider, sealing its key.
pub async fn create_provider(state: &App, org: OrgId, input: ProviderInput) -> ServiceResult<Provider> {
    check_base_url(state, input.base_url.as_deref()).await?;
    let name =
        input.name.filter(|n| !n.trim().is_empty()).ok_or_else(|| ServiceError::bad_request("name is required"))?;
    super::validate::line("name", &name, 200)?;
    let driver = input.provider_type.ok_or_else(|| ServiceError::bad_request("provider_type is required"))?;
    let provider_type = DriverId::parse(&driver).map_err(|e| ServiceError::bad_request(e.to_string()))?;
    let now = Timestamp::now();
    let mut provider = Provider {
        id: ProviderId::new(),
        org_id: org,
        name,
        provider_type,
        status: input.status.unwrap_or_default(),
        api_key_set: false,
        api_key_encrypted: None,
        base_url: input.base_url,
        metadata: None,
        created_at: now,
        updated_at: now,
    };
    set_key(state, &mut provider, credentials_document(input.credentials, input.api_key)?)?;
    state.stores.providers.insert_provider(&provider).await?;
    Ok(provider)
}

fn set_key(state: &App, provider: &mut Provider, key: Option<String>) -> ServiceResult<()> {
    if let Some(key) = key {
        if key.is_empty() {
            provider.api_key_encrypted = None;
        } else {
            let sealed = state.cipher.seal(&key).map_err(|e| ServiceError::Internal(e.to_string()))?;
            provider.api_key_encrypted = Some(sealed);
        }
        provider.api_key_set = provider.api_key_encrypted.is_some();
    }
    Ok(())
}

/// Updates a provider.
pub async fn patch_provider(state: &App, org: OrgId, id: &str, input: ProviderInput) -> ServiceResult<Provider> {
    let mut provider = find_provider(state, org, id).await?;
    if let Some(name) = input.name {
        if name.trim().is_empty() {
            return Err(ServiceError::bad_request("name must not be empty"));
        }
        super::validate::line("name", &name, 200)?;
        provider.name = name;
    }
    if let Some(driver) = input.provider_type {
        provider.provider_type = DriverId::parse(&driver).map_err(|e| ServiceError::bad_request(e.to_string()))?;
    }
    if input.base_url.is_some() {
        check_base_url(state, input.base_url.as_deref()).await?;
        provider.base_url = input.base_url.filter(|u| !u.is_empty());
    }
    if let Some(status) = input.status {
        provider.status = status;
    }
    set_key(state, &mut provider, credentials_document(input.credentials, input.api_key)?)?;
    provider.updated_at = Timestamp::now();
    state.stores.providers.update_provider(&provider).await?;
    Ok(provider)
}

/// All models of the org with their provider facts.
pub async fn list_models(
    state: &App,
    org: OrgId,
    provider: Option<ProviderId>,
) -> ServiceResult<Vec<ModelWithProvider>> {
    let providers = state.stores.providers.list_providers(org).await?;
    let models = state.stores.providers.list_models(org, provider).await?;
    Ok(models.into_iter().filter_map(|m| with_provider(m, &providers)).collect())
}

fn with_provider(model: Model, providers: &[Provider]) -> Option<ModelWithProvider> {
    let provider = providers.iter().find(|p| p.id == model.provider_id)?;
    Some(ModelWithProvider {
        provider_name: provider.name.clone(),
        provider_type: provider.provider_type.clone(),
        healthy: healthy(provider),
        model_vendor: vendor(&provider.provider_type),
        model,
    })
}

/// Reads a model with its provider facts.
pub async fn find_model(state: &App, org: OrgId, id: &str) -> ServiceResult<ModelWithProvider> {
    let id = ModelId::parse(id)?;
    let model = state.stores.providers.get_model(org, id).await?.ok_or_else(|| ServiceError::not_found("model", id))?;
    let providers = state.stores.providers.list_providers(org).await?;
    with_provider(model, &providers).ok_or_else(|| ServiceError::not_found("model", id))
}

/// Creates a model under a provider.
pub async fn create_model(state: &App, org: OrgId, provider: &str, input: ModelInput) -> ServiceResult<Model> {
    let provider = find_provider(state, org, provider).await?;
    let model_id = input
        .model_id
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| ServiceError::bad_request("model_id is required"))?;
    let display_name = input
        .display_name
        .filter(|d| !d.trim().is_empty())
        .ok_or_else(|| ServiceError::bad_request("display_name is required"))?;
    super::validate::line("display_name", &display_name, 200)?;
    let now = Timestamp::now();
    let model = Model {
        id: ModelId::new(),
        provider_id: provider.id,
        model_id,
        display_name,
        capabilities: input.capabilities.unwrap_or_else(|| vec!["text".into()]),
        enabled: input.enabled.unwrap_or(true),
        is_favorite: input.is_favorite.unwrap_or(false),
        source: ModelSource::Manual,
        created_at: now,
        updated_at: now,
    };
    state.stores.providers.insert_model(org, &model).await?;
    Ok(model)
}

/// Updates a model.
pub async fn patch_model(state: &App, org: OrgId, id: &str, input: ModelInput) -> ServiceResult<Model> {
    let mut model = find_model(state, org, id).await?.model;
    if let Some(provider) = input.provider_id {
        model.provider_id = find_provider(state, org, &provider).await?.id;
    }
    if let Some(model_id) = input.model_id {
        if model_id.trim().is_empty() {
            return Err(ServiceError::bad_request("model_id must not be empty"));
        }
        model.model_id = model_id;
    }
    if let Some(display_name) = input.display_name {
        super::validate::line("display_name", &display_name, 200)?;
        model.display_name = display_name;
    }
    if let Some(capabilities) = input.capabilities {
        model.capabilities = capabilities;
    }
    if let Some(enabled) = input.enabled {
        model.enabled = enabled;
    }
    if let Some(fav) = input.is_favorite {
        model.is_favorite = fav;
    }
    model.updated_at = Timestamp::now();
    state.stores.providers.update_model(org, &model).await?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn credentials_become_the_stored_document_and_win_over_the_key() {
        let fields = json!({"access_key_id": "AKID", "secret_access_key": "s", "region": "eu-west-3"});
        let stored = credentials_document(Some(fields.clone()), Some("ignored".into())).ok().flatten();
        assert_eq!(stored.and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()), Some(fields));
        assert_eq!(credentials_document(None, Some("sk".into())).ok().flatten().as_deref(), Some("sk"));
        assert_eq!(credentials_document(Some(json!(null)), None).ok(), Some(None));
        assert_eq!(credentials_document(Some(json!({})), None).ok().flatten().as_deref(), Some(""));
        for bad in [json!("AKID"), json!(["a"]), json!({"secret_access_key": 12345}), json!({"a": {"b": "c"}})] {
            let error = credentials_document(Some(bad), None).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("credentials") && !error.contains("12345"), "{error}");
        }
    }
}
