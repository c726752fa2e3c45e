//! The `ProviderStore` contract: providers scoped to an org and listed by name; models scoped
//! through their provider, unique per `(provider_id, model_id)`, listed by display name, and
//! deleted with their provider; one default model per org, unset when the model goes.

use everruns_core::domain::{Model, ModelSource, Provider, ProviderStatus};
use everruns_core::driver_registry::DriverId;
use everruns_core::ids::{ModelId, OrgId, ProviderId};
use everruns_core::ports::ProviderStore;
use everruns_core::time::Timestamp;

use crate::fixtures::{assert_conflict, assert_not_found, fresh_org};

fn provider(org: OrgId, name: &str) -> Provider {
    let now = Timestamp::now();
    Provider {
        id: ProviderId::new(),
        org_id: org,
        name: name.to_owned(),
        provider_type: DriverId::LlmSim,
        status: ProviderStatus::Active,
        api_key_set: true,
        api_key_encrypted: Some(vec![1, 2, 3, 4]),
        base_url: None,
        metadata: None,
        created_at: now,
        updated_at: now,
    }
}

fn model(provider: ProviderId, model_id: &str, display_name: &str) -> Model {
    let now = Timestamp::now();
    Model {
        id: ModelId::new(),
        provider_id: provider,
        model_id: model_id.to_owned(),
        display_name: display_name.to_owned(),
        capabilities: vec!["text".to_owned(), "tools".to_owned()],
        enabled: true,
        is_favorite: false,
        source: ModelSource::Manual,
        created_at: now,
        updated_at: now,
    }
}

fn display_names(models: &[Model]) -> Vec<&str> {
    models.iter().map(|m| m.display_name.as_str()).collect()
}

