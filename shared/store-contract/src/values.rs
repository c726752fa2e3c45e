//! The `ValueStore` contract: set, replace, read, delete and list by space, the two spaces and
//! sessions kept apart, and a session's values deleted with it.

use everruns_core::ports::{Stores, ValueSpace};

use crate::fixtures::seed_session;

/// Checks a [`ValueStore`](everruns_core::ports::ValueStore) (the stores are needed to create the
/// sessions values belong to).
pub async fn value_store_contract(stores: &Stores) {
    let store = stores.values.as_ref();
    let session = seed_session(stores).await;
    let other = seed_session(stores).await.id;
    let (id, kv, secret) = (session.id, ValueSpace::Values, ValueSpace::Secrets);

    store.put_value(id, kv, "b", b"two".to_vec()).await.unwrap();
    store.put_value(id, kv, "a", b"one".to_vec()).await.unwrap();
    store.put_value(id, kv, "a", b"uno".to_vec()).await.unwrap();
    assert_eq!(store.get_value(id, kv, "a").await.unwrap().as_deref(), Some(&b"uno"[..]));
    assert_eq!(store.get_value(id, kv, "missing").await.unwrap(), None);
    assert_eq!(store.list_keys(id, kv).await.unwrap(), ["a", "b"]);

    // The spaces and the sessions are apart.
    store.put_value(id, secret, "a", vec![0, 159, 146, 150]).await.unwrap();
    assert_eq!(store.get_value(id, secret, "a").await.unwrap(), Some(vec![0, 159, 146, 150]));
    assert_eq!(store.get_value(id, kv, "a").await.unwrap().as_deref(), Some(&b"uno"[..]));
    assert_eq!(store.list_keys(id, secret).await.unwrap(), ["a"]);
    assert!(store.list_keys(other, kv).await.unwrap().is_empty());
    assert_eq!(store.get_value(other, kv, "a").await.unwrap(), None);

    // Deletes.
    assert!(store.delete_value(id, kv, "b").await.unwrap());
    assert!(!store.delete_value(id, kv, "b").await.unwrap());
    assert!(!store.delete_value(other, kv, "a").await.unwrap());
    assert_eq!(store.list_keys(id, kv).await.unwrap(), ["a"]);

    // They go with their session.
    assert!(stores.sessions.delete_session(session.organization_id, id).await.unwrap());
    assert_eq!(store.get_value(id, kv, "a").await.unwrap(), None);
    assert!(store.list_keys(id, secret).await.unwrap().is_empty());
}
