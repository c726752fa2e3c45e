//! Startup seeding, filtered by the platform definition: built-in harnesses reconciled by role;
//! providers only when their driver exists; models only when their provider exists. In the `dev`
//! grade the llmsim provider and its models are seeded so a newcomer needs no key; the real
//! providers are seeded (without a key) in the `dev` grade or when their `DEFAULT_*_API_KEY` is set;
//! [`apply_default_base_urls`] then gives the Azure OpenAI one its `DEFAULT_AZURE_OPENAI_ENDPOINT`.
//! The keyless AWS Bedrock provider is seeded only when `DEFAULT_BEDROCK_REGION` is set.
//! The llmsim provider carries the deployment's simulator pace in its metadata (reconciled at
//! every seeding), and so does the deployment default model: the seeded models answer like a
//! provider in time, except `llmsim-echo-instant`.

use everruns_core::domain::{Model, ModelSource, Provider, ProviderStatus};
use everruns_core::ids::{ModelId, OrgId, ProviderId};
use everruns_core::llmsim_driver::LlmSimPacing;
use everruns_core::ports::Stores;
use everruns_core::seed::reconcile_built_in_harnesses;
use everruns_core::time::Timestamp;
use everruns_core::{DeploymentGrade, DriverId, PlatformDefinition, ResolvedModel};

/// The seeded simulator provider's name.
pub const LLMSIM_PROVIDER_NAME: &str = "LLM Simulator";

/// A predefined model: (wire id, display name, capabilities).
pub type ModelPreset = (&'static str, &'static str, &'static [&'static str]);

/// The simulator models. The first is the default model. All stream at the deployment's pace
/// (`LLMSIM_TTFT_MS`, `LLMSIM_TOKEN_MS`) except `llmsim-echo-instant`, which answers at once (for
/// tests and benchmarks).
pub const LLMSIM_MODELS: [ModelPreset; 5] = [
    ("llmsim-echo", "LLM Simulator: echo", &["text"]),
    ("llmsim-tools", "LLM Simulator: tool calling", &["text", "tools"]),
    ("llmsim-slow", "LLM Simulator: slow streaming", &["text"]),
    ("llmsim-fail", "LLM Simulator: provider failure", &["text"]),
    ("llmsim-echo-instant", "LLM Simulator: echo, no latency", &["text"]),
];

const CHAT: &[&str] = &["text", "tools", "vision"];

/// Real providers: (driver, provider name, models).
pub const PROVIDER_PRESETS: [(DriverId, &str, &[ModelPreset]); 6] = [
    (DriverId::OpenAi, "OpenAI", &[("gpt-4.1", "GPT-4.1", CHAT), ("gpt-4.1-mini", "GPT-4.1 mini", CHAT)]),
    (
        DriverId::Anthropic,
        "Anthropic",
        &[("claude-sonnet-4-5", "Claude Sonnet 4.5", CHAT), ("claude-haiku-4-5", "Claude Haiku 4.5", CHAT)],
    ),
    (
        DriverId::Gemini,
        "Google Gemini",
        &[("gemini-2.5-flash", "Gemini 2.5 Flash", CHAT), ("gemini-2.5-pro", "Gemini 2.5 Pro", CHAT)],
    ),
    // Azure model ids are deployment names; these are the customary ones.
    (
        DriverId::AzureOpenAi,
        "Azure OpenAI",
        &[("gpt-4o", "GPT-4o (Azure)", CHAT), ("gpt-4o-mini", "GPT-4o mini (Azure)", CHAT)],
    ),
    (
        DriverId::OpenRouter,
        "OpenRouter",
        &[
            ("anthropic/claude-sonnet-4", "Claude Sonnet 4 (OpenRouter)", CHAT),
            ("openai/gpt-4.1-mini", "GPT-4.1 mini (OpenRouter)", CHAT),
        ],
    ),
    // Bedrock needs no key (the AWS credential chain signs): seeded only when the deployment
    // configures it (`DEFAULT_BEDROCK_REGION`), never merely for the `dev` grade.
    (
        DriverId::Bedrock,
        "AWS Bedrock",
        &[
            ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku (Bedrock)", &["text", "tools"]),
            ("amazon.nova-lite-v1:0", "Amazon Nova Lite (Bedrock)", CHAT),
        ],
    ),
];

