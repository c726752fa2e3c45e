//! `oss_platform_definition()`: the stock surface — built-in capabilities, the OpenAI, Anthropic,
//! Gemini and llmsim drivers, and the stock harness templates. Embedders start here and mutate it.

use everruns_core::{CapabilityRegistry, DriverRegistry, PlatformDefinition};

/// The open-source preset.
pub fn oss_platform_definition() -> PlatformDefinition {
    let mut drivers = DriverRegistry::new();
    everruns_openai::register_driver(&mut drivers);
    everruns_anthropic::register_driver(&mut drivers);
    everruns_gemini::register_driver(&mut drivers);
    everruns_core::llmsim_driver::register_driver(&mut drivers);
    PlatformDefinition::new(CapabilityRegistry::with_builtins(), drivers)
}
