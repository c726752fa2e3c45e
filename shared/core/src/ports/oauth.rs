//! The OAuth store port: registered clients, authorization codes and issued tokens, every
//! secret looked up by its digest. Codes and refresh tokens are single use; the store makes
//! the use atomic so two concurrent redemptions cannot both succeed.

use super::PortResult;
use crate::domain::{AuthorizationCode, CodeRedemption, KeyDigest, OAuthClient, OAuthToken};
use crate::time::Timestamp;

/// Clients, codes and tokens of the authorization server.
#[async_trait::async_trait]
pub trait OAuthStore: Send + Sync {
    /// Registers a client. `Conflict` if the id exists.
    async fn insert_client(&self, client: &OAuthClient) -> PortResult<()>;
    /// A registered client.
    async fn find_client(&self, id: &str) -> PortResult<Option<OAuthClient>>;
    /// Stores a code. `Conflict` if the digest exists.
    async fn insert_code(&self, code: &AuthorizationCode) -> PortResult<()>;
    /// Marks the code used and answers it, atomically: of concurrent calls with one digest
    /// exactly one sees `Redeemed`. Expiry is the caller's to judge.
    async fn redeem_code(&self, digest: &KeyDigest, now: Timestamp) -> PortResult<CodeRedemption>;
    /// Stores tokens (an access token and its refresh token) together.
    async fn insert_tokens(&self, tokens: &[OAuthToken]) -> PortResult<()>;
    /// The token with this digest, whatever its state.
    async fn find_token(&self, digest: &KeyDigest) -> PortResult<Option<OAuthToken>>;
    /// Rotation: marks the refresh token `old` used and stores `issued`, atomically, if `old` is
    /// an unused, unrevoked refresh token; answers `false` (storing nothing) otherwise.
    async fn rotate_refresh(&self, old: &KeyDigest, now: Timestamp, issued: &[OAuthToken]) -> PortResult<bool>;
    /// Revokes one token; answers whether it existed.
    async fn revoke_token(&self, digest: &KeyDigest, now: Timestamp) -> PortResult<bool>;
    /// Revokes every token of a grant (a replayed code or refresh token, a revoked refresh token).
    async fn revoke_grant(&self, grant_id: &str, now: Timestamp) -> PortResult<()>;
    /// Deletes codes and tokens that expired before `before`, whatever their state; answers how
    /// many rows went. Keeps the tables bounded; callers pass a margin so a replay shortly after
    /// expiry is still recognised.
    async fn purge_expired(&self, before: Timestamp) -> PortResult<u64>;
}
