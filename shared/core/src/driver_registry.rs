//! Driver ids and the registry that maps them to driver factories.
//!
//! Rules (from the embedding guide): `register` panics on a duplicate id so double registration is
//! loud; `register_or_replace` swaps on purpose; `register_external` keys an embedder-defined driver
//! by a custom id normalised to lowercase; an empty or whitespace id is a configuration error;
//! `unregister` removes; an unknown non-empty id round-trips as [`DriverId::External`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::driver::ChatDriver;

/// A driver instance, as built by a factory.
pub type BoxedChatDriver = Box<dyn ChatDriver>;

/// Builds a driver for one resolved model.
pub type DriverFactory = Arc<dyn Fn(&DriverConfig) -> BoxedChatDriver + Send + Sync>;

/// Which driver serves a provider (`provider_type` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DriverId {
    /// OpenAI Responses API.
    OpenAi,
    /// OpenAI Chat Completions.
    OpenAiCompletions,
    /// OpenRouter.
    OpenRouter,
    /// Azure OpenAI.
    AzureOpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini.
    Gemini,
    /// AWS Bedrock.
    Bedrock,
    /// The simulator used by tests and demos.
    LlmSim,
    /// An embedder-defined driver, keyed by a lowercase custom id.
    External(String),
}

/// A driver id or registration that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverConfigError {
    /// Empty or whitespace-only id.
    #[error("configuration error: a provider id must not be empty or whitespace")]
    EmptyId,
    /// No driver is registered under the id.
    #[error("no LLM driver is registered for provider type '{0}'")]
    NotRegistered(String),
}

const BUILT_INS: [(&str, DriverId); 8] = [
    ("openai", DriverId::OpenAi),
    ("openai_completions", DriverId::OpenAiCompletions),
    ("openrouter", DriverId::OpenRouter),
    ("azure_openai", DriverId::AzureOpenAi),
    ("anthropic", DriverId::Anthropic),
    ("gemini", DriverId::Gemini),
    ("bedrock", DriverId::Bedrock),
    ("llmsim", DriverId::LlmSim),
];

impl DriverId {
    /// Parses a stored or wire id: built-ins by name (case-insensitive), anything else non-empty as
    /// an external id in lowercase.
    pub fn parse(text: &str) -> Result<Self, DriverConfigError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(DriverConfigError::EmptyId);
        }
        let lower = trimmed.to_ascii_lowercase();
        Ok(BUILT_INS
            .iter()
            .find(|(name, _)| *name == lower)
            .map(|(_, id)| id.clone())
            .unwrap_or(DriverId::External(lower)))
    }

    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            DriverId::External(id) => id,
            builtin => BUILT_INS.iter().find(|(_, id)| id == builtin).map(|(name, _)| *name).unwrap_or(""),
        }
    }

    /// Normalises an `External` id so lookups agree regardless of casing.
    fn normalized(self) -> Result<Self, DriverConfigError> {
        match self {
            DriverId::External(id) => DriverId::parse(&id),
            other => Ok(other),
        }
    }
}

impl fmt::Display for DriverId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DriverId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DriverId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DriverId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Non-key auth material for drivers that authenticate another way (OAuth gateways and the like).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProviderMetadata {
    /// OAuth refresh token.
    pub refresh_token: Option<String>,
    /// Account id at the provider.
    pub account_id: Option<String>,
    /// Anything else the driver needs.
    pub extra: Option<Value>,
}

/// What a driver factory receives.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DriverConfig {
    /// Wire model id.
    pub model: String,
    /// API key, when the provider uses one.
    pub api_key: Option<String>,
    /// Endpoint override.
    pub base_url: Option<String>,
    /// Non-key auth material.
    pub metadata: ProviderMetadata,
}

/// A model resolved to its driver and decrypted credentials, ready to call.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedModel {
    /// Wire model id.
    pub model: String,
    /// The driver to use.
    pub provider_type: DriverId,
    /// Decrypted API key.
    pub api_key: Option<String>,
    /// Endpoint override.
    pub base_url: Option<String>,
    /// Non-key auth material.
    pub provider_metadata: Option<ProviderMetadata>,
}