/// Seeds the org; returns its default model (the simulator's echo model in the `dev` grade).
/// `keyed` lists the drivers that have a deployment default key; `llmsim` is the pace of the
/// simulator models (`ServerConfig::llmsim_pacing`).
pub async fn seed_org(
    stores: &Stores,
    org: OrgId,
    platform: &PlatformDefinition,
    grade: DeploymentGrade,
    keyed: &[DriverId],
    llmsim: LlmSimPacing,
) -> anyhow::Result<Option<ResolvedModel>> {
    reconcile_built_in_harnesses(stores.harnesses.as_ref(), org, platform, grade).await?;
    let dev = grade == DeploymentGrade::Dev;
    for (driver, name, presets) in PROVIDER_PRESETS {
        let wanted = (dev && driver != DriverId::Bedrock) || keyed.contains(&driver);
        if platform.driver_registry().contains(&driver) && wanted {
            let provider = provider(stores, org, driver, name).await?;
            models(stores, org, &provider, presets).await?;
        }
    }
    let Some(model) = default_model(platform, grade, llmsim) else { return Ok(None) };
    let mut provider = provider(stores, org, DriverId::LlmSim, LLMSIM_PROVIDER_NAME).await?;
    let metadata = llmsim.apply_to(provider.metadata.clone());
    if provider.metadata != metadata {
        provider.metadata = metadata;
        provider.updated_at = Timestamp::now();
        stores.providers.update_provider(&provider).await?;
    }
    models(stores, org, &provider, &LLMSIM_MODELS).await?;
    Ok(Some(model))
}

/// The deployment's default model, without touching storage: the simulator's echo model in the
/// `dev` grade when the llmsim driver is registered, at the pace `llmsim`.
pub fn default_model(
    platform: &PlatformDefinition,
    grade: DeploymentGrade,
    llmsim: LlmSimPacing,
) -> Option<ResolvedModel> {
    (grade == DeploymentGrade::Dev && platform.driver_registry().contains(&DriverId::LlmSim)).then(|| ResolvedModel {
        model: LLMSIM_MODELS[0].0.into(),
        provider_type: DriverId::LlmSim,
        api_key: None,
        base_url: None,
        provider_metadata: llmsim.apply_to(None),
    })
}

/// Gives the org's seeded providers of these drivers the deployment's base URL when they have
/// none (the Azure OpenAI resource endpoint, `DEFAULT_AZURE_OPENAI_ENDPOINT`, from
/// `DefaultProviderKeys::base_urls`); a base URL set over the API is kept. Run after [`seed_org`].
pub async fn apply_default_base_urls(
    stores: &Stores,
    org: OrgId,
    base_urls: &[(DriverId, String)],
) -> anyhow::Result<()> {
    if base_urls.is_empty() {
        return Ok(());
    }
    let providers = stores.providers.list_providers(org).await?;
    for (driver, url) in base_urls {
        let Some((_, name, _)) = PROVIDER_PRESETS.iter().find(|(d, ..)| d == driver) else { continue };
        for provider in providers.iter().filter(|p| p.name == *name && p.provider_type == *driver) {
            if provider.base_url.is_none() {
                let provider =
                    Provider { base_url: Some(url.clone()), updated_at: Timestamp::now(), ..provider.clone() };
                stores.providers.update_provider(&provider).await?;
            }
        }
    }
    Ok(())
}

/// Finds the org's provider by name and driver, or creates it (without a key).
async fn provider(stores: &Stores, org: OrgId, driver: DriverId, name: &str) -> anyhow::Result<Provider> {
    let providers = stores.providers.list_providers(org).await?;
    if let Some(provider) = providers.into_iter().find(|p| p.name == name && p.provider_type == driver) {
        return Ok(provider);
    }
    let now = Timestamp::now();
    let provider = Provider {
        id: ProviderId::new(),
        org_id: org,
        name: name.into(),
        provider_type: driver,
        status: ProviderStatus::Active,
        api_key_set: false,
        api_key_encrypted: None,
        base_url: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    };
    stores.providers.insert_provider(&provider).await?;
    Ok(provider)
}

/// Adds the predefined models a provider lacks.
async fn models(stores: &Stores, org: OrgId, provider: &Provider, presets: &[ModelPreset]) -> anyhow::Result<()> {
    let existing = stores.providers.list_models(org, Some(provider.id)).await?;
    for (model_id, display_name, capabilities) in presets {
        if existing.iter().any(|m| m.model_id == *model_id) {
            continue;
        }
        let now = Timestamp::now();
        let model = Model {
            id: ModelId::new(),
            provider_id: provider.id,
            model_id: (*model_id).into(),
            display_name: (*display_name).into(),
            capabilities: capabilities.iter().map(|c| (*c).to_owned()).collect(),
            enabled: true,
            is_favorite: false,
            source: ModelSource::Predefined,
            created_at: now,
            updated_at: now,
        };
        stores.providers.insert_model(org, &model).await?;
    }
    Ok(())
}