/// Checks a [`ProviderStore`].
pub async fn provider_store_contract(store: &dyn ProviderStore) {
    let org = fresh_org();
    let other_org = fresh_org();

    // Providers: insert, read, org scoping, conflicts, updates, listing by name.
    let sim = provider(org, "sim");
    let backup = provider(org, "backup");
    let foreign = provider(other_org, "foreign");
    for p in [&sim, &backup, &foreign] {
        store.insert_provider(p).await.unwrap();
    }
    assert_eq!(store.get_provider(org, sim.id).await.unwrap(), Some(sim.clone()));
    assert_eq!(store.get_provider(other_org, sim.id).await.unwrap(), None, "another org's provider is not found");
    assert_eq!(store.get_provider(org, ProviderId::new()).await.unwrap(), None);
    assert_conflict(store.insert_provider(&sim).await, "already exists");
    let disabled =
        Provider { status: ProviderStatus::Disabled, base_url: Some("http://sim.local".to_owned()), ..sim.clone() };
    store.update_provider(&disabled).await.unwrap();
    assert_eq!(store.get_provider(org, sim.id).await.unwrap(), Some(disabled.clone()));
    assert_not_found(store.update_provider(&provider(org, "ghost")).await, "provider");
    assert_not_found(store.update_provider(&Provider { org_id: other_org, ..sim.clone() }).await, "provider");
    let names: Vec<String> = store.list_providers(org).await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["backup", "sim"]);
    assert_eq!(store.list_providers(other_org).await.unwrap(), vec![foreign.clone()]);

    // Models: the provider must exist in the org; (provider_id, model_id) is unique.
    let fast = model(sim.id, "sim-fast", "fast");
    let smart = model(sim.id, "sim-smart", "smart");
    let backup_fast = model(backup.id, "sim-fast", "another fast");
    for m in [&smart, &fast, &backup_fast] {
        store.insert_model(org, m).await.unwrap();
    }
    assert_not_found(store.insert_model(org, &model(ProviderId::new(), "x", "x")).await, "provider");
    assert_not_found(store.insert_model(other_org, &model(sim.id, "y", "y")).await, "provider");
    assert_not_found(store.insert_model(org, &model(foreign.id, "z", "z")).await, "provider");
    assert_conflict(store.insert_model(org, &model(sim.id, "sim-fast", "dup")).await, "sim-fast");
    assert_conflict(store.insert_model(org, &fast).await, "already exists");

    assert_eq!(store.get_model(org, fast.id).await.unwrap(), Some(fast.clone()));
    assert_eq!(store.get_model(other_org, fast.id).await.unwrap(), None, "models are scoped by their provider's org");
    assert_eq!(store.get_model(org, ModelId::new()).await.unwrap(), None);

    // Model updates.
    let favorite = Model { is_favorite: true, enabled: false, display_name: "quick".to_owned(), ..fast.clone() };
    store.update_model(org, &favorite).await.unwrap();
    assert_eq!(store.get_model(org, fast.id).await.unwrap(), Some(favorite.clone()));
    assert_not_found(store.update_model(org, &model(sim.id, "new", "new")).await, "model");
    assert_not_found(store.update_model(other_org, &favorite).await, "model");
    let clash = Model { model_id: "sim-smart".to_owned(), ..favorite.clone() };
    assert_conflict(store.update_model(org, &clash).await, "sim-smart");

    // Listing by display name, all or one provider's; org-scoped.
    assert_eq!(display_names(&store.list_models(org, None).await.unwrap()), ["another fast", "quick", "smart"]);
    assert_eq!(display_names(&store.list_models(org, Some(sim.id)).await.unwrap()), ["quick", "smart"]);
    assert!(store.list_models(other_org, None).await.unwrap().is_empty());
    assert!(store.list_models(other_org, Some(sim.id)).await.unwrap().is_empty());

    // The org default model: unset at first, set only to a model of the org, unset again with None.
    assert_eq!(store.default_model(org).await.unwrap(), None);
    store.set_default_model(org, Some(smart.id)).await.unwrap();
    assert_eq!(store.default_model(org).await.unwrap(), Some(smart.id));
    assert_eq!(store.default_model(other_org).await.unwrap(), None, "the default is per org");
    assert_not_found(store.set_default_model(other_org, Some(smart.id)).await, "model");
    assert_not_found(store.set_default_model(org, Some(ModelId::new())).await, "model");
    assert_eq!(store.default_model(org).await.unwrap(), Some(smart.id), "a refused change keeps the default");
    store.set_default_model(org, None).await.unwrap();
    assert_eq!(store.default_model(org).await.unwrap(), None);
    store.set_default_model(other_org, None).await.unwrap();
    store.set_default_model(org, Some(smart.id)).await.unwrap();

    // Deletes: models one by one, and a provider with its models.
    assert!(!store.delete_model(other_org, smart.id).await.unwrap());
    assert!(store.delete_model(org, smart.id).await.unwrap());
    assert!(!store.delete_model(org, smart.id).await.unwrap());
    assert_eq!(store.get_model(org, smart.id).await.unwrap(), None);
    assert_eq!(store.default_model(org).await.unwrap(), None, "deleting the default model unsets it");
    store.set_default_model(org, Some(fast.id)).await.unwrap();
    assert!(!store.delete_provider(other_org, sim.id).await.unwrap(), "another org cannot delete it");
    assert!(store.delete_provider(org, sim.id).await.unwrap());
    assert!(!store.delete_provider(org, sim.id).await.unwrap());
    assert_eq!(store.get_provider(org, sim.id).await.unwrap(), None);
    assert_eq!(store.get_model(org, fast.id).await.unwrap(), None, "models go with their provider");
    assert_eq!(store.default_model(org).await.unwrap(), None, "deleting its provider unsets the default");
    assert_eq!(display_names(&store.list_models(org, None).await.unwrap()), ["another fast"]);
    assert_eq!(store.list_providers(org).await.unwrap().len(), 1);

    // The models really went: re-creating the provider with the same id brings none back, and
    // their ids and wire model ids are free again.
    store.insert_provider(&sim).await.unwrap();
    assert!(store.list_models(org, Some(sim.id)).await.unwrap().is_empty());
    assert_eq!(store.get_model(org, fast.id).await.unwrap(), None);
    store.insert_model(org, &model(sim.id, "sim-fast", "fast again")).await.unwrap();
    store.insert_model(org, &Model { model_id: "sim-other".to_owned(), ..fast.clone() }).await.unwrap();
    assert_eq!(
        store.default_model(org).await.unwrap(),
        None,
        "a model re-created with its id is not the default again"
    );
}
