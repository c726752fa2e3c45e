//! # everruns-platform
//!
//! `oss_platform_definition()`: the stock surface — built-in capabilities, the OpenAI, Anthropic,
//! Gemini and llmsim drivers, and the stock harness templates. Both the control plane and the
//! workers start from it (a separate crate so a worker does not link the HTTP server).

use everruns_core::{CapabilityRegistry, DriverRegistry, PlatformDefinition};

/// The open-source preset. Embedders start here and mutate it.
pub fn oss_platform_definition() -> PlatformDefinition {
    let mut drivers = DriverRegistry::new();
    everruns_openai::register_driver(&mut drivers);
    everruns_anthropic::register_driver(&mut drivers);
    everruns_gemini::register_driver(&mut drivers);
    everruns_core::llmsim_driver::register_driver(&mut drivers);
    PlatformDefinition::new(CapabilityRegistry::with_builtins(), drivers)
}
