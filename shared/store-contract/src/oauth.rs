//! The `OAuthStore` contract: clients round-trip (public or with a secret digest, metadata kept)
//! and are registered once; codes are stored once, redeemed once (concurrent redemptions have
//! one winner) and a replay answers the code; expired ones are purged; tokens are stored in all-or-none batches, found by
//! digest in any state, rotated once (concurrent rotations have one winner, a refused rotation
//! stores nothing) and revoked one by one or by grant. Codes and tokens need an existing
//! organization. Run on a multi-threaded runtime (the concurrency checks spawn tasks).

use everruns_core::domain::{
    AuthorizationCode, CodeRedemption, Grant, KeyDigest, OAuthClient, OAuthToken, Organization, TokenKind,
};
use everruns_core::ids::{ApiKeyId, OrgId};
use everruns_core::ports::{OAuthStore, Stores};
use everruns_core::time::Timestamp;
use serde_json::json;
use tokio::task::JoinSet;

use crate::fixtures::{assert_conflict, assert_not_found};

/// A fresh random-enough digest (two UUIDv7s).
fn digest() -> KeyDigest {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(ApiKeyId::new().uuid().as_bytes());
    bytes[16..].copy_from_slice(ApiKeyId::new().uuid().as_bytes());
    KeyDigest(bytes)
}

/// A fresh id with a prefix (`evrc_…`, `grant_…`).
fn fresh(prefix: &str) -> String {
    format!("{prefix}_{}", ApiKeyId::new().uuid().simple())
}

fn grant(org: OrgId) -> Grant {
    Grant {
        grant_id: fresh("grant"),
        client_id: fresh("evrc"),
        org,
        scope: "mcp:tools sessions:read".to_owned(),
        resource: Some("https://everruns.test/mcp".to_owned()),
    }
}

fn code(grant: &Grant, base: i64) -> AuthorizationCode {
    AuthorizationCode {
        digest: digest(),
        grant: grant.clone(),
        redirect_uri: "http://127.0.0.1:33418/callback".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        expires_at: Timestamp::from_millis(base + 60_000),
    }
}

fn token(kind: TokenKind, grant: &Grant, base: i64) -> OAuthToken {
    OAuthToken {
        digest: digest(),
        kind,
        grant: grant.clone(),
        expires_at: Timestamp::from_millis(base + 3_600_000),
        revoked_at: None,
        used_at: None,
        created_at: Timestamp::from_millis(base),
    }
}

/// An access token and its refresh token.
fn pair(grant: &Grant, base: i64) -> [OAuthToken; 2] {
    [token(TokenKind::Access, grant, base), token(TokenKind::Refresh, grant, base)]
}

async fn find(store: &dyn OAuthStore, token: &OAuthToken) -> Option<OAuthToken> {
    store.find_token(&token.digest).await.unwrap()
}

/// Checks an [`OAuthStore`] (the stores are needed to create an organization).
pub async fn oauth_contract(stores: &Stores) {
    let org = Organization::new("oauth");
    stores.auth.insert_organization(&org).await.unwrap();
    clients(stores.oauth.as_ref()).await;
    codes(stores.oauth.as_ref(), org.id).await;
    concurrent_redemption(stores).await;
    tokens(stores.oauth.as_ref(), org.id).await;
    rotation(stores.oauth.as_ref()).await;
    concurrent_rotation(stores).await;
    revocation(stores.oauth.as_ref()).await;
    purge(stores.oauth.as_ref(), org.id).await;
}

