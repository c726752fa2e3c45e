//! The org default model as turns see it: the last step of model resolution, read from the
//! provider store only when nothing else selects a model, and kept for [`ORG_DEFAULT_TTL`] so
//! that a turn in the common case spends no statement on it. A change made through this process
//! is seen at once ([`OrgDefaults::forget`]); one made by another process (the split's API
//! function) within the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ids::{ModelId, OrgId};
use crate::ports::{PortResult, ProviderStore};

/// How long a read org default is trusted.
pub const ORG_DEFAULT_TTL: Duration = Duration::from_secs(5);
/// Orgs whose default is kept; past this the oldest entries go.
const CAPACITY: usize = 1024;

/// Org → (read at, default model).
#[derive(Debug, Default)]
pub struct OrgDefaults {
    entries: Mutex<HashMap<OrgId, (Instant, Option<ModelId>)>>,
}

impl OrgDefaults {
    /// The org's default model, from the cache while fresh, else from `store`.
    pub async fn get(&self, store: &dyn ProviderStore, org: OrgId) -> PortResult<Option<ModelId>> {
        if let Some((read, model)) = self.lock().get(&org).copied()
            && read.elapsed() < ORG_DEFAULT_TTL
        {
            return Ok(model);
        }
        let model = store.default_model(org).await?;
        let mut entries = self.lock();
        if entries.len() >= CAPACITY {
            entries.retain(|_, (read, _)| read.elapsed() < ORG_DEFAULT_TTL);
        }
        if entries.len() < CAPACITY {
            entries.insert(org, (Instant::now(), model));
        }
        Ok(model)
    }

    /// Drops the org's entry (its default changed through this process).
    pub fn forget(&self, org: OrgId) {
        self.lock().remove(&org);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<OrgId, (Instant, Option<ModelId>)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
