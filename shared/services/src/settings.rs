//! Organization settings: the org default model, the last step of model resolution (after the
//! message's controls, the session, the agent and the harness chain), and the deployment's own
//! default that applies when it is unset.

use everruns_core::domain::ProviderStatus;
use everruns_core::ids::{ModelId, OrgId};
use serde::{Deserialize, Serialize};

use crate::App;
use crate::error::{ServiceError, ServiceResult};
use crate::input::double_option;

/// The settings as `GET /v1/organization/settings` answers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgSettings {
    /// The org default model; `None` when unset.
    pub default_model_id: Option<ModelId>,
    /// The model the deployment uses when neither anything in the turn's chain nor the org names
    /// one (its wire model name, e.g. `llmsim-echo` in the dev grade); `None` when there is none,
    /// and then such a turn fails with the user-visible "no model" error.
    pub deployment_default_model: Option<String>,
}

/// Fields of `PATCH /v1/organization/settings`: absent leaves a setting, `null` clears it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrgSettingsInput {
    /// The new default model (`model_…`), or `null` to unset it.
    #[serde(default, deserialize_with = "double_option")]
    pub default_model_id: Option<Option<String>>,
}

/// Reads the org's settings.
pub async fn get(state: &App, org: OrgId) -> ServiceResult<OrgSettings> {
    Ok(OrgSettings {
        default_model_id: state.stores.providers.default_model(org).await?,
        deployment_default_model: state.turns.deployment_default_model().map(|m| m.model.clone()),
    })
}

/// Changes the org's settings. A default model must be of the org, enabled, and of an active
/// provider (400 otherwise; 404 when it does not exist).
pub async fn patch(state: &App, org: OrgId, input: OrgSettingsInput) -> ServiceResult<OrgSettings> {
    if let Some(model) = input.default_model_id {
        let model = match model {
            Some(text) => Some(usable_model(state, org, &text).await?),
            None => None,
        };
        state.stores.providers.set_default_model(org, model).await?;
        state.turns.forget_org_default(org);
    }
    get(state, org).await
}

async fn usable_model(state: &App, org: OrgId, text: &str) -> ServiceResult<ModelId> {
    let id = ModelId::parse(text)?;
    let providers = &state.stores.providers;
    let model = providers.get_model(org, id).await?.ok_or_else(|| ServiceError::not_found("model", id))?;
    if !model.enabled {
        return Err(ServiceError::bad_request(format!(
            "default_model_id: model '{id}' is disabled; enable it before making it the default"
        )));
    }
    let provider = providers.get_provider(org, model.provider_id).await?;
    if provider.is_none_or(|p| p.status != ProviderStatus::Active) {
        return Err(ServiceError::bad_request(format!(
            "default_model_id: the provider of model '{id}' is disabled; enable it first"
        )));
    }
    Ok(id)
}
