//! # everruns-bedrock
//!
//! The `bedrock` chat driver: AWS Bedrock **ConverseStream** through the AWS SDK
//! (`aws-sdk-bedrockruntime`, rustls, no default features).
//!
//! - Identity and routing ([`auth`]): the process's default AWS credential chain (the worker's IAM
//!   role) when the provider stores no secret; else its secret holds a JSON credentials document
//!   (`access_key_id`, `secret_access_key`, `session_token`, and optionally `region`, `role_arn`,
//!   `external_id`, `sts_endpoint_url`) or a Bedrock API key (bearer). `region` and `role_arn` may
//!   also come from the provider metadata; with `role_arn` the base identity assumes that role
//!   (STS). The provider's `base_url` overrides the Bedrock Runtime endpoint.
//! - Clients ([`client`]): one SDK client per distinct settings, reused across turns.
//! - The request ([`request`]) and the event stream ([`events`]); errors ([`errors`]) in the
//!   contract's classes.
//! - Retries: the SDK's own retries are disabled; the project's [`RetryPolicy`] applies (two
//!   retries with backoff on throttling, 5xx and transport failures), including exception events
//!   that arrive in the stream before the first chunk.
//!
//! Endpoint overrides (`base_url`, `sts_endpoint_url`) are judged by the process's outbound policy
//! before each call. Not supported yet: reasoning budgets (`reasoning_effort` is ignored; streamed
//! reasoning text is still passed on), prompt cache points, and linked (URL) images.

pub mod auth;
pub mod client;
pub mod errors;
pub mod events;
pub mod request;

use std::sync::Arc;

use aws_sdk_bedrockruntime::config::Credentials;
use aws_sdk_bedrockruntime::operation::RequestId;

use everruns_core::driver::{ChatDriver, ChatRequest, ChatStream, DriverError, DriverErrorKind};
use everruns_core::driver_registry::{DriverConfig, DriverId, DriverRegistry};
use everruns_driver_common::{RetryPolicy, stream_with_retry};

pub use auth::BedrockSettings;
pub use client::ClientCache;
pub use events::ConverseDecoder;

/// The AWS Bedrock ConverseStream driver.
#[derive(Debug, Clone)]
pub struct BedrockDriver {
    model: String,
    settings: Result<BedrockSettings, DriverError>,
    retry: RetryPolicy,
    clients: Arc<ClientCache>,
}

impl BedrockDriver {
    /// A driver for a factory config, sharing the process-wide client cache.
    pub fn new(config: &DriverConfig) -> Self {
        Self {
            model: config.model.clone(),
            settings: BedrockSettings::from_config(config),
            retry: RetryPolicy::default(),
            clients: ClientCache::shared(),
        }
    }

    /// The same driver with another retry policy (tests shorten the backoff).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The same driver with its own client cache whose default chain is `credentials` (tests:
    /// the process environment is never read for them).
    pub fn with_default_credentials(mut self, credentials: Credentials) -> Self {
        self.clients = Arc::new(ClientCache::with_default_credentials(credentials));
        self
    }

    /// The provider settings, or why they are unusable.
    pub fn settings(&self) -> Result<&BedrockSettings, &DriverError> {
        self.settings.as_ref()
    }

    fn model_for<'a>(&'a self, request: &'a ChatRequest) -> &'a str {
        if request.model.trim().is_empty() { &self.model } else { &request.model }
    }
}

/// An endpoint override must be one the outbound policy lets the process reach.
async fn check_endpoint(url: Option<&str>, what: &str) -> Result<(), DriverError> {
    match url {
        Some(url) => everruns_driver_common::outbound::current()
            .check_resolved(url)
            .await
            .map_err(|why| DriverError::new(DriverErrorKind::InvalidRequest, format!("the Bedrock {what} {why}"))),
        None => Ok(()),
    }
}

#[async_trait::async_trait]
impl ChatDriver for BedrockDriver {
    async fn chat_stream(&self, request: ChatRequest) -> Result<ChatStream, DriverError> {
        let settings = self.settings.clone()?;
        let model = self.model_for(&request).to_owned();
        if model.trim().is_empty() {
            return Err(DriverError::new(DriverErrorKind::InvalidRequest, "no Bedrock model id is configured"));
        }
        check_endpoint(settings.endpoint_url.as_deref(), "base_url").await?;
        check_endpoint(settings.sts_endpoint_url.as_deref(), "sts_endpoint_url").await?;
        let input = request::build_input(&request)?;
        let client = self.clients.client(&settings).await;
        let call = client
            .converse_stream()
            .model_id(&model)
            .set_system(Some(input.system).filter(|s| !s.is_empty()))
            .set_messages(Some(input.messages))
            .set_tool_config(input.tool_config)
            .set_inference_config(input.inference);
        stream_with_retry(&self.retry, || {
            let call = call.clone();
            let model = model.clone();
            async move {
                let output = call.send().await.map_err(errors::call_error)?;
                let decoder = ConverseDecoder::new(&model, output.request_id().map(str::to_owned));
                Ok(events::decode(output.stream, decoder))
            }
        })
        .await
    }
}

/// Registers the driver under [`DriverId::Bedrock`]. Panics if `bedrock` is already registered.
pub fn register_driver(registry: &mut DriverRegistry) {
    registry.register(DriverId::Bedrock, |config| Box::new(BedrockDriver::new(config)));
}
