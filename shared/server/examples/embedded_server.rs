//! The embedding guide's server example: the OSS preset, mutated, with a custom route.
//! (The guide also spawns `WorkerAppBuilder`; until the worker crate exists, DEV_MODE runs turns
//! in-process.)
//!
//! `DEV_MODE=true cargo run -p everruns-server --example embedded_server`, then
//! `curl localhost:9000/api/v1/ping`.

use axum::{Router, routing::get};
use everruns_core::{BuiltInCapabilityDefinition, BuiltInHarnessDefinition, BuiltInHarnessRole};
use everruns_server::{ServerAppBuilder, ServerConfig, oss_platform_definition};

fn custom_routes() -> Router {
    Router::new().route("/v1/ping", get(|| async { "pong" }))
}

fn platform() -> everruns_core::PlatformDefinition {
    let mut platform = oss_platform_definition();
    // Remove built-in components you do not want.
    platform.capability_registry_mut().unregister("daytona");
    platform.connection_providers_mut().unregister("daytona");
    // Replace the stock default/base harnesses with a smaller embedded preset.
    platform.built_in_harnesses_mut().retain(|harness| {
        !harness.has_role(BuiltInHarnessRole::Base) && !harness.has_role(BuiltInHarnessRole::Default)
    });
    platform.built_in_harnesses_mut().push(
        BuiltInHarnessDefinition::new(
            "minimal",
            "Minimal",
            "Small default harness for an embedded deployment.",
            "You are a helpful assistant.",
        )
        .with_roles([BuiltInHarnessRole::Base, BuiltInHarnessRole::Default])
        .with_tags(["minimal", "built-in"])
        .with_capabilities([BuiltInCapabilityDefinition::new("current_time")]),
    );
    platform
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let platform = platform();
    let server_platform = platform.clone();
    ServerAppBuilder::new(ServerConfig::from_env())
        .platform_definition(server_platform)
        .routes(custom_routes())
        .run()
        .await
}
