//! `MemoryOAuthStore`: registered OAuth clients, authorization codes and issued tokens, codes and
//! tokens by the digest of their secret. It keeps the rules of the real schema: unique client ids
//! and digests, a code's or token's organization must exist (when the store knows the
//! organizations, as in [`memory_stores`](crate::memory_stores)), a batch of tokens is stored
//! whole or not at all, and using a code or a refresh token is atomic (one mutex over the state).
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use everruns_core::domain::{AuthorizationCode, CodeRedemption, KeyDigest, OAuthClient, OAuthToken, TokenKind};
use everruns_core::ids::OrgId;
use everruns_core::ports::{AuthStore, OAuthStore, PortError, PortResult};
use everruns_core::time::Timestamp;

use crate::support::lock;

/// A stored code and when it was redeemed.
#[derive(Debug)]
struct StoredCode {
    code: AuthorizationCode,
    used_at: Option<Timestamp>,
}

#[derive(Debug, Default)]
struct State {
    clients: HashMap<String, OAuthClient>,
    codes: HashMap<KeyDigest, StoredCode>,
    tokens: HashMap<KeyDigest, OAuthToken>,
}

impl State {
    /// `Conflict` unless every digest of `tokens` is new (and they are distinct).
    fn check_new_tokens(&self, tokens: &[OAuthToken]) -> PortResult<()> {
        let mut seen = HashSet::with_capacity(tokens.len());
        if tokens.iter().any(|t| self.tokens.contains_key(&t.digest) || !seen.insert(t.digest)) {
            return Err(PortError::Conflict("oauth token already exists".to_owned()));
        }
        Ok(())
    }

    fn store_tokens(&mut self, tokens: &[OAuthToken]) {
        self.tokens.extend(tokens.iter().map(|t| (t.digest, t.clone())));
    }
}

/// Whether `digest` is an unused, unrevoked refresh token.
fn usable_refresh(state: &State, digest: &KeyDigest) -> bool {
    state
        .tokens
        .get(digest)
        .is_some_and(|t| t.kind == TokenKind::Refresh && t.used_at.is_none() && t.revoked_at.is_none())
}

/// The organizations of `tokens`.
fn orgs_of(tokens: &[OAuthToken]) -> Vec<OrgId> {
    tokens.iter().map(|t| t.grant.org).collect()
}

/// The in-memory [`OAuthStore`].
#[derive(Default)]
pub struct MemoryOAuthStore {
    state: Mutex<State>,
    orgs: Option<Arc<dyn AuthStore>>,
}

impl fmt::Debug for MemoryOAuthStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryOAuthStore").field("state", &self.state).finish_non_exhaustive()
    }
}

impl MemoryOAuthStore {
    /// An empty store that takes every organization to exist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Codes and tokens must belong to an organization of `orgs` (`NotFound` otherwise), as the
    /// foreign key of the real schema demands. Organizations are never deleted through the ports,
    /// so checking before taking the lock is enough.
    pub fn with_organizations(mut self, orgs: Arc<dyn AuthStore>) -> Self {
        self.orgs = Some(orgs);
        self
    }

    async fn check_orgs(&self, orgs: &[OrgId]) -> PortResult<()> {
        let Some(store) = &self.orgs else { return Ok(()) };
        let mut checked = HashSet::new();
        for &org in orgs {
            if checked.insert(org) && store.get_organization(org).await?.is_none() {
                return Err(PortError::not_found("organization", org));
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl OAuthStore for MemoryOAuthStore {
    async fn insert_client(&self, client: &OAuthClient) -> PortResult<()> {
        let mut state = lock(&self.state)?;
        if state.clients.contains_key(&client.id) {
            return Err(PortError::Conflict(format!("oauth client '{}' already exists", client.id)));
        }
        state.clients.insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn find_client(&self, id: &str) -> PortResult<Option<OAuthClient>> {
        Ok(lock(&self.state)?.clients.get(id).cloned())
    }

    async fn insert_code(&self, code: &AuthorizationCode) -> PortResult<()> {
        self.check_orgs(&[code.grant.org]).await?;
        let mut state = lock(&self.state)?;
        if state.codes.contains_key(&code.digest) {
            return Err(PortError::Conflict("authorization code already exists".to_owned()));
        }
        state.codes.insert(code.digest, StoredCode { code: code.clone(), used_at: None });
        Ok(())
    }

    async fn redeem_code(&self, digest: &KeyDigest, now: Timestamp) -> PortResult<CodeRedemption> {
        let mut state = lock(&self.state)?;
        Ok(match state.codes.get_mut(digest) {
            None => CodeRedemption::Unknown,
            Some(stored) if stored.used_at.is_some() => CodeRedemption::AlreadyUsed(stored.code.clone()),
            Some(stored) => {
                stored.used_at = Some(now);
                CodeRedemption::Redeemed(stored.code.clone())
            }
        })
    }

    async fn insert_tokens(&self, tokens: &[OAuthToken]) -> PortResult<()> {
        self.check_orgs(&orgs_of(tokens)).await?;
        let mut state = lock(&self.state)?;
        state.check_new_tokens(tokens)?;
        state.store_tokens(tokens);
        Ok(())
    }

    async fn find_token(&self, digest: &KeyDigest) -> PortResult<Option<OAuthToken>> {
        Ok(lock(&self.state)?.tokens.get(digest).cloned())
    }

    async fn rotate_refresh(&self, old: &KeyDigest, now: Timestamp, issued: &[OAuthToken]) -> PortResult<bool> {
        // An unusable token answers `false` before anything else is looked at, as in the database.
        if !usable_refresh(&*lock(&self.state)?, old) {
            return Ok(false);
        }
        self.check_orgs(&orgs_of(issued)).await?;
        let mut state = lock(&self.state)?;
        if !usable_refresh(&state, old) {
            return Ok(false);
        }
        state.check_new_tokens(issued)?;
        if let Some(token) = state.tokens.get_mut(old) {
            token.used_at = Some(now);
        }
        state.store_tokens(issued);
        Ok(true)
    }

    async fn revoke_token(&self, digest: &KeyDigest, now: Timestamp) -> PortResult<bool> {
        let mut state = lock(&self.state)?;
        Ok(state.tokens.get_mut(digest).map(|token| token.revoked_at.get_or_insert(now)).is_some())
    }

    async fn revoke_grant(&self, grant_id: &str, now: Timestamp) -> PortResult<()> {
        let mut state = lock(&self.state)?;
        for token in state.tokens.values_mut().filter(|t| t.grant.grant_id == grant_id && t.revoked_at.is_none()) {
            token.revoked_at = Some(now);
        }
        Ok(())
    }

    async fn purge_expired(&self, before: Timestamp) -> PortResult<u64> {
        let mut state = lock(&self.state)?;
        let (codes, tokens) = (state.codes.len(), state.tokens.len());
        state.codes.retain(|_, stored| stored.code.expires_at.millis() >= before.millis());
        state.tokens.retain(|_, token| token.expires_at.millis() >= before.millis());
        Ok((codes - state.codes.len() + tokens - state.tokens.len()) as u64)
    }
}
