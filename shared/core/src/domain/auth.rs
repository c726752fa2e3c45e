//! Tenancy: organizations and their API keys. A key's secret is never held here: stores keep
//! only its SHA-256 digest ([`KeyDigest`]) and a short display prefix.

use serde::{Deserialize, Serialize};

use crate::ids::{ApiKeyId, OrgId};
use crate::time::Timestamp;

/// A tenant. Every agent, harness, session and provider belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// The id (`org_…`).
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

impl Organization {
    /// A new organization with a fresh id.
    pub fn new(name: impl Into<String>) -> Self {
        Self { id: OrgId::new(), name: name.into(), created_at: Timestamp::now() }
    }
}

/// The SHA-256 digest of an API key's secret: what stores keep and look keys up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyDigest(pub [u8; 32]);

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

/// An API key as the API shows it: never the secret, only its display prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// The id (`key_…`).
    pub id: ApiKeyId,
    /// The organization the key acts for.
    pub organization_id: OrgId,
    /// A label chosen by its creator.
    pub name: String,
    /// The first characters of the secret (`evr_ab12…`), to recognise it in lists.
    pub key_prefix: String,
    /// Granted scopes (`["*"]`: everything in the organization).
    pub scopes: Vec<String>,
    /// When it stops working, if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// When it last authenticated a request (updated at most once a minute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

impl ApiKey {
    /// Whether the key has expired at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at.millis() <= now.millis())
    }
}
