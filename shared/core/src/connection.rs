//! Connection providers: external services a session may connect to (OAuth apps, sandboxes).
//! The registry follows the same rules as the capability and driver registries.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A connection provider definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionProviderDefinition {
    /// Id (`github`, `daytona`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Description.
    pub description: String,
}

impl ConnectionProviderDefinition {
    /// A definition.
    pub fn new(id: impl Into<String>, name: impl Into<String>, description: impl Into<String>) -> Self {
        Self { id: id.into(), name: name.into(), description: description.into() }
    }
}

/// Registered connection providers, by id.
#[derive(Debug, Clone, Default)]
pub struct ConnectionProviderRegistry {
    providers: BTreeMap<String, ConnectionProviderDefinition>,
}

impl ConnectionProviderRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a provider. Panics on a duplicate or empty id.
    pub fn register(&mut self, provider: ConnectionProviderDefinition) -> &mut Self {
        assert!(!provider.id.trim().is_empty(), "configuration error: a connection provider id must not be empty");
        assert!(
            !self.providers.contains_key(&provider.id),
            "a connection provider is already registered with id '{}'",
            provider.id
        );
        self.providers.insert(provider.id.clone(), provider);
        self
    }

    /// Registers a provider, replacing any with the same id.
    pub fn register_or_replace(&mut self, provider: ConnectionProviderDefinition) -> &mut Self {
        self.providers.insert(provider.id.clone(), provider);
        self
    }

    /// Removes a provider; returns whether it was registered.
    pub fn unregister(&mut self, id: &str) -> bool {
        self.providers.remove(id).is_some()
    }

    /// Looks a provider up.
    pub fn get(&self, id: &str) -> Option<&ConnectionProviderDefinition> {
        self.providers.get(id)
    }

    /// All providers, by id.
    pub fn iter(&self) -> impl Iterator<Item = &ConnectionProviderDefinition> {
        self.providers.values()
    }
}
