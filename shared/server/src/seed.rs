//! Startup seeding, filtered by the platform definition: built-in harnesses reconciled by role;
//! providers only when their driver exists; models only when their provider exists. In the `dev`
//! grade the llmsim provider and its models are seeded so a newcomer needs no key.

use everruns_core::domain::{Model, ModelSource, Provider, ProviderStatus};
use everruns_core::ids::{ModelId, OrgId, ProviderId};
use everruns_core::ports::Stores;
use everruns_core::seed::reconcile_built_in_harnesses;
use everruns_core::time::Timestamp;
use everruns_core::{DeploymentGrade, DriverId, PlatformDefinition, ResolvedModel};

/// The seeded simulator provider's name.
pub const LLMSIM_PROVIDER_NAME: &str = "LLM Simulator";

/// The simulator models: (wire id, display name, capabilities). The first is the default model.
pub const LLMSIM_MODELS: [(&str, &str, &[&str]); 4] = [
    ("llmsim-echo", "LLM Simulator: echo", &["text"]),
    ("llmsim-tools", "LLM Simulator: tool calling", &["text", "tools"]),
    ("llmsim-slow", "LLM Simulator: slow streaming", &["text"]),
    ("llmsim-fail", "LLM Simulator: provider failure", &["text"]),
];

/// Seeds the org; returns the org's default model, if one was seeded.
pub async fn seed_org(
    stores: &Stores,
    org: OrgId,
    platform: &PlatformDefinition,
    grade: DeploymentGrade,
) -> anyhow::Result<Option<ResolvedModel>> {
    reconcile_built_in_harnesses(stores.harnesses.as_ref(), org, platform, grade).await?;
    if grade != DeploymentGrade::Dev || !platform.driver_registry().contains(&DriverId::LlmSim) {
        return Ok(None);
    }
    let providers = stores.providers.list_providers(org).await?;
    let provider =
        match providers.into_iter().find(|p| p.name == LLMSIM_PROVIDER_NAME && p.provider_type == DriverId::LlmSim) {
            Some(provider) => provider,
            None => {
                let now = Timestamp::now();
                let provider = Provider {
                    id: ProviderId::new(),
                    org_id: org,
                    name: LLMSIM_PROVIDER_NAME.into(),
                    provider_type: DriverId::LlmSim,
                    status: ProviderStatus::Active,
                    api_key_set: false,
                    api_key_encrypted: None,
                    base_url: None,
                    metadata: None,
                    created_at: now,
                    updated_at: now,
                };
                stores.providers.insert_provider(&provider).await?;
                provider
            }
        };
    let existing = stores.providers.list_models(org, Some(provider.id)).await?;
    for (model_id, display_name, capabilities) in LLMSIM_MODELS {
        if existing.iter().any(|m| m.model_id == model_id) {
            continue;
        }
        let now = Timestamp::now();
        let model = Model {
            id: ModelId::new(),
            provider_id: provider.id,
            model_id: model_id.into(),
            display_name: display_name.into(),
            capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
            enabled: true,
            is_favorite: false,
            source: ModelSource::Predefined,
            created_at: now,
            updated_at: now,
        };
        stores.providers.insert_model(org, &model).await?;
    }
    Ok(Some(ResolvedModel {
        model: LLMSIM_MODELS[0].0.into(),
        provider_type: DriverId::LlmSim,
        api_key: None,
        base_url: None,
        provider_metadata: None,
    }))
}
