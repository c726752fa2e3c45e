//! Inspects the merged turn context before and after a turn: harness chain, agent, session,
//! filtered history, resolved model and the assembled runtime agent.
//!
//! `cargo run -p everruns-runtime --example inspect_context`

use everruns_core::llmsim_driver::LlmSimConfig;
use everruns_core::{CapabilityRegistry, DriverId, DriverRegistry, PlatformDefinition, ResolvedModel};
use everruns_runtime::InProcessRuntimeBuilder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let platform = PlatformDefinition::new(CapabilityRegistry::with_builtins(), DriverRegistry::new());
    let runtime = InProcessRuntimeBuilder::new()
        .platform_definition(platform)
        .llm_sim(LlmSimConfig::echo())
        .default_model(ResolvedModel {
            model: "llmsim-echo".into(),
            provider_type: DriverId::LlmSim,
            api_key: None,
            base_url: None,
            provider_metadata: None,
        })
        .build()
        .await?;
    let session_id = runtime.session_id();

    let context = runtime.load_context(session_id).await?;
    println!("before the first turn:");
    println!("  harnesses = {:?}", context.harness_chain.iter().map(|h| h.name.as_str()).collect::<Vec<_>>());
    println!("  messages = {}", context.messages.len());
    println!("  model = {}", context.runtime_agent.model);
    println!("  tools = {}", context.runtime_agent.tools.len());
    println!("  system prompt = {:?}", context.runtime_agent.system_prompt);

    runtime.send_message(session_id, "What is in my context?").await?;

    let context = runtime.load_context(session_id).await?;
    println!("after one turn:");
    println!("  messages = {}", context.messages.len());
    for message in &context.messages {
        println!("    {:?}: {}", message.role, message.text());
    }
    Ok(())
}
