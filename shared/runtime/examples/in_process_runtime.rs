//! Runs a turn fully in-process with the LLM simulator, then prints the reply and the events.
//!
//! `cargo run -p everruns-runtime --example in_process_runtime`

use everruns_core::llmsim_driver::LlmSimConfig;
use everruns_core::{CapabilityRegistry, DriverId, DriverRegistry, PlatformDefinition, ResolvedModel};
use everruns_runtime::InProcessRuntimeBuilder;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let platform = PlatformDefinition::new(CapabilityRegistry::new(), DriverRegistry::new());
    let runtime = InProcessRuntimeBuilder::new()
        .platform_definition(platform)
        .llm_sim(LlmSimConfig::fixed("hello from everruns-runtime"))
        .default_model(ResolvedModel {
            model: "llmsim-model".into(),
            provider_type: DriverId::LlmSim,
            api_key: Some("fake-key".into()),
            base_url: None,
            provider_metadata: None,
        })
        .build()
        .await?;

    let session_id = runtime.session_id();
    let report = runtime.send_message(session_id, "Hi there!").await?;
    println!("outcome: {:?}", report.outcome);
    println!("reply:   {}", report.reply.map(|m| m.text()).unwrap_or_default());
    for event in runtime.events() {
        println!("{:>4} {}", event.sequence.map(|s| s.to_string()).unwrap_or_else(|| "-".into()), event.event_type());
    }
    Ok(())
}
