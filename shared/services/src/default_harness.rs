//! The id of each org's default harness (the built-in with the Default role), kept for the life
//! of the process: built-ins are reconciled by name when a process starts (their ids stay), are
//! read-only through the API and cannot be archived, so the answer does not change while the
//! process runs. Creating a session or an agent without a harness reads no harness.

use std::collections::HashMap;
use std::sync::Mutex;

use everruns_core::harness_templates::BuiltInHarnessRole;
use everruns_core::ids::{HarnessId, OrgId};
use everruns_core::ports::HarnessStore;
use everruns_core::seed::harness_with_role;

use crate::error::{ServiceError, ServiceResult};

/// Org → default harness id.
#[derive(Debug, Default)]
pub struct DefaultHarnesses {
    ids: Mutex<HashMap<OrgId, HarnessId>>,
}

impl DefaultHarnesses {
    /// The org's default harness id (read from `store` once per org).
    pub async fn get(&self, store: &dyn HarnessStore, org: OrgId) -> ServiceResult<HarnessId> {
        if let Some(id) = self.ids.lock().unwrap_or_else(|e| e.into_inner()).get(&org) {
            return Ok(*id);
        }
        let id = harness_with_role(store, org, BuiltInHarnessRole::Default)
            .await?
            .map(|h| h.id)
            .ok_or_else(|| ServiceError::Internal("the organization has no default harness".into()))?;
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).insert(org, id);
        Ok(id)
    }
}
