//! `MemoryAuthStore`: organizations and API keys (by id and by secret digest), with the rules of
//! the real schema: unique ids and digests, a key's organization must exist, the default
//! organization always exists.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::RwLock;

use everruns_core::domain::{ApiKey, KeyDigest, Organization};
use everruns_core::ids::{ApiKeyId, OrgId};
use everruns_core::ports::{AuthStore, PortError, PortResult};
use everruns_core::time::Timestamp;

use crate::support::{read, write};

#[derive(Debug, Default)]
struct Rows {
    orgs: HashMap<OrgId, Organization>,
    keys: HashMap<ApiKeyId, (ApiKey, KeyDigest)>,
    by_digest: HashMap<KeyDigest, ApiKeyId>,
}

/// The in-memory [`AuthStore`].
#[derive(Debug)]
pub struct MemoryAuthStore {
    rows: RwLock<Rows>,
}

impl Default for MemoryAuthStore {
    fn default() -> Self {
        let default = Organization { id: OrgId::DEFAULT, name: "Default".to_owned(), created_at: Timestamp::now() };
        let mut rows = Rows::default();
        rows.orgs.insert(default.id, default);
        Self { rows: RwLock::new(rows) }
    }
}

impl MemoryAuthStore {
    /// A store holding only the default organization.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl AuthStore for MemoryAuthStore {
    async fn insert_organization(&self, org: &Organization) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        if rows.orgs.contains_key(&org.id) {
            return Err(PortError::Conflict(format!("organization '{}' already exists", org.id)));
        }
        rows.orgs.insert(org.id, org.clone());
        Ok(())
    }

    async fn get_organization(&self, id: OrgId) -> PortResult<Option<Organization>> {
        Ok(read(&self.rows)?.orgs.get(&id).cloned())
    }

    async fn insert_api_key(&self, key: &ApiKey, digest: &KeyDigest) -> PortResult<()> {
        let mut rows = write(&self.rows)?;
        if !rows.orgs.contains_key(&key.organization_id) {
            return Err(PortError::not_found("organization", key.organization_id));
        }
        if rows.keys.contains_key(&key.id) || rows.by_digest.contains_key(digest) {
            return Err(PortError::Conflict(format!("api key '{}' already exists", key.id)));
        }
        rows.by_digest.insert(*digest, key.id);
        rows.keys.insert(key.id, (key.clone(), *digest));
        Ok(())
    }

    async fn find_api_key(&self, digest: &KeyDigest) -> PortResult<Option<ApiKey>> {
        let rows = read(&self.rows)?;
        Ok(rows.by_digest.get(digest).and_then(|id| rows.keys.get(id)).map(|(key, _)| key.clone()))
    }

    async fn list_api_keys(&self, org: OrgId) -> PortResult<Vec<ApiKey>> {
        let rows = read(&self.rows)?;
        let mut keys: Vec<ApiKey> =
            rows.keys.values().filter(|(k, _)| k.organization_id == org).map(|(k, _)| k.clone()).collect();
        keys.sort_by_key(|k| Reverse((k.created_at, k.id)));
        Ok(keys)
    }

    async fn delete_api_key(&self, org: OrgId, id: ApiKeyId) -> PortResult<bool> {
        let mut rows = write(&self.rows)?;
        match rows.keys.get(&id) {
            Some((key, digest)) if key.organization_id == org => {
                let digest = *digest;
                rows.by_digest.remove(&digest);
                rows.keys.remove(&id);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: Timestamp) -> PortResult<()> {
        if let Some((key, _)) = write(&self.rows)?.keys.get_mut(&id) {
            key.last_used_at = Some(at);
        }
        Ok(())
    }
}
