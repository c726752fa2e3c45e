//! The `AuthStore` contract: the default organization exists; organizations are created once;
//! keys are found by the digest of their secret only, unique by id and digest, need an existing
//! organization, are listed and deleted within their organization only, and record their use.

use everruns_core::domain::{ApiKey, KeyDigest, Organization};
use everruns_core::ids::{ApiKeyId, OrgId};
use everruns_core::ports::AuthStore;
use everruns_core::time::Timestamp;

use crate::fixtures::{assert_conflict, assert_not_found};

fn key(org: OrgId, name: &str, created_at: Timestamp) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(),
        organization_id: org,
        name: name.to_owned(),
        key_prefix: "evr_abcd1234".to_owned(),
        scopes: vec!["*".to_owned()],
        expires_at: Some(Timestamp::from_millis(created_at.millis() + 86_400_000)),
        last_used_at: None,
        created_at,
    }
}

fn digest() -> KeyDigest {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(ApiKeyId::new().uuid().as_bytes());
    bytes[16..].copy_from_slice(ApiKeyId::new().uuid().as_bytes());
    KeyDigest(bytes)
}

/// Checks an [`AuthStore`].
pub async fn auth_store_contract(store: &dyn AuthStore) {
    let default = store.get_organization(OrgId::DEFAULT).await.unwrap().expect("the default organization exists");
    assert_eq!(default.id, OrgId::DEFAULT);

    let org = Organization::new("acme");
    store.insert_organization(&org).await.unwrap();
    let read = store.get_organization(org.id).await.unwrap().unwrap();
    assert_eq!((read.id, read.name.as_str(), read.created_at.millis()), (org.id, "acme", org.created_at.millis()));
    assert_conflict(store.insert_organization(&org).await, "already exists");
    assert!(store.get_organization(OrgId::new()).await.unwrap().is_none());
    let other = Organization::new("globex");
    store.insert_organization(&other).await.unwrap();

    // Keys: found by digest, never by anything else; the digest and the id are unique.
    let older = Timestamp::from_millis(Timestamp::now().millis() - 1_000);
    let (first, first_digest) = (key(org.id, "ci", older), digest());
    store.insert_api_key(&first, &first_digest).await.unwrap();
    assert_eq!(store.find_api_key(&first_digest).await.unwrap().as_ref(), Some(&first));
    assert!(store.find_api_key(&digest()).await.unwrap().is_none());
    assert_conflict(
        store.insert_api_key(&key(org.id, "dup digest", Timestamp::now()), &first_digest).await,
        "already exists",
    );
    assert_conflict(store.insert_api_key(&first, &digest()).await, "already exists");
    let orphan = store.insert_api_key(&key(OrgId::new(), "orphan", Timestamp::now()), &digest()).await;
    assert_not_found(orphan, "organization");

    let (second, second_digest) = (key(org.id, "laptop", Timestamp::now()), digest());
    store.insert_api_key(&second, &second_digest).await.unwrap();
    let (foreign, foreign_digest) = (key(other.id, "theirs", Timestamp::now()), digest());
    store.insert_api_key(&foreign, &foreign_digest).await.unwrap();

    let listed: Vec<ApiKeyId> = store.list_api_keys(org.id).await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(listed, vec![second.id, first.id], "newest first, this org only");

    // Use is recorded.
    let used = Timestamp::now();
    store.touch_api_key(first.id, used).await.unwrap();
    let touched = store.find_api_key(&first_digest).await.unwrap().unwrap();
    assert_eq!(touched.last_used_at.map(|t| t.millis()), Some(used.millis()));

    // Deleting is scoped to the org: another org's key is untouched and reported absent.
    assert!(!store.delete_api_key(org.id, foreign.id).await.unwrap());
    assert!(store.find_api_key(&foreign_digest).await.unwrap().is_some());
    assert!(store.delete_api_key(org.id, first.id).await.unwrap());
    assert!(!store.delete_api_key(org.id, first.id).await.unwrap());
    assert!(store.find_api_key(&first_digest).await.unwrap().is_none());
    assert_eq!(store.list_api_keys(org.id).await.unwrap().len(), 1);
}