impl ResolvedModel {
    /// The factory input for this model.
    pub fn driver_config(&self) -> DriverConfig {
        DriverConfig {
            model: self.model.clone(),
            api_key: self.api_key.clone(),
            base_url: self.base_url.clone(),
            metadata: self.provider_metadata.clone().unwrap_or_default(),
        }
    }
}

/// Registered driver factories, keyed by id.
#[derive(Clone, Default)]
pub struct DriverRegistry {
    factories: HashMap<DriverId, DriverFactory>,
}

impl fmt::Debug for DriverRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.factories.keys().map(DriverId::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("DriverRegistry").field("drivers", &ids).finish()
    }
}

impl DriverRegistry {
    /// An empty registry: only what you register exists.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a factory. Panics if the id is already registered or is an empty external id.
    pub fn register<F>(&mut self, id: DriverId, factory: F) -> &mut Self
    where
        F: Fn(&DriverConfig) -> BoxedChatDriver + Send + Sync + 'static,
    {
        let id = id.normalized().unwrap_or_else(|e| panic!("{e}"));
        assert!(!self.factories.contains_key(&id), "an LLM driver is already registered for provider type '{id}'");
        self.factories.insert(id, Arc::new(factory));
        self
    }

    /// Registers a factory, replacing any existing one under the same id.
    pub fn register_or_replace<F>(&mut self, id: DriverId, factory: F) -> &mut Self
    where
        F: Fn(&DriverConfig) -> BoxedChatDriver + Send + Sync + 'static,
    {
        let id = id.normalized().unwrap_or_else(|e| panic!("{e}"));
        self.factories.insert(id, Arc::new(factory));
        self
    }

    /// Registers an embedder-defined driver under a custom id (normalised to lowercase). Panics on
    /// a duplicate or on an empty or whitespace id, a configuration error; see
    /// [`DriverRegistry::try_register_external`] for the non-panicking form.
    pub fn register_external<F>(&mut self, id: &str, factory: F) -> &mut Self
    where
        F: Fn(&DriverConfig) -> BoxedChatDriver + Send + Sync + 'static,
    {
        if let Err(e) = self.try_register_external(id, factory) {
            panic!("{e}");
        }
        self
    }

    /// Like [`DriverRegistry::register_external`], but an empty id is an error and a duplicate is replaced.
    pub fn try_register_external<F>(&mut self, id: &str, factory: F) -> Result<(), DriverConfigError>
    where
        F: Fn(&DriverConfig) -> BoxedChatDriver + Send + Sync + 'static,
    {
        let id = DriverId::parse(id)?;
        let key = match id {
            DriverId::External(_) => id,
            builtin => DriverId::External(builtin.as_str().to_owned()),
        };
        self.factories.insert(key, Arc::new(factory));
        Ok(())
    }

    /// Removes a driver; returns whether it was registered.
    pub fn unregister(&mut self, id: &DriverId) -> bool {
        match id.clone().normalized() {
            Ok(id) => self.factories.remove(&id).is_some(),
            Err(_) => false,
        }
    }

    /// Whether a driver is registered under the id.
    pub fn contains(&self, id: &DriverId) -> bool {
        id.clone().normalized().is_ok_and(|id| self.factories.contains_key(&id))
    }

    /// The registered ids.
    pub fn ids(&self) -> impl Iterator<Item = &DriverId> {
        self.factories.keys()
    }

