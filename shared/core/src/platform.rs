//! `PlatformDefinition`: the composition root shared by the control plane and the workers —
//! capabilities, LLM drivers, connection providers and built-in harness templates.

use crate::capabilities::CapabilityRegistry;
use crate::connection::ConnectionProviderRegistry;
use crate::driver_registry::DriverRegistry;
use crate::harness_templates::{BuiltInHarnessDefinition, stock_built_in_harnesses};

/// The runtime surface of a deployment. Clone it to hand the same surface to server and worker.
#[derive(Debug, Clone)]
pub struct PlatformDefinition {
    capabilities: CapabilityRegistry,
    drivers: DriverRegistry,
    connection_providers: ConnectionProviderRegistry,
    built_in_harnesses: Vec<BuiltInHarnessDefinition>,
}

impl PlatformDefinition {
    /// A definition with the given registries, no connection providers and the stock harness
    /// templates (`base`, `generic`, `platform-chat`).
    pub fn new(capabilities: CapabilityRegistry, drivers: DriverRegistry) -> Self {
        Self {
            capabilities,
            drivers,
            connection_providers: ConnectionProviderRegistry::new(),
            built_in_harnesses: stock_built_in_harnesses(),
        }
    }

    /// A builder; unset parts are empty registries and the stock harness templates.
    pub fn builder() -> PlatformDefinitionBuilder {
        PlatformDefinitionBuilder::default()
    }

    /// The capabilities.
    pub fn capability_registry(&self) -> &CapabilityRegistry {
        &self.capabilities
    }

    /// The capabilities, to change.
    pub fn capability_registry_mut(&mut self) -> &mut CapabilityRegistry {
        &mut self.capabilities
    }

    /// The LLM drivers.
    pub fn driver_registry(&self) -> &DriverRegistry {
        &self.drivers
    }

    /// The LLM drivers, to change.
    pub fn driver_registry_mut(&mut self) -> &mut DriverRegistry {
        &mut self.drivers
    }

    /// The connection providers.
    pub fn connection_providers(&self) -> &ConnectionProviderRegistry {
        &self.connection_providers
    }

    /// The connection providers, to change.
    pub fn connection_providers_mut(&mut self) -> &mut ConnectionProviderRegistry {
        &mut self.connection_providers
    }

    /// The built-in harness templates.
    pub fn built_in_harnesses(&self) -> &[BuiltInHarnessDefinition] {
        &self.built_in_harnesses
    }

    /// The built-in harness templates, to change.
    pub fn built_in_harnesses_mut(&mut self) -> &mut Vec<BuiltInHarnessDefinition> {
        &mut self.built_in_harnesses
    }
}

/// Builds a [`PlatformDefinition`].
#[derive(Debug, Default)]
pub struct PlatformDefinitionBuilder {
    capabilities: Option<CapabilityRegistry>,
    drivers: Option<DriverRegistry>,
    connection_providers: Option<ConnectionProviderRegistry>,
    built_in_harnesses: Option<Vec<BuiltInHarnessDefinition>>,
}

impl PlatformDefinitionBuilder {
    /// Sets the capabilities.
    pub fn capability_registry(mut self, capabilities: CapabilityRegistry) -> Self {
        self.capabilities = Some(capabilities);
        self
    }

    /// Sets the drivers.
    pub fn driver_registry(mut self, drivers: DriverRegistry) -> Self {
        self.drivers = Some(drivers);
        self
    }

    /// Sets the connection providers.
    pub fn connection_providers(mut self, providers: ConnectionProviderRegistry) -> Self {
        self.connection_providers = Some(providers);
        self
    }

    /// Sets the built-in harness templates (replacing the stock ones).
    pub fn built_in_harnesses(mut self, harnesses: impl IntoIterator<Item = BuiltInHarnessDefinition>) -> Self {
        self.built_in_harnesses = Some(harnesses.into_iter().collect());
        self
    }

    /// The definition.
    pub fn build(self) -> PlatformDefinition {
        PlatformDefinition {
            capabilities: self.capabilities.unwrap_or_default(),
            drivers: self.drivers.unwrap_or_default(),
            connection_providers: self.connection_providers.unwrap_or_default(),
            built_in_harnesses: self.built_in_harnesses.unwrap_or_else(stock_built_in_harnesses),
        }
    }
}
