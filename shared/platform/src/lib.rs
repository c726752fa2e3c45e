//! # everruns-platform
//!
//! `oss_platform_definition()`: the stock surface — built-in capabilities (the toolbox among them),
//! the OpenAI (Responses), Chat Completions (`openai_completions`, `azure_openai`, `openrouter`),
//! Anthropic, Gemini and llmsim drivers, and the stock harness templates. Both the control plane and the
//! workers start from it (a separate crate so a worker does not link the HTTP server). With the
//! `bedrock` feature (the processes that run turns) it registers the AWS Bedrock driver too.

use everruns_core::{CapabilityRegistry, DriverRegistry, PlatformDefinition};

/// The open-source preset. Embedders start here and mutate it.
pub fn oss_platform_definition() -> PlatformDefinition {
    let mut drivers = DriverRegistry::new();
    everruns_openai::register_driver(&mut drivers);
    everruns_anthropic::register_driver(&mut drivers);
    everruns_gemini::register_driver(&mut drivers);
    #[cfg(feature = "bedrock")]
    everruns_bedrock::register_driver(&mut drivers);
    everruns_chat_completions::register_drivers(&mut drivers);
    everruns_core::llmsim_driver::register_driver(&mut drivers);
    PlatformDefinition::new(stock_capabilities(), drivers)
}

/// The stock capabilities: the core's (`current_time`, the experimental `test_math`), the
/// toolbox (`session_file_system`, `session_storage`, `stateless_todo_list`, the experimental
/// `test_weather`), `virtual_bash` and `web_fetch`.
pub fn stock_capabilities() -> CapabilityRegistry {
    let mut capabilities = CapabilityRegistry::with_builtins();
    everruns_toolbox::register_own(&mut capabilities);
    capabilities.register(everruns_bash::BashCapability::new());
    capabilities.register(everruns_web_fetch::WebFetchCapability::new());
    capabilities
}
