//! `MemoryProviderStore`: provider accounts and their models. A model belongs to the org of its
//! provider; `(provider_id, model_id)` is unique and deleting a provider deletes its models.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::collections::HashMap;
use std::sync::RwLock;

use everruns_core::domain::{Model, Provider};
use everruns_core::ids::{ModelId, OrgId, ProviderId};
use everruns_core::ports::{PortError, PortResult, ProviderStore};

use crate::support::{read, write};

#[derive(Debug, Default)]
struct ProviderTables {
    providers: HashMap<ProviderId, Provider>,
    models: HashMap<ModelId, Model>,
    /// Org default models; deleting the model removes its entries.
    defaults: HashMap<OrgId, ModelId>,
}

impl ProviderTables {
    fn provider_in(&self, org: OrgId, id: ProviderId) -> bool {
        self.providers.get(&id).is_some_and(|p| p.org_id == org)
    }

    fn model_in(&self, org: OrgId, id: ModelId) -> Option<&Model> {
        self.models.get(&id).filter(|m| self.provider_in(org, m.provider_id))
    }

    /// `NotFound` if the model's provider is not in the org; `Conflict` if another model of the
    /// provider has the same wire model id.
    fn check_model(&self, org: OrgId, model: &Model) -> PortResult<()> {
        if !self.provider_in(org, model.provider_id) {
            return Err(PortError::not_found("provider", model.provider_id));
        }
        let duplicate = self
            .models
            .values()
            .any(|m| m.id != model.id && m.provider_id == model.provider_id && m.model_id == model.model_id);
        if duplicate {
            return Err(PortError::Conflict(format!(
                "model '{}' already exists for provider '{}'",
                model.model_id, model.provider_id
            )));
        }
        Ok(())
    }
}

/// The in-memory [`ProviderStore`].
#[derive(Debug, Default)]
pub struct MemoryProviderStore {
    tables: RwLock<ProviderTables>,
}

impl MemoryProviderStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl ProviderStore for MemoryProviderStore {
    async fn insert_provider(&self, provider: &Provider) -> PortResult<()> {
        let mut tables = write(&self.tables)?;
        if tables.providers.contains_key(&provider.id) {
            return Err(PortError::Conflict(format!("provider '{}' already exists", provider.id)));
        }
        tables.providers.insert(provider.id, provider.clone());
        Ok(())
    }

    async fn get_provider(&self, org: OrgId, id: ProviderId) -> PortResult<Option<Provider>> {
        Ok(read(&self.tables)?.providers.get(&id).filter(|p| p.org_id == org).cloned())
    }

    async fn update_provider(&self, provider: &Provider) -> PortResult<()> {
        let mut tables = write(&self.tables)?;
        if !tables.provider_in(provider.org_id, provider.id) {
            return Err(PortError::not_found("provider", provider.id));
        }
        tables.providers.insert(provider.id, provider.clone());
        Ok(())
    }

    async fn delete_provider(&self, org: OrgId, id: ProviderId) -> PortResult<bool> {
        let mut tables = write(&self.tables)?;
        if !tables.provider_in(org, id) {
            return Ok(false);
        }
        tables.providers.remove(&id);
        tables.models.retain(|_, m| m.provider_id != id);
        let ProviderTables { models, defaults, .. } = &mut *tables;
        defaults.retain(|_, model| models.contains_key(model));
        Ok(true)
    }

    async fn list_providers(&self, org: OrgId) -> PortResult<Vec<Provider>> {
        let tables = read(&self.tables)?;
        let mut found: Vec<Provider> = tables.providers.values().filter(|p| p.org_id == org).cloned().collect();
        found.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        Ok(found)
    }

    async fn insert_model(&self, org: OrgId, model: &Model) -> PortResult<()> {
        let mut tables = write(&self.tables)?;
        tables.check_model(org, model)?;
        if tables.models.contains_key(&model.id) {
            return Err(PortError::Conflict(format!("model '{}' already exists", model.id)));
        }
        tables.models.insert(model.id, model.clone());
        Ok(())
    }

    async fn get_model(&self, org: OrgId, id: ModelId) -> PortResult<Option<Model>> {
        Ok(read(&self.tables)?.model_in(org, id).cloned())
    }

    async fn update_model(&self, org: OrgId, model: &Model) -> PortResult<()> {
        let mut tables = write(&self.tables)?;
        if tables.model_in(org, model.id).is_none() {
            return Err(PortError::not_found("model", model.id));
        }
        tables.check_model(org, model)?;
        tables.models.insert(model.id, model.clone());
        Ok(())
    }

    async fn delete_model(&self, org: OrgId, id: ModelId) -> PortResult<bool> {
        let mut tables = write(&self.tables)?;
        if tables.model_in(org, id).is_none() {
            return Ok(false);
        }
        tables.models.remove(&id);
        tables.defaults.retain(|_, model| *model != id);
        Ok(true)
    }

    async fn list_models(&self, org: OrgId, provider: Option<ProviderId>) -> PortResult<Vec<Model>> {
        let tables = read(&self.tables)?;
        let mut found: Vec<Model> = tables
            .models
            .values()
            .filter(|m| provider.is_none_or(|p| m.provider_id == p) && tables.provider_in(org, m.provider_id))
            .cloned()
            .collect();
        found.sort_by(|a, b| (&a.display_name, a.id).cmp(&(&b.display_name, b.id)));
        Ok(found)
    }

    async fn default_model(&self, org: OrgId) -> PortResult<Option<ModelId>> {
        let tables = read(&self.tables)?;
        Ok(tables.defaults.get(&org).copied().filter(|id| tables.model_in(org, *id).is_some()))
    }

    async fn set_default_model(&self, org: OrgId, model: Option<ModelId>) -> PortResult<()> {
        let mut tables = write(&self.tables)?;
        match model {
            Some(id) if tables.model_in(org, id).is_none() => return Err(PortError::not_found("model", id)),
            Some(id) => tables.defaults.insert(org, id),
            None => tables.defaults.remove(&org),
        };
        Ok(())
    }
}
