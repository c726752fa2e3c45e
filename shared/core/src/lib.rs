//! # everruns-core
//!
//! The domain of Everruns, naming no transport or storage technology:
//!
//! - [`ids`], [`time`] and [`domain`]: identifiers, timestamps and the contract's types;
//! - [`events`]: the event envelope, the typed catalog and the registry of type strings;
//! - [`ports`]: store traits, the event bus, the task queue; [`driver`]: the chat driver port;
//! - [`PlatformDefinition`] with the [`CapabilityRegistry`], [`DriverRegistry`], connection
//!   providers and built-in harness templates;
//! - [`llmsim_driver`]: the LLM simulator;
//! - [`context`]: turn-context assembly; [`engine`]: the turn-iteration engine; [`turns`]: the
//!   services that start, resume and cancel turns around it.
//!
//! Layout: one module per concern; adapters live in other crates (`everruns-store-memory`, …).

pub mod capabilities;
pub mod connection;
pub mod context;
pub mod domain;
pub mod driver;
pub mod driver_registry;
pub mod engine;
pub mod events;
pub mod harness_templates;
pub mod history;
pub mod ids;
pub mod llmsim_driver;
pub mod platform;
pub mod ports;
pub mod report;
pub mod seed;
pub mod throttle;
pub mod time;
pub mod trace_context;
pub mod turns;

pub use capabilities::{
    Capability, CapabilityError, CapabilityInfo, CapabilityRegistry, CurrentTimeCapability, DeploymentGrade,
    TestMathCapability,
};
pub use connection::{ConnectionProviderDefinition, ConnectionProviderRegistry};
pub use driver::{ChatDriver, DriverError, DriverErrorKind, GENERIC_ERROR_MESSAGE};
pub use driver_registry::{DriverId, DriverRegistry, ResolvedModel};
pub use harness_templates::{BuiltInCapabilityDefinition, BuiltInHarnessDefinition, BuiltInHarnessRole};
pub use platform::{PlatformDefinition, PlatformDefinitionBuilder};
