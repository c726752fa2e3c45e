//! `InProcessRuntimeBuilder`: composes a platform definition, the simulator, a default model,
//! capabilities, backends, and the initial harness and session.

use std::sync::Arc;
use std::time::Duration;

use everruns_core::capabilities::Capability;
use everruns_core::domain::{Harness, Session};
use everruns_core::engine::EngineConfig;
use everruns_core::harness_templates::BuiltInHarnessRole;
use everruns_core::ids::OrgId;
use everruns_core::llmsim_driver::{self, LlmSimConfig};
use everruns_core::seed::{harness_with_role, reconcile_built_in_harnesses};
use everruns_core::turns::TurnService;
use everruns_core::{CapabilityRegistry, DeploymentGrade, DriverId, DriverRegistry, PlatformDefinition, ResolvedModel};

use crate::backends::RuntimeBackends;
use crate::runtime::{InProcessRuntime, RuntimeError};

/// Builds an [`InProcessRuntime`].
#[derive(Default)]
pub struct InProcessRuntimeBuilder {
    platform: Option<PlatformDefinition>,
    llm_sim: Option<LlmSimConfig>,
    default_model: Option<ResolvedModel>,
    capabilities: Vec<Arc<dyn Capability>>,
    backends: Option<RuntimeBackends>,
    harness: Option<Harness>,
    session: Option<Session>,
    grade: Option<DeploymentGrade>,
    delta_interval: Option<Duration>,
}

impl InProcessRuntimeBuilder {
    /// A builder with nothing set: the stock capabilities, the llmsim driver, in-memory backends.
    pub fn new() -> Self {
        Self::default()
    }

    /// The platform surface (capabilities, drivers, harness templates).
    pub fn platform_definition(mut self, platform: PlatformDefinition) -> Self {
        self.platform = Some(platform);
        self
    }

    /// Serves `llmsim` with this configuration (replacing any registered simulator).
    pub fn llm_sim(mut self, config: LlmSimConfig) -> Self {
        self.llm_sim = Some(config);
        self
    }

    /// The model used when neither message, session, agent nor harness selects one (default:
    /// the simulator's `llmsim-model`).
    pub fn default_model(mut self, model: ResolvedModel) -> Self {
        self.default_model = Some(model);
        self
    }

    /// Adds (or replaces) a capability.
    pub fn capability(mut self, capability: impl Capability) -> Self {
        self.capabilities.push(Arc::new(capability));
        self
    }

    /// Storage and event bus.
    pub fn backends(mut self, backends: RuntimeBackends) -> Self {
        self.backends = Some(backends);
        self
    }

    /// The harness of the initial session (instead of the built-in default).
    pub fn harness(mut self, harness: Harness) -> Self {
        self.harness = Some(harness);
        self
    }

    /// The initial session (instead of a fresh one on the harness).
    pub fn session(mut self, session: Session) -> Self {
        self.session = Some(session);
        self
    }

    /// The deployment grade (default `dev`: an embedded runtime is a development surface).
    pub fn deployment_grade(mut self, grade: DeploymentGrade) -> Self {
        self.grade = Some(grade);
        self
    }

    /// How long output deltas are coalesced (default 100 ms; the first is sent at once).
    pub fn delta_interval(mut self, interval: Duration) -> Self {
        self.delta_interval = Some(interval);
        self
    }

    /// Builds the runtime: registers drivers and capabilities, reconciles the built-in
    /// harnesses, and creates the initial session.
    pub async fn build(self) -> Result<InProcessRuntime, RuntimeError> {
        let mut platform = self
            .platform
            .unwrap_or_else(|| PlatformDefinition::new(CapabilityRegistry::with_builtins(), DriverRegistry::new()));
        for capability in self.capabilities {
            platform.capability_registry_mut().unregister(capability.id());
            platform.capability_registry_mut().register_arc(capability);
        }
        match &self.llm_sim {
            Some(config) => llmsim_driver::register_with_config(platform.driver_registry_mut(), config.clone()),
            None if !platform.driver_registry().contains(&DriverId::LlmSim) => {
                llmsim_driver::register_driver(platform.driver_registry_mut())
            }
            None => {}
        }
        // Without a default model, the simulator answers (it is always registered by now).
        let default_model = self.default_model.or_else(|| {
            platform.driver_registry().contains(&DriverId::LlmSim).then(|| ResolvedModel {
                model: llmsim_driver::DEFAULT_MODEL_NAME.into(),
                provider_type: DriverId::LlmSim,
                api_key: None,
                base_url: None,
                provider_metadata: None,
            })
        });
        let grade = self.grade.unwrap_or(DeploymentGrade::Dev);
        let backends = self.backends.unwrap_or_default();
        let stores = backends.stores.clone();
        let org = OrgId::DEFAULT;

        reconcile_built_in_harnesses(stores.harnesses.as_ref(), org, &platform, grade).await?;
        let harness = match self.harness {
            Some(mut harness) => {
                harness.org_id = org;
                if stores.harnesses.get_harness(org, harness.id).await?.is_none() {
                    stores.harnesses.insert_harness(&harness).await?;
                }
                Some(harness)
            }
            None => harness_with_role(stores.harnesses.as_ref(), org, BuiltInHarnessRole::Default).await?,
        };
        let session = match self.session {
            Some(mut session) => {
                session.organization_id = org;
                if stores.sessions.get_session(org, session.id).await?.is_none() {
                    stores.sessions.insert_session(&session).await?;
                }
                session
            }
            None => {
                let harness = harness.as_ref().ok_or(RuntimeError::NoHarness)?;
                let session = Session::new(org, harness.id);
                stores.sessions.insert_session(&session).await?;
                session
            }
        };
        let config = EngineConfig {
            grade,
            delta_interval: self.delta_interval.unwrap_or(EngineConfig::default().delta_interval),
        };
        let turns = TurnService::new(&platform, stores, backends.bus.clone(), config).with_default_model(default_model);
        Ok(InProcessRuntime::new(turns, platform, org, session.id, harness.map(|h| h.id).unwrap_or(session.harness_id)))
    }
}
