//! Path parameters: the id (or id-or-name) forms each route accepts. A value outside the
//! pattern is answered 400 (`invalid_id`) before any lookup.

use utoipa::IntoParams;

/// An agent by id or name.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AgentRef {
    /// `agent_<32 hex>` or the agent's name.
    #[param(pattern = "^(agent_[0-9a-f]{32}|[a-z0-9]+(-[a-z0-9]+)*)$", max_length = 64)]
    pub agent_id: String,
}

/// An agent by id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AgentIdParam {
    /// `agent_<32 hex>`.
    #[param(pattern = "^agent_[0-9a-f]{32}$")]
    pub agent_id: String,
}

/// A harness by id or name.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct HarnessRef {
    /// `harness_<32 hex>` or the harness's name.
    #[param(pattern = "^(harness_[0-9a-f]{32}|[a-z0-9]+(-[a-z0-9]+)*)$", max_length = 64)]
    pub harness_id: String,
}

/// A session by id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SessionIdParam {
    /// `session_<32 hex>`.
    #[param(pattern = "^session_[0-9a-f]{32}$")]
    pub session_id: String,
}

/// A model by id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ModelIdParam {
    /// `model_<32 hex>`.
    #[param(pattern = "^model_[0-9a-f]{32}$")]
    pub id: String,
}

/// A provider by id (`/v1/providers/{id}`).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderIdParam {
    /// `provider_<32 hex>`.
    #[param(pattern = "^provider_[0-9a-f]{32}$")]
    pub id: String,
}

/// A provider by id (`/v1/providers/{provider_id}/models`).
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProviderModelsParam {
    /// `provider_<32 hex>`.
    #[param(pattern = "^provider_[0-9a-f]{32}$")]
    pub provider_id: String,
}

/// An API key by id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ApiKeyIdParam {
    /// `key_<32 hex>`.
    #[param(pattern = "^key_[0-9a-f]{32}$")]
    pub key_id: String,
}

/// A capability by id.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CapabilityIdParam {
    /// The capability id (`current_time`, …).
    pub capability_id: String,
}
