//! Authentication: the mode, sign-up, the caller, API keys. Capabilities live here too (the
//! other read-only catalog of the deployment).

use utoipa::ToSchema;

use super::common::{AnyValue, ApiKeyId, OrgId, Timestamp};

/// `none` or `api_key`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AuthMode {
    None,
    ApiKey,
}

/// How callers authenticate.
#[derive(ToSchema)]
pub struct AuthConfig {
    pub mode: AuthMode,
    pub password_auth_enabled: bool,
    pub oauth_providers: Vec<String>,
    /// `POST /v1/auth/register` is open.
    pub signup_enabled: bool,
}

/// An organization (tenant).
#[derive(ToSchema)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub created_at: Timestamp,
}

/// An API key (never its secret).
#[derive(ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrgId,
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub key_prefix: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Timestamp,
    #[serde(default)]
    pub last_used_at: Timestamp,
    pub created_at: Timestamp,
}

/// A new API key with its secret (`key`), shown once.
#[derive(ToSchema)]
pub struct CreatedApiKey {
    pub id: ApiKeyId,
    pub organization_id: OrgId,
    pub name: String,
    pub key_prefix: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub expires_at: Timestamp,
    #[serde(default)]
    pub last_used_at: Timestamp,
    pub created_at: Timestamp,
    /// The secret.
    pub key: String,
}

/// The organization's API keys.
#[derive(ToSchema)]
pub struct ApiKeyList {
    pub data: Vec<ApiKey>,
    pub total: u64,
}

/// Creates an API key; `expires_at` and `expires_in_days` are mutually exclusive (400 when both
/// are given).
#[derive(ToSchema)]
pub struct CreateApiKeyRequest {
    pub name: String,
    pub expires_at: Option<Timestamp>,
    #[schema(minimum = 1)]
    pub expires_in_days: Option<u32>,
    /// Only `*` (the whole organization) is supported.
    pub scopes: Option<Vec<WholeOrgScope>>,
}

/// The one supported scope.
#[derive(ToSchema)]
pub enum WholeOrgScope {
    #[schema(rename = "*")]
    All,
}

/// Creates an organization and its first key.
#[derive(ToSchema)]
pub struct RegisterRequest {
    pub organization_name: String,
    pub key_name: Option<String>,
}

/// The new organization and its first key (the secret is shown once).
#[derive(ToSchema)]
pub struct RegisterResponse {
    pub organization: Organization,
    pub api_key: CreatedApiKey,
}

/// The caller.
#[derive(ToSchema)]
pub struct Caller {
    pub organization: Organization,
    /// The key the caller used; null with `AUTH_MODE=none`.
    #[schema(required = true)]
    pub api_key_id: Option<ApiKeyId>,
    pub auth_mode: AuthMode,
}

/// A capability of the deployment.
#[derive(ToSchema)]
pub struct CapabilityInfo {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub icon: String,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub risk_level: String,
    pub is_mcp: bool,
    pub is_skill: bool,
    #[serde(default)]
    pub system_prompt: String,
    /// `{name, description, parameters}` of each tool it adds.
    pub tool_definitions: Vec<AnyValue>,
}
