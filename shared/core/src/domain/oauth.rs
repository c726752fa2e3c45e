//! Delegated access (OAuth 2.1, as MCP's authorization asks for it): registered clients,
//! single-use authorization codes and the access and refresh tokens issued from them. Secrets
//! (client secrets, codes, tokens) are never held here: stores keep their SHA-256 digests
//! ([`KeyDigest`]) and look them up by digest.

use serde::{Deserialize, Serialize};

use super::KeyDigest;
use crate::ids::OrgId;
use crate::time::Timestamp;

/// A client registered dynamically (RFC 7591).
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthClient {
    /// The public id (`evrc_…`).
    pub id: String,
    /// The digest of its secret; `None` for a public client (`token_endpoint_auth_method: none`).
    pub secret_digest: Option<KeyDigest>,
    /// The metadata it registered with, as the registration answered it (RFC 7591 §3.2.1):
    /// `redirect_uris`, `client_name`, `token_endpoint_auth_method`, `grant_types`, …
    pub metadata: serde_json::Value,
    /// Registration time.
    pub created_at: Timestamp,
}

impl OAuthClient {
    /// The registered redirect URIs.
    pub fn redirect_uris(&self) -> Vec<&str> {
        self.metadata["redirect_uris"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default()
    }

    /// How it authenticates at the token endpoint (`none`, `client_secret_post`, `client_secret_basic`).
    pub fn auth_method(&self) -> &str {
        self.metadata["token_endpoint_auth_method"].as_str().unwrap_or("none")
    }
}

/// What an authorization grants: one organization, to one client, with a scope. Every code and
/// token issued along one authorization carries its `grant_id`, so a replayed code or refresh
/// token can revoke the whole family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The family id (`grant_…`-like, opaque).
    pub grant_id: String,
    /// The client the grant was given to.
    pub client_id: String,
    /// The organization its tokens act for.
    pub org: OrgId,
    /// Space-separated scopes.
    pub scope: String,
    /// The resource (RFC 8707) the tokens are for, if the client named one.
    pub resource: Option<String>,
}

/// A single-use authorization code, stored by digest.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    /// The digest of the code.
    pub digest: KeyDigest,
    /// What it grants.
    pub grant: Grant,
    /// The redirect URI it was issued for (the token request must repeat it).
    pub redirect_uri: String,
    /// The PKCE S256 challenge (base64url of SHA-256 of the verifier).
    pub code_challenge: String,
    /// When it stops being redeemable.
    pub expires_at: Timestamp,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeRedemption {
    /// The code was unused and is now used.
    Redeemed(AuthorizationCode),
    /// The code had been redeemed before (a replay): its grant should be revoked.
    AlreadyUsed(AuthorizationCode),
    /// No such code.
    Unknown,
}

/// Access or refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A bearer token for the protected resource.
    Access,
    /// A token that obtains new access tokens (rotated on every use).
    Refresh,
}

impl TokenKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "access" => Some(Self::Access),
            "refresh" => Some(Self::Refresh),
            _ => None,
        }
    }
}

/// An issued token, stored by digest.
#[derive(Debug, Clone, PartialEq)]
pub struct OAuthToken {
    /// The digest of the token.
    pub digest: KeyDigest,
    /// Access or refresh.
    pub kind: TokenKind,
    /// What it grants.
    pub grant: Grant,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// When a refresh token was exchanged (rotation): a second exchange is a replay.
    pub used_at: Option<Timestamp>,
    /// Issue time.
    pub created_at: Timestamp,
}

impl OAuthToken {
    /// Whether the token still works at `now` (not expired, revoked or — for a refresh token — used).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.used_at.is_none() && self.expires_at.millis() > now.millis()
    }
}
