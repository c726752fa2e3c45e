//! The auth store port: organizations and their API keys, looked up by key digest.

use super::PortResult;
use crate::domain::{ApiKey, KeyDigest, Organization};
use crate::ids::{ApiKeyId, OrgId};
use crate::time::Timestamp;

/// Organizations and API keys. The default organization (`org_000…001`) always exists.
#[async_trait::async_trait]
pub trait AuthStore: Send + Sync {
    /// Creates an organization. `Conflict` if the id exists.
    async fn insert_organization(&self, org: &Organization) -> PortResult<()>;
    /// Reads an organization.
    async fn get_organization(&self, id: OrgId) -> PortResult<Option<Organization>>;
    /// Stores a key under the digest of its secret. `Conflict` if the id or the digest exists;
    /// `NotFound` if its organization does not.
    async fn insert_api_key(&self, key: &ApiKey, digest: &KeyDigest) -> PortResult<()>;
    /// The key whose secret has this digest (expired keys included: the caller decides).
    async fn find_api_key(&self, digest: &KeyDigest) -> PortResult<Option<ApiKey>>;
    /// The organization's keys, newest first.
    async fn list_api_keys(&self, org: OrgId) -> PortResult<Vec<ApiKey>>;
    /// Deletes one of the organization's keys; returns whether it existed (in this org).
    async fn delete_api_key(&self, org: OrgId, id: ApiKeyId) -> PortResult<bool>;
    /// Records a use of the key.
    async fn touch_api_key(&self, id: ApiKeyId, at: Timestamp) -> PortResult<()>;
}
