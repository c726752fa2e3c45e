//! The stock platform preset, re-exported where the embedding guide imports it from.

pub use everruns_platform::oss_platform_definition;