/// Expired codes and tokens go, whatever their state; the rest stay.
async fn purge(store: &dyn OAuthStore, org: OrgId) {
    // Far in the past, so no other check's rows expire before `before`.
    let base = 946_684_800_000;
    let family = grant(org);
    let old_code = code(&family, base);
    store.insert_code(&old_code).await.unwrap();
    store.redeem_code(&old_code.digest, Timestamp::from_millis(base + 1)).await.unwrap();
    let [access, refresh] = pair(&family, base);
    let mut kept = token(TokenKind::Refresh, &family, base);
    kept.expires_at = Timestamp::from_millis(base + 7_200_000);
    store.insert_tokens(&[access.clone(), refresh.clone(), kept.clone()]).await.unwrap();
    store.revoke_token(&access.digest, Timestamp::from_millis(base + 2)).await.unwrap();
    let purged = store.purge_expired(Timestamp::from_millis(base + 3_600_001)).await.unwrap();
    assert!(purged >= 3, "the code and both expired tokens: {purged}");
    assert_eq!(
        store.redeem_code(&old_code.digest, Timestamp::from_millis(base + 2)).await.unwrap(),
        CodeRedemption::Unknown
    );
    assert!(find(store, &access).await.is_none() && find(store, &refresh).await.is_none());
    assert_eq!(find(store, &kept).await.as_ref(), Some(&kept), "a live token stays");
}

async fn clients(store: &dyn OAuthStore) {
    let created_at = Timestamp::from_millis(Timestamp::now().millis() - 1_000);
    let public = OAuthClient {
        id: fresh("evrc"),
        secret_digest: None,
        metadata: json!({
            "redirect_uris": ["http://127.0.0.1:33418/callback", "https://app.example/cb"],
            "client_name": "Contract Client ✓",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_id_issued_at": 1_748_167_200,
            "software": { "id": "contract", "nested": [1, null, true] }
        }),
        created_at,
    };
    store.insert_client(&public).await.unwrap();
    let found = store.find_client(&public.id).await.unwrap().expect("the public client is found");
    assert_eq!(found, public);
    assert_eq!(found.redirect_uris(), ["http://127.0.0.1:33418/callback", "https://app.example/cb"]);
    assert_eq!(found.auth_method(), "none");

    let confidential = OAuthClient {
        id: fresh("evrc"),
        secret_digest: Some(digest()),
        metadata: json!({ "redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_post" }),
        created_at: Timestamp::now(),
    };
    store.insert_client(&confidential).await.unwrap();
    assert_eq!(store.find_client(&confidential.id).await.unwrap().as_ref(), Some(&confidential));

    assert!(store.find_client(&fresh("evrc")).await.unwrap().is_none());
    let duplicate = OAuthClient { secret_digest: None, metadata: json!({}), ..confidential.clone() };
    assert_conflict(store.insert_client(&duplicate).await, "already exists");
    assert_eq!(store.find_client(&confidential.id).await.unwrap().as_ref(), Some(&confidential), "unchanged");
}

async fn codes(store: &dyn OAuthStore, org: OrgId) {
    let base = Timestamp::now().millis();
    let first = code(&grant(OrgId::DEFAULT), base);
    store.insert_code(&first).await.unwrap();
    let same_digest = AuthorizationCode { redirect_uri: "https://other.example/cb".to_owned(), ..first.clone() };
    assert_conflict(store.insert_code(&same_digest).await, "already exists");

    let now = Timestamp::from_millis(base + 1_000);
    assert_eq!(store.redeem_code(&first.digest, now).await.unwrap(), CodeRedemption::Redeemed(first.clone()));
    assert_eq!(store.redeem_code(&first.digest, now).await.unwrap(), CodeRedemption::AlreadyUsed(first.clone()));
    assert_eq!(store.redeem_code(&digest(), now).await.unwrap(), CodeRedemption::Unknown);

    // Another organization's code, with no resource; an unknown organization's is refused.
    let theirs = code(&Grant { resource: None, ..grant(org) }, base);
    store.insert_code(&theirs).await.unwrap();
    assert_eq!(store.redeem_code(&theirs.digest, now).await.unwrap(), CodeRedemption::Redeemed(theirs));
    let orphan = code(&grant(OrgId::new()), base);
    assert_not_found(store.insert_code(&orphan).await, "organization");
    assert_eq!(store.redeem_code(&orphan.digest, now).await.unwrap(), CodeRedemption::Unknown);
}

