//! Providers (LLM accounts) and their models.

use serde::{Deserialize, Serialize};

use crate::driver_registry::{DriverId, ProviderMetadata};
use crate::ids::{ModelId, OrgId, ProviderId};
use crate::time::Timestamp;

/// Whether a provider may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderStatus {
    /// Usable.
    #[default]
    Active,
    /// Not usable; its models do not resolve.
    Disabled,
}

/// An LLM provider account. The key is held encrypted by the store and never serialized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provider {
    /// The id.
    pub id: ProviderId,
    /// The owning organization (not on the wire).
    #[serde(skip)]
    pub org_id: OrgId,
    /// Name.
    pub name: String,
    /// The driver that serves it.
    pub provider_type: DriverId,
    /// Status.
    pub status: ProviderStatus,
    /// Whether a key is stored. The key itself is never returned.
    pub api_key_set: bool,
    /// The key sealed by the platform's secret cipher (never plaintext, never serialized).
    #[serde(skip)]
    pub api_key_encrypted: Option<Vec<u8>>,
    /// Endpoint override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Non-key auth material for external drivers; never serialized.
    #[serde(skip)]
    pub metadata: Option<ProviderMetadata>,
    /// Created.
    pub created_at: Timestamp,
    /// Last updated.
    pub updated_at: Timestamp,
}

/// Where a model row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelSource {
    /// Added by a user.
    #[default]
    Manual,
    /// Listed by the provider.
    Discovered,
    /// Seeded by the platform.
    Predefined,
}

/// A model of a provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// The id.
    pub id: ModelId,
    /// The provider serving it.
    pub provider_id: ProviderId,
    /// The wire model id, e.g. `gpt-4o`.
    pub model_id: String,
    /// UI label.
    pub display_name: String,
    /// `text`, `tools`, `vision`, `thinking`, …
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Only enabled models resolve.
    pub enabled: bool,
    /// Favorite flag.
    #[serde(default)]
    pub is_favorite: bool,
    /// Origin.
    pub source: ModelSource,
    /// Created.
    pub created_at: Timestamp,
    /// Last updated.
    pub updated_at: Timestamp,
}
