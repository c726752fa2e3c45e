//! Providers (LLM accounts, keys write-only) and their models.

use utoipa::ToSchema;

use super::common::{ModelId, ProviderId, Timestamp};

/// `active` or `disabled`.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ProviderStatus {
    Active,
    Disabled,
}

/// Where a model row came from.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ModelSource {
    Manual,
    Discovered,
    Predefined,
}

/// A provider. Its key is never returned: `api_key_set` says whether one is stored.
#[derive(ToSchema)]
pub struct Provider {
    pub id: ProviderId,
    pub name: String,
    /// The driver (`openai`, `anthropic`, `gemini`, `llmsim`, …).
    pub provider_type: String,
    pub status: ProviderStatus,
    pub api_key_set: bool,
    #[serde(default)]
    pub base_url: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Creates a provider (`name` and `provider_type` are required).
#[derive(ToSchema)]
pub struct CreateProviderRequest {
    pub name: String,
    pub provider_type: String,
    /// Encrypted at rest, never returned.
    #[schema(write_only)]
    pub api_key: Option<String>,
    /// Typed credential fields for drivers with several secrets (Bedrock: `access_key_id`,
    /// `secret_access_key`, `session_token`, `region`, `role_arn`). Stored as one JSON document like
    /// `api_key` (encrypted, never returned, `api_key_set`), and taking precedence over it; `{}`
    /// removes the stored secret.
    #[schema(write_only)]
    pub credentials: Option<std::collections::BTreeMap<String, String>>,
    pub base_url: Option<String>,
}

/// Changes the given fields of a provider.
#[derive(ToSchema)]
pub struct UpdateProviderRequest {
    pub name: Option<String>,
    pub provider_type: Option<String>,
    /// Encrypted at rest, never returned.
    #[schema(write_only)]
    pub api_key: Option<String>,
    /// Typed credential fields for drivers with several secrets (Bedrock: `access_key_id`,
    /// `secret_access_key`, `session_token`, `region`, `role_arn`). Stored as one JSON document like
    /// `api_key` (encrypted, never returned, `api_key_set`), and taking precedence over it; `{}`
    /// removes the stored secret.
    #[schema(write_only)]
    pub credentials: Option<std::collections::BTreeMap<String, String>>,
    pub base_url: Option<String>,
    pub status: Option<ProviderStatus>,
}

/// A model row of a provider.
#[derive(ToSchema)]
pub struct Model {
    pub id: ModelId,
    pub provider_id: ProviderId,
    /// The provider's model name (`gpt-5`, …).
    pub model_id: String,
    pub display_name: String,
    pub capabilities: Vec<String>,
    pub enabled: bool,
    pub is_favorite: bool,
    pub source: ModelSource,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A model with its provider's name, type and health.
#[derive(ToSchema)]
pub struct ModelWithProvider {
    pub id: ModelId,
    pub provider_id: ProviderId,
    pub model_id: String,
    pub display_name: String,
    pub capabilities: Vec<String>,
    pub enabled: bool,
    pub is_favorite: bool,
    pub source: ModelSource,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub provider_name: String,
    pub provider_type: String,
    /// Active, with a key (or the simulator, or Bedrock on the AWS credential chain).
    pub healthy: bool,
    /// `openai`, `anthropic` or `google` where known.
    #[serde(default)]
    pub model_vendor: String,
}

/// Adds a model to a provider (`model_id` and `display_name` are required).
#[derive(ToSchema)]
pub struct CreateModelRequest {
    pub model_id: String,
    pub display_name: String,
    pub capabilities: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub is_favorite: Option<bool>,
}

/// Changes the given fields of a model.
#[derive(ToSchema)]
pub struct UpdateModelRequest {
    pub model_id: Option<String>,
    pub display_name: Option<String>,
    pub capabilities: Option<Vec<String>>,
    pub enabled: Option<bool>,
    pub is_favorite: Option<bool>,
    pub provider_id: Option<ProviderId>,
}

/// The organization's settings.
#[derive(ToSchema)]
pub struct OrganizationSettings {
    /// The org default model: used when neither the message, the session, the agent nor the
    /// harness chain names one. Null when unset.
    pub default_model_id: Option<ModelId>,
    /// The deployment's own default model name (e.g. `llmsim-echo` in the dev grade), used when
    /// the org has none; null when the deployment has none.
    pub deployment_default_model: Option<String>,
}

/// Changes the given settings; `default_model_id: null` unsets the org default model.
#[derive(ToSchema)]
pub struct UpdateOrganizationSettingsRequest {
    /// An enabled model of an active provider of the organization (`model_…`), or null.
    pub default_model_id: Option<ModelId>,
}