/// 8 concurrent redemptions of one code: exactly one `Redeemed`, the others `AlreadyUsed`.
async fn concurrent_redemption(stores: &Stores) {
    let base = Timestamp::now().millis();
    let code = code(&grant(OrgId::DEFAULT), base);
    stores.oauth.insert_code(&code).await.unwrap();
    let mut tasks = JoinSet::new();
    for i in 0..8 {
        let (store, digest) = (stores.oauth.clone(), code.digest);
        tasks.spawn(async move { store.redeem_code(&digest, Timestamp::from_millis(base + i)).await.unwrap() });
    }
    let outcomes = tasks.join_all().await;
    let redeemed = outcomes.iter().filter(|o| **o == CodeRedemption::Redeemed(code.clone())).count();
    let replays = outcomes.iter().filter(|o| **o == CodeRedemption::AlreadyUsed(code.clone())).count();
    assert_eq!((redeemed, replays), (1, 7), "exactly one redemption wins: {outcomes:?}");
}

async fn tokens(store: &dyn OAuthStore, org: OrgId) {
    let base = Timestamp::now().millis();
    let family = grant(OrgId::DEFAULT);
    let [access, refresh] = pair(&family, base);
    store.insert_tokens(&[access.clone(), refresh.clone()]).await.unwrap();
    assert_eq!(find(store, &access).await.as_ref(), Some(&access));
    assert_eq!(find(store, &refresh).await.as_ref(), Some(&refresh));
    assert!(store.find_token(&digest()).await.unwrap().is_none());
    store.insert_tokens(&[]).await.unwrap();

    // A batch is stored whole or not at all.
    let fresh_one = token(TokenKind::Access, &family, base);
    assert_conflict(store.insert_tokens(&[fresh_one.clone(), access.clone()]).await, "already exists");
    assert!(find(store, &fresh_one).await.is_none(), "nothing of a refused batch is stored");
    assert_conflict(store.insert_tokens(&[fresh_one.clone(), fresh_one.clone()]).await, "already exists");
    assert!(find(store, &fresh_one).await.is_none());

    // Another organization's tokens, with no resource; an unknown organization's are refused.
    let theirs = pair(&Grant { resource: None, ..grant(org) }, base);
    store.insert_tokens(&theirs).await.unwrap();
    assert_eq!(find(store, &theirs[1]).await.as_ref(), Some(&theirs[1]));
    let orphans = pair(&grant(OrgId::new()), base);
    assert_not_found(store.insert_tokens(&orphans).await, "organization");
    assert!(find(store, &orphans[0]).await.is_none());
}

async fn rotation(store: &dyn OAuthStore) {
    let base = Timestamp::now().millis();
    let family = grant(OrgId::DEFAULT);
    let [access, refresh] = pair(&family, base);
    store.insert_tokens(&[access.clone(), refresh.clone()]).await.unwrap();

    // A rotation that cannot store its tokens uses nothing.
    let now = Timestamp::from_millis(base + 1_000);
    let clashing = [token(TokenKind::Access, &family, base + 1_000), access.clone()];
    assert_conflict(store.rotate_refresh(&refresh.digest, now, &clashing).await, "already exists");
    assert_eq!(find(store, &refresh).await.as_ref(), Some(&refresh), "still unused");
    assert!(find(store, &clashing[0]).await.is_none());

    // Once, then a replay is refused and stores nothing.
    let issued = pair(&family, base + 1_000);
    assert!(store.rotate_refresh(&refresh.digest, now, &issued).await.unwrap());
    let used = find(store, &refresh).await.unwrap();
    assert_eq!(used, OAuthToken { used_at: Some(now), ..refresh.clone() });
    assert!(!used.is_live(now));
    for token in &issued {
        assert_eq!(find(store, token).await.as_ref(), Some(token));
    }
    let replayed = pair(&family, base + 2_000);
    let later = Timestamp::from_millis(base + 2_000);
    assert!(!store.rotate_refresh(&refresh.digest, later, &replayed).await.unwrap());
    assert_eq!(find(store, &refresh).await.unwrap().used_at, Some(now), "the first use is kept");
    for token in &replayed {
        assert!(find(store, token).await.is_none(), "a refused rotation stores nothing");
    }

    // An access token, a revoked refresh token and an unknown digest do not rotate.
    assert!(!store.rotate_refresh(&access.digest, later, &replayed).await.unwrap());
    assert_eq!(find(store, &access).await.as_ref(), Some(&access), "the access token is untouched");
    assert!(store.revoke_token(&issued[1].digest, later).await.unwrap());
    assert!(!store.rotate_refresh(&issued[1].digest, later, &replayed).await.unwrap());
    assert_eq!(find(store, &issued[1]).await.unwrap().used_at, None);
    assert!(!store.rotate_refresh(&digest(), later, &replayed).await.unwrap());
    for token in &replayed {
        assert!(find(store, token).await.is_none());
    }
}

