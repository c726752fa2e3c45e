//! Bedrock Runtime SDK clients, one per distinct [`BedrockSettings`], built once and reused (their
//! connection pool and credentials cache — assumed-role credentials among them — live with them).
//!
//! Every client: the SDK's own retries disabled (the driver retries per the project's policy,
//! in-stream errors before the first chunk included), 30 s to connect, a stream silent for 600 s
//! fails (the SDK's stalled-stream protection, like the HTTP drivers' read timeout). The endpoint is
//! the provider's `base_url` when set, else AWS's regional endpoint: `AWS_ENDPOINT_URL` (a local
//! emulator for the other AWS services) is not applied to Bedrock. The region defaults to the
//! default region chain, then `us-east-1`.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::timeout::TimeoutConfig;
use aws_sdk_bedrockruntime::config::{
    Credentials, Region, SharedCredentialsProvider, StalledStreamProtectionConfig, Token,
};
use tokio::sync::Mutex;

use crate::auth::{BedrockSettings, Identity};

/// The region when neither the provider nor the environment names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The session name of assumed-role sessions (visible in CloudTrail).
pub const ROLE_SESSION_NAME: &str = "everruns-bedrock";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const STALLED_STREAM_GRACE: Duration = Duration::from_secs(600);
/// A bound on distinct cached clients (the cache is cleared when it is reached).
const MAX_CLIENTS: usize = 256;

/// Built clients by settings, plus the base identity used for [`Identity::DefaultChain`].
#[derive(Default)]
pub struct ClientCache {
    clients: Mutex<HashMap<BedrockSettings, Client>>,
    /// Stands in for the process's default credential chain (tests); `None`: the real chain.
    default_credentials: Option<SharedCredentialsProvider>,
}

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache").field("default_credentials", &self.default_credentials.is_some()).finish()
    }
}

impl ClientCache {
    /// The process-wide cache every driver built by the registry uses.
    pub fn shared() -> Arc<Self> {
        static CACHE: OnceLock<Arc<ClientCache>> = OnceLock::new();
        CACHE.get_or_init(|| Arc::new(ClientCache::default())).clone()
    }

    /// A cache whose "default chain" is `credentials` instead of the process environment.
    pub fn with_default_credentials(credentials: Credentials) -> Self {
        Self { clients: Mutex::default(), default_credentials: Some(SharedCredentialsProvider::new(credentials)) }
    }

    /// The client for `settings`, built on first use.
    pub async fn client(&self, settings: &BedrockSettings) -> Client {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(settings) {
            return client.clone();
        }
        let client = self.build(settings).await;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(settings.clone(), client.clone());
        client
    }

    async fn build(&self, settings: &BedrockSettings) -> Client {
        let mut builder = match &settings.identity {
            Identity::ApiKey(key) => aws_sdk_bedrockruntime::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region_or_default(settings.region.as_deref()).await)
                .bearer_token(Token::new(key.clone(), None)),
            identity => {
                let sdk = self.sdk_config(settings, identity).await;
                let mut builder = aws_sdk_bedrockruntime::config::Builder::from(&sdk);
                if matches!(identity, Identity::Keys(_)) || settings.role_arn.is_some() {
                    // Explicit keys or a role sign with SigV4, whatever `AWS_BEARER_TOKEN_BEDROCK`
                    // the environment holds (the loader would otherwise prefer that token).
                    builder.set_auth_scheme_preference(None);
                }
                if let Some(role_arn) = &settings.role_arn {
                    builder = builder.credentials_provider(assume_role(&sdk, role_arn, settings).await);
                }
                builder
            }
        };
        builder.set_endpoint_url(settings.endpoint_url.clone());
        let stalled =
            StalledStreamProtectionConfig::enabled().upload_enabled(false).grace_period(STALLED_STREAM_GRACE).build();
        let config = builder
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build())
            .stalled_stream_protection(stalled)
            .build();
        Client::from_conf(config)
    }

    /// The shared AWS configuration of a SigV4 identity: region and base credentials.
    async fn sdk_config(&self, settings: &BedrockSettings, identity: &Identity) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        // An STS endpoint the provider names wins over `AWS_ENDPOINT_URL` (which a process may set
        // for its own AWS services, e.g. an emulator); the Bedrock client sets its own endpoint.
        if let Some(sts) = &settings.sts_endpoint_url {
            loader = loader.endpoint_url(sts.clone());
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        match (identity, &self.default_credentials) {
            (Identity::Keys(keys), _) => {
                loader = loader.credentials_provider(Credentials::new(
                    keys.access_key_id.clone(),
                    keys.secret_access_key.clone(),
                    keys.session_token.clone(),
                    None,
                    "everruns-bedrock-provider",
                ));
            }
            (_, Some(stand_in)) => loader = loader.credentials_provider(stand_in.clone()),
            _ => {}
        }
        let sdk = loader.load().await;
        match sdk.region() {
            Some(_) => sdk,
            None => sdk.into_builder().region(Region::from_static(DEFAULT_REGION)).build(),
        }
    }
}

/// The provider's region, else the default region chain, else [`DEFAULT_REGION`].
async fn region_or_default(region: Option<&str>) -> Region {
    if let Some(region) = region {
        return Region::new(region.to_owned());
    }
    aws_config::meta::region::RegionProviderChain::default_provider()
        .or_else(DEFAULT_REGION)
        .region()
        .await
        .unwrap_or(Region::from_static(DEFAULT_REGION))
}

/// Credentials of `role_arn`, assumed with the base identity of `sdk` through STS (at its
/// `sts_endpoint_url` when set), refreshed by the client's identity cache before they expire.
async fn assume_role(sdk: &SdkConfig, role_arn: &str, settings: &BedrockSettings) -> SharedCredentialsProvider {
    let mut sts = sdk.to_builder();
    sts.set_endpoint_url(settings.sts_endpoint_url.clone());
    let mut builder = AssumeRoleProvider::builder(role_arn).session_name(ROLE_SESSION_NAME).configure(&sts.build());
    if let Some(external_id) = &settings.external_id {
        builder = builder.external_id(external_id);
    }
    SharedCredentialsProvider::new(builder.build().await)
}
