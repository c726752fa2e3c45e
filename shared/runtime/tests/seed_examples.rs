//! The embedding guide's code, compiled against these crates. Bodies the guide leaves to the
//! reader (`MyCodexDriver`, the OAuth values) are filled in minimally. The guide's
//! `everruns_openai::register_driver` line needs the OpenAI driver crate, which arrives with the
//! provider drivers; the llmsim registration stands in for it here.
#![allow(clippy::unwrap_used)]

use everruns_core::driver::{ChatDriver, ChatRequest, ChatStream, DriverError, DriverErrorKind};
use everruns_core::{
    BuiltInCapabilityDefinition, BuiltInHarnessDefinition, BuiltInHarnessRole, CapabilityRegistry, DriverRegistry,
    PlatformDefinition,
};

fn platform() -> PlatformDefinition {
    let mut capabilities = CapabilityRegistry::new();
    capabilities.register(everruns_core::CurrentTimeCapability);

    let mut drivers = DriverRegistry::new();
    everruns_core::llmsim_driver::register_driver(&mut drivers);

    PlatformDefinition::builder()
        .capability_registry(capabilities)
        .driver_registry(drivers)
        .built_in_harnesses([BuiltInHarnessDefinition::new(
            "minimal",
            "Minimal",
            "Minimal embedded harness",
            "You are a helpful assistant.",
        )
        .with_roles([BuiltInHarnessRole::Base, BuiltInHarnessRole::Default])
        .with_capabilities([BuiltInCapabilityDefinition::new("current_time")])])
        .build()
}

fn customized(mut platform: PlatformDefinition) -> PlatformDefinition {
    platform.capability_registry_mut().unregister("daytona");
    platform.connection_providers_mut().unregister("daytona");
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

struct MyCodexDriver {
    account: Option<String>,
}

impl MyCodexDriver {
    fn new(config: &everruns_core::driver_registry::DriverConfig) -> Self {
        Self { account: config.metadata.account_id.clone() }
    }
}

#[async_trait::async_trait]
impl ChatDriver for MyCodexDriver {
    async fn chat_stream(&self, _request: ChatRequest) -> Result<ChatStream, DriverError> {
        Err(DriverError::new(DriverErrorKind::Authentication, format!("codex account {:?}", self.account)))
    }
}

mod guide_register_external {
    use super::MyCodexDriver;
    use everruns_core::driver_registry::{BoxedChatDriver, DriverConfig, DriverRegistry};

    pub fn drivers() -> DriverRegistry {
        let mut drivers = DriverRegistry::new();
        everruns_core::llmsim_driver::register_driver(&mut drivers); // built-ins
        drivers.register_external("openai-codex", |config: &DriverConfig| {
            Box::new(MyCodexDriver::new(config)) as BoxedChatDriver
        });
        drivers
    }
}

struct OAuth {
    refresh_token: String,
    account_id: String,
}

#[tokio::test]
async fn the_guides_code_compiles_and_behaves() {
    let platform = platform();
    assert_eq!(platform.built_in_harnesses().len(), 1);
    let clone = platform.clone();
    assert!(clone.capability_registry().get("current_time").is_some());

    let custom = customized(PlatformDefinition::new(CapabilityRegistry::with_builtins(), DriverRegistry::new()));
    assert!(custom.built_in_harnesses().iter().any(|h| h.name == "minimal"));
    assert!(!custom.built_in_harnesses().iter().any(|h| h.name == "base" || h.name == "generic"));

    // register_external + ResolvedModel with an External provider and metadata-based auth.
    use everruns_core::driver_registry::ProviderMetadata;
    use everruns_core::{DriverId, ResolvedModel};
    let oauth = OAuth { refresh_token: "rt".into(), account_id: "acct-1".into() };
    let model = ResolvedModel {
        model: "gpt-5-codex".into(),
        provider_type: DriverId::External("openai-codex".into()),
        api_key: None,
        base_url: None,
        provider_metadata: Some(ProviderMetadata {
            refresh_token: Some(oauth.refresh_token),
            account_id: Some(oauth.account_id),
            extra: None,
        }),
    };
    let driver = guide_register_external::drivers().create(&model).unwrap();
    let err = driver.chat_stream(ChatRequest::default()).await.err().unwrap();
    assert!(err.message.contains("acct-1"), "the factory received the metadata");
}

#[tokio::test]
async fn the_guides_runtime_quickstart_runs() -> anyhow::Result<()> {
    use everruns_core::llmsim_driver::LlmSimConfig;
    use everruns_core::{DriverId, ResolvedModel};
    use everruns_runtime::InProcessRuntimeBuilder;

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
        // .capability(...)
        // .backends(...)
        // .harness(...)
        // .session(...)
        .build()
        .await?;

    let session_id = runtime.session_id();
    let context = runtime.load_context(session_id).await?;
    println!("messages = {}", context.messages.len());
    println!("model = {}", context.runtime_agent.model);
    println!("tools = {}", context.runtime_agent.tools.len());
    assert_eq!(context.messages.len(), 0);
    assert_eq!(context.runtime_agent.model, "llmsim-model");
    assert_eq!(context.runtime_agent.tools.len(), 0, "no capabilities registered, so none resolve");

    let report = runtime.send_message(session_id, "hi").await?;
    assert_eq!(report.reply.map(|m| m.text()).as_deref(), Some("hello from everruns-runtime"));
    assert_eq!(runtime.load_context(session_id).await?.messages.len(), 2);

    // Backends with overrides, as the guide shows.
    use everruns_runtime::RuntimeBackends;
    let my_file_store = everruns_store_memory::MemoryFileStore::new();
    let my_message_store = everruns_store_memory::MemoryEventStore::new();
    let my_event_bus = everruns_store_memory::MemoryEventBus::collecting();
    let runtime = InProcessRuntimeBuilder::new()
        .backends(
            RuntimeBackends::in_memory()
                .with_file_store(my_file_store)
                .with_message_store(my_message_store)
                .with_event_bus(my_event_bus),
        )
        .build()
        .await?;
    runtime.send_message(runtime.session_id(), "hello").await?;
    assert!(runtime.events().iter().any(|e| e.event_type() == "turn.completed"));
    Ok(())
}