    /// Builds the driver for a resolved model.
    pub fn create(&self, model: &ResolvedModel) -> Result<BoxedChatDriver, DriverConfigError> {
        let id = model.provider_type.clone().normalized()?;
        let factory = self
            .factories
            .get(&id)
            .or_else(|| match &id {
                // An external registration may shadow a built-in name.
                DriverId::External(_) => None,
                builtin => self.factories.get(&DriverId::External(builtin.as_str().to_owned())),
            })
            .ok_or_else(|| DriverConfigError::NotRegistered(id.to_string()))?;
        Ok(factory(&model.driver_config()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{ChatRequest, ChatStream, DriverError};

    struct Named(&'static str);

    #[async_trait::async_trait]
    impl ChatDriver for Named {
        async fn chat_stream(&self, _request: ChatRequest) -> Result<ChatStream, DriverError> {
            Err(DriverError::new(crate::driver::DriverErrorKind::Other, self.0))
        }
    }

    fn named(name: &'static str) -> impl Fn(&DriverConfig) -> BoxedChatDriver + Send + Sync + 'static {
        move |_| Box::new(Named(name))
    }

    fn model(id: DriverId) -> ResolvedModel {
        ResolvedModel { model: "m".into(), provider_type: id, api_key: None, base_url: None, provider_metadata: None }
    }

    async fn which(registry: &DriverRegistry, id: DriverId) -> String {
        let driver = registry.create(&model(id)).unwrap_or_else(|e| panic!("{e}"));
        match driver.chat_stream(ChatRequest::default()).await {
            Err(e) => e.message,
            Ok(_) => String::new(),
        }
    }

    #[test]
    #[should_panic(expected = "already registered")]
    fn register_panics_on_a_duplicate() {
        let mut registry = DriverRegistry::new();
        registry.register(DriverId::OpenAi, named("a"));
        registry.register(DriverId::OpenAi, named("b"));
    }

    #[tokio::test]
    async fn register_or_replace_swaps() {
        let mut registry = DriverRegistry::new();
        registry.register(DriverId::Anthropic, named("first"));
        registry.register_or_replace(DriverId::Anthropic, named("second"));
        assert_eq!(which(&registry, DriverId::Anthropic).await, "second");
    }

    #[tokio::test]
    async fn external_ids_are_lowercase_and_case_insensitive() {
        let mut registry = DriverRegistry::new();
        registry.register_external("OpenAI-Codex", named("codex"));
        assert!(registry.contains(&DriverId::External("openai-codex".into())));
        assert_eq!(which(&registry, DriverId::parse("OPENAI-CODEX").unwrap_or(DriverId::LlmSim)).await, "codex");
        assert_eq!(DriverId::parse("OpenAI-Codex"), Ok(DriverId::External("openai-codex".into())));
    }

    #[test]
    #[should_panic(expected = "configuration error")]
    fn register_external_panics_on_an_empty_id() {
        DriverRegistry::new().register_external("   ", named("x"));
    }

    #[test]
    fn empty_ids_are_configuration_errors() {
        assert_eq!(DriverId::parse(""), Err(DriverConfigError::EmptyId));
        assert_eq!(DriverId::parse(" \t"), Err(DriverConfigError::EmptyId));
        assert!(DriverRegistry::new().try_register_external("", named("x")).is_err());
        assert!(serde_json::from_str::<DriverId>("\"  \"").is_err());
    }

    #[test]
    fn unregister_removes() {
        let mut registry = DriverRegistry::new();
        registry.register(DriverId::Gemini, named("g"));
        assert!(registry.unregister(&DriverId::Gemini));
        assert!(!registry.contains(&DriverId::Gemini));
        assert!(!registry.unregister(&DriverId::Gemini));
        assert!(matches!(registry.create(&model(DriverId::Gemini)), Err(DriverConfigError::NotRegistered(_))));
    }

    #[test]
    fn ids_round_trip_through_text() {
        for text in [
            "openai",
            "openai_completions",
            "openrouter",
            "azure_openai",
            "anthropic",
            "gemini",
            "bedrock",
            "llmsim",
            "my-gateway",
        ] {
            let id = DriverId::parse(text).unwrap_or(DriverId::LlmSim);
            assert_eq!(id.as_str(), text);
            let json = serde_json::to_string(&id).unwrap_or_default();
            assert_eq!(serde_json::from_str::<DriverId>(&json).ok(), Some(id));
        }
        assert_eq!(DriverId::parse("Anthropic"), Ok(DriverId::Anthropic));
    }
}