/// 8 concurrent rotations of one refresh token: exactly one succeeds and only its tokens exist.
async fn concurrent_rotation(stores: &Stores) {
    let base = Timestamp::now().millis();
    let family = grant(OrgId::DEFAULT);
    let refresh = token(TokenKind::Refresh, &family, base);
    stores.oauth.insert_tokens(std::slice::from_ref(&refresh)).await.unwrap();
    let mut tasks = JoinSet::new();
    for i in 0..8 {
        let (store, old, issued) = (stores.oauth.clone(), refresh.digest, pair(&family, base + i));
        tasks.spawn(async move {
            let rotated = store.rotate_refresh(&old, Timestamp::from_millis(base + i), &issued).await.unwrap();
            (rotated, issued)
        });
    }
    let outcomes = tasks.join_all().await;
    assert_eq!(outcomes.iter().filter(|(rotated, _)| *rotated).count(), 1, "exactly one rotation wins");
    for (rotated, issued) in &outcomes {
        for token in issued {
            assert_eq!(find(stores.oauth.as_ref(), token).await.is_some(), *rotated, "only the winner's tokens exist");
        }
    }
}

async fn revocation(store: &dyn OAuthStore) {
    let base = Timestamp::now().millis();
    let (family, other) = (grant(OrgId::DEFAULT), grant(OrgId::DEFAULT));
    let [access, refresh] = pair(&family, base);
    let [next_access, next_refresh] = pair(&family, base + 1);
    let others = pair(&other, base);
    store.insert_tokens(&[access.clone(), refresh.clone(), next_access.clone(), next_refresh.clone()]).await.unwrap();
    store.insert_tokens(&others).await.unwrap();

    // One token; revoking again keeps the first revocation; an unknown digest is reported absent.
    let (t1, t2, t3) =
        (Timestamp::from_millis(base + 10), Timestamp::from_millis(base + 20), Timestamp::from_millis(base + 30));
    assert!(store.revoke_token(&access.digest, t1).await.unwrap());
    let revoked = find(store, &access).await.unwrap();
    assert_eq!(revoked, OAuthToken { revoked_at: Some(t1), ..access.clone() });
    assert!(!revoked.is_live(t1));
    assert!(store.revoke_token(&access.digest, t2).await.unwrap());
    assert_eq!(find(store, &access).await.unwrap().revoked_at, Some(t1));
    assert!(!store.revoke_token(&digest(), t2).await.unwrap());

    // The whole family, used or not; another grant's tokens are untouched.
    assert!(store.rotate_refresh(&refresh.digest, t2, &[]).await.unwrap());
    store.revoke_grant(&family.grant_id, t3).await.unwrap();
    assert_eq!(find(store, &access).await.unwrap().revoked_at, Some(t1), "an earlier revocation is kept");
    assert_eq!(find(store, &refresh).await.unwrap(), OAuthToken { used_at: Some(t2), revoked_at: Some(t3), ..refresh });
    for token in [&next_access, &next_refresh] {
        assert_eq!(find(store, token).await.unwrap(), OAuthToken { revoked_at: Some(t3), ..token.clone() });
    }
    for token in &others {
        assert_eq!(find(store, token).await.as_ref(), Some(token), "another grant is untouched");
    }
    assert!(!store.rotate_refresh(&next_refresh.digest, t3, &[]).await.unwrap(), "a revoked family cannot rotate");
    store.revoke_grant(&fresh("grant"), t3).await.unwrap();
}
