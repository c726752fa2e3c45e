//! `ServerConfig`: every variable of the seed's environment page that the control plane reads,
//! read once per process. Invalid values do not panic here; they are collected and reported by
//! [`ServerConfig::validate`] when the server starts.

use std::net::SocketAddr;
use std::time::Duration;

use everruns_core::llmsim_driver::LlmSimPacing;
use everruns_core::{DeploymentGrade, DriverId};

/// How requests are authenticated (`AUTH_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every request runs in the default org; any `Authorization` value is accepted.
    None,
    /// Every request carries an `evr_` API key; it runs in the key's organization.
    ApiKey,
}

impl AuthMode {
    /// The wire name (`none`, `api_key`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ApiKey => "api_key",
        }
    }
}

/// SSE streaming settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseConfig {
    /// `SSE_REALTIME_CYCLE_SECS` (300): connection lifetime of session streams (±20% jitter).
    pub realtime_cycle: Duration,
    /// `SSE_MONITORING_CYCLE_SECS` (600): connection lifetime of monitoring streams.
    pub monitoring_cycle: Duration,
    /// `SSE_HEARTBEAT_INTERVAL_SECS` (30): interval of `: heartbeat` comments.
    pub heartbeat_interval: Duration,
    /// `SSE_GLOBAL_MAX` (10000).
    pub global_max: usize,
    /// `SSE_PER_ORG_MAX` (1000).
    pub per_org_max: usize,
    /// `SSE_PER_SESSION_MAX` (5).
    pub per_session_max: usize,
}

/// How long connections may hold resources without progress. A connection that overstays is
/// closed and everything it held is released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTimeouts {
    /// `HTTP_HEADER_READ_TIMEOUT_SECS` (10): the first request head of an HTTP connection must
    /// arrive whole within it (a stalled head is answered 408 and closed).
    pub header_read: Duration,
    /// `HTTP_IDLE_TIMEOUT_SECS` (60): an HTTP connection that neither reads nor writes a byte for
    /// this long is closed — a stalled request body, a stalled response, an idle keep-alive.
    pub idle: Duration,
    /// `SSE_WRITE_TIMEOUT_SECS` (twice `SSE_HEARTBEAT_INTERVAL_SECS`): an SSE connection whose
    /// write stays blocked this long (a client that stopped reading) is dropped and its slots
    /// freed.
    pub sse_write: Duration,
    /// `WORKER_GRPC_KEEPALIVE_SECS` (20): HTTP/2 pings on worker connections; a peer that does not
    /// answer within the same time is disconnected.
    pub grpc_keepalive: Duration,
    /// `WORKER_GRPC_IDLE_TIMEOUT_SECS` (90): a worker connection that sends nothing (not even a
    /// ping answer) for this long is closed.
    pub grpc_idle: Duration,
}

/// Provider keys used when a provider has none stored (`DEFAULT_*_API_KEY`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DefaultProviderKeys {
    /// `DEFAULT_OPENAI_API_KEY`.
    pub openai: Option<String>,
    /// `DEFAULT_ANTHROPIC_API_KEY`.
    pub anthropic: Option<String>,
    /// `DEFAULT_GEMINI_API_KEY`.
    pub gemini: Option<String>,
    /// `DEFAULT_AZURE_OPENAI_API_KEY` (requires `DEFAULT_AZURE_OPENAI_ENDPOINT`).
    pub azure_openai: Option<String>,
    /// `DEFAULT_AZURE_OPENAI_ENDPOINT`: the resource endpoint of the seeded Azure OpenAI provider
    /// (`https://<resource>.openai.azure.com`), its `base_url`.
    pub azure_openai_endpoint: Option<String>,
    /// `DEFAULT_OPENROUTER_API_KEY`.
    pub openrouter: Option<String>,
    /// `DEFAULT_BEDROCK_REGION`: seeds the AWS Bedrock provider, whose turns (when it stores no
    /// credentials) sign with the process's AWS credential chain in this region. No key.
    pub bedrock_region: Option<String>,
}

impl DefaultProviderKeys {
    /// The keys that are set, by driver.
    pub fn by_driver(&self) -> Vec<(DriverId, String)> {
        [
            (DriverId::OpenAi, &self.openai),
            (DriverId::Anthropic, &self.anthropic),
            (DriverId::Gemini, &self.gemini),
            (DriverId::AzureOpenAi, &self.azure_openai),
            (DriverId::OpenRouter, &self.openrouter),
        ]
        .into_iter()
        .filter_map(|(id, key)| key.clone().map(|k| (id, k)))
        // Bedrock's stand-in "key" is a credentials document naming only the region.
        .chain(
            self.bedrock_region
                .iter()
                .map(|region| (DriverId::Bedrock, serde_json::json!({"region": region}).to_string())),
        )
        .collect()
    }

    /// The base URLs of the seeded providers that need one, by driver (the Azure endpoint).
    pub fn base_urls(&self) -> Vec<(DriverId, String)> {
        self.azure_openai_endpoint.iter().map(|url| (DriverId::AzureOpenAi, url.clone())).collect()
    }
}

impl std::fmt::Debug for DefaultProviderKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultProviderKeys")
            .field("openai", &self.openai.is_some())
            .field("anthropic", &self.anthropic.is_some())
            .field("gemini", &self.gemini.is_some())
            .field("azure_openai", &self.azure_openai.is_some())
            .field("azure_openai_endpoint", &self.azure_openai_endpoint)
            .field("openrouter", &self.openrouter.is_some())
            .field("bedrock_region", &self.bedrock_region)
            .finish()
    }
}

/// The control plane's configuration.
#[derive(Clone)]
pub struct ServerConfig {
    /// `DEV_MODE`: in-memory storage, turns run in-process, no keys needed.
    pub dev_mode: bool,
    /// `DEPLOYMENT_GRADE` (falls back to `dev` with DEV_MODE, else `prod`).
    pub grade: DeploymentGrade,
    /// `API_PREFIX` (`/api`).
    pub api_prefix: String,
    /// `CORS_ALLOWED_ORIGINS` (empty: CORS disabled).
    pub cors_allowed_origins: Vec<String>,
    /// `HTTP_ADDR` (`0.0.0.0:9000`).
    pub http_addr: SocketAddr,
    /// `RATE_LIMIT_API_REQUESTS_PER_MINUTE` per client IP (1200; 0 disables).
    pub rate_limit_per_minute: u32,
    /// `AUTH_MODE` (`none`).
    pub auth_mode: AuthMode,
    /// `AUTH_BOOTSTRAP_API_KEY`: an operator-generated `evr_` key registered for the default org
    /// at startup (how the first key of an `api_key` deployment comes to exist).
    pub auth_bootstrap_api_key: Option<String>,
    /// `AUTH_SIGNUP_ENABLED` (false): `POST /v1/auth/register` creates organizations.
    pub auth_signup_enabled: bool,
    /// `AUTH_BASE_URL`: the public URL of the API, its prefix included (`https://host/api`).
    /// OAuth's issuer and endpoints are its origin's (the prefix removed). Unset: derived from
    /// each request's `Host` (and `X-Forwarded-Proto`).
    pub auth_base_url: Option<String>,
    /// `OAUTH_ACCESS_TOKEN_TTL_SECS` (3600): how long an OAuth access token works.
    pub oauth_access_ttl: Duration,
    /// SSE settings.
    pub sse: SseConfig,
    /// Connection timeouts of both listeners.
    pub timeouts: ConnectionTimeouts,
    /// `DEFAULT_*_API_KEY`.
    pub default_keys: DefaultProviderKeys,
    /// `SECRETS_ENCRYPTION_KEY` (required outside DEV_MODE).
    pub secrets_encryption_key: Option<String>,
    /// `SECRETS_ENCRYPTION_KEY_PREVIOUS`, for rotation.
    pub secrets_encryption_key_previous: Option<String>,
    /// Largest accepted request body in bytes (10 MiB).
    pub body_limit_bytes: usize,
    /// `DATABASE_URL` (required outside DEV_MODE).
    pub database_url: Option<String>,
    /// `OUTBOUND_ALLOW_LOOPBACK` (default: on in DEV_MODE) and `OUTBOUND_ALLOW_PRIVATE_NETWORKS`
    /// (off): where provider `base_url`s (and every outbound fetch) may point.
    pub outbound: everruns_driver_common::outbound::OutboundPolicy,
    /// `DATABASE_IDLE_RELEASE_SECS` (unset: never): after this long with no request, stream or
    /// worker call the instance holds no database connection until the next one (the lean
    /// profile's paused Aurora cluster).
    pub database_idle_release: Option<Duration>,
    /// `WORKER_GRPC_ADDR` (`0.0.0.0:9001`): the worker service listener (not in DEV_MODE).
    pub worker_grpc_addr: SocketAddr,
    /// `WORKER_GRPC_AUTH_TOKEN` (required outside DEV_MODE).
    pub worker_grpc_auth_token: Option<String>,
    /// `WORKER_GRPC_TLS_CERT`.
    pub worker_grpc_tls_cert: Option<std::path::PathBuf>,
    /// `WORKER_GRPC_TLS_KEY`.
    pub worker_grpc_tls_key: Option<std::path::PathBuf>,
    /// `WORKER_GRPC_TLS_CA_CERT` (requires client certificates: mutual TLS).
    pub worker_grpc_tls_ca_cert: Option<std::path::PathBuf>,
    /// `TASK_QUEUE_URL`: the SQS queue of iteration tasks (the serverless split). Unset: workers
    /// claim over gRPC with push wake-ups (the container deployment).
    pub task_queue_url: Option<String>,
    /// `TASK_DLQ_URL`: its dead-letter queue, drained by the bridge (each task there fails its turn).
    pub task_dlq_url: Option<String>,
    /// `STALE_TASK_SECS` (30): the lease after which a silent worker's task is reclaimed.
    pub stale_task_after: Duration,
    /// `NATS_URL` (one URL or a comma-separated cluster list): live events and task notifications
    /// through NATS JetStream. Unset: in-memory delivery and PostgreSQL NOTIFY.
    pub nats_url: Option<String>,
    /// `VALKEY_URL` (`redis://`, `rediss://`, `valkey://`, `valkeys://`): the per-IP rate limit
    /// shared by every instance. Unset: the in-memory limiter of each instance.
    pub valkey_url: Option<String>,
    /// `LLMSIM_TTFT_MS` and `LLMSIM_TOKEN_MS`: the pace of the simulator models the `dev` grade
    /// seeds (the time before the first token, then per word), so a client that posts a message
    /// and then opens the stream sees the answer arrive. A process reading its environment
    /// ([`from_env`](Self::from_env), [`load`](Self::load)) defaults to 600 and 25
    /// ([`LlmSimPacing::PROVIDER_LIKE`]); a configuration built in code
    /// ([`from_lookup`](Self::from_lookup), [`dev`](Self::dev): tests, benchmarks, embedding)
    /// defaults to 0 (instant). The `llmsim-echo-instant` model is instant whatever the pace.
    pub llmsim_pacing: LlmSimPacing,
    /// Problems found while reading the environment, reported by [`ServerConfig::validate`].
    problems: Vec<String>,
}

impl std::fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("dev_mode", &self.dev_mode)
            .field("grade", &self.grade)
            .field("api_prefix", &self.api_prefix)
            .field("http_addr", &self.http_addr)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("auth_base_url", &self.auth_base_url)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("sse", &self.sse)
            .field("default_keys", &self.default_keys)
            .field("secrets_encryption_key", &self.secrets_encryption_key.as_ref().map(|_| "<set>"))
            .field("nats_url", &self.nats_url.as_ref().map(|_| "<set>"))
            .field("valkey_url", &self.valkey_url.as_ref().map(|_| "<set>"))
            .field("llmsim_pacing", &self.llmsim_pacing)
            .finish_non_exhaustive()
    }
}

fn number_after(name: &str, default: u64, lookup: &impl Fn(&str) -> Option<String>) -> u64 {
    lookup(name).and_then(|v| v.trim().parse().ok()).filter(|v| *v > 0).unwrap_or(default)
}

/// A configuration that cannot start a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Default for ServerConfig {
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

impl ServerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::read(|name| std::env::var(name).ok(), LlmSimPacing::PROVIDER_LIKE)
    }

    /// Reads configuration through `lookup` (the environment, or a map in tests). Unlike a
    /// process reading its environment, the simulator's pace defaults to instant
    /// ([`llmsim_pacing`](Self::llmsim_pacing)).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        Self::read(lookup, LlmSimPacing::INSTANT)
    }

    /// Reads configuration through `lookup`, with `pacing` as the simulator's default pace.
    fn read(lookup: impl Fn(&str) -> Option<String>, pacing: LlmSimPacing) -> Self {
        let mut problems = Vec::new();
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let dev_mode = get("DEV_MODE").is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let grade = match get("DEPLOYMENT_GRADE") {
            Some(text) => DeploymentGrade::parse(&text).unwrap_or_else(|| {
                problems.push(format!("DEPLOYMENT_GRADE must be one of dev, poc, preview, prod (got '{text}')"));
                DeploymentGrade::Prod
            }),
            None if dev_mode => DeploymentGrade::Dev,
            None => DeploymentGrade::Prod,
        };
        let api_prefix = match get("API_PREFIX") {
            None => "/api".to_owned(),
            Some(p) if p == "/" => String::new(),
            Some(p) if p.starts_with('/') => p.trim_end_matches('/').to_owned(),
            Some(p) => {
                problems.push(format!("API_PREFIX must start with '/' (got '{p}')"));
                "/api".to_owned()
            }
        };
        let auth_base_url =
            get("AUTH_BASE_URL").map(|v| v.trim().trim_end_matches('/').to_owned()).filter(|v| !v.is_empty());
        if let Some(url) = &auth_base_url
            && !is_base_url(url)
        {
            problems.push(format!("AUTH_BASE_URL must be an http(s) URL without query or fragment (got '{url}')"));
        }
        let cors_allowed_origins: Vec<String> = get("CORS_ALLOWED_ORIGINS")
            .map(|v| v.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
            .unwrap_or_default();
        if cors_allowed_origins.iter().any(|o| o == "*") {
            problems.push(
                "CORS_ALLOWED_ORIGINS must list explicit origins: '*' cannot be used because credentials are allowed"
                    .to_owned(),
            );
        }
        let mut number = |name: &str, default: u64| -> u64 {
            match get(name) {
                None => default,
                Some(text) => text.parse().unwrap_or_else(|_| {
                    problems.push(format!("{name} must be a non-negative integer (got '{text}')"));
                    default
                }),
            }
        };
        let oauth_access_ttl = Duration::from_secs(number("OAUTH_ACCESS_TOKEN_TTL_SECS", 3600).clamp(1, 86_400));
        let rate_limit_per_minute = number("RATE_LIMIT_API_REQUESTS_PER_MINUTE", 1200).min(u64::from(u32::MAX)) as u32;
        let sse = SseConfig {
            realtime_cycle: Duration::from_secs(number("SSE_REALTIME_CYCLE_SECS", 300).max(1)),
            monitoring_cycle: Duration::from_secs(number("SSE_MONITORING_CYCLE_SECS", 600).max(1)),
            heartbeat_interval: Duration::from_secs(number("SSE_HEARTBEAT_INTERVAL_SECS", 30).max(1)),
            global_max: number("SSE_GLOBAL_MAX", 10_000) as usize,
            per_org_max: number("SSE_PER_ORG_MAX", 1_000) as usize,
            per_session_max: number("SSE_PER_SESSION_MAX", 5) as usize,
        };
        let timeouts = ConnectionTimeouts {
            header_read: Duration::from_secs(number("HTTP_HEADER_READ_TIMEOUT_SECS", 10).max(1)),
            idle: Duration::from_secs(number("HTTP_IDLE_TIMEOUT_SECS", 60).max(1)),
            sse_write: Duration::from_secs(
                number("SSE_WRITE_TIMEOUT_SECS", 2 * sse.heartbeat_interval.as_secs()).max(1),
            ),
            grpc_keepalive: Duration::from_secs(number("WORKER_GRPC_KEEPALIVE_SECS", 20).max(1)),
            grpc_idle: Duration::from_secs(number("WORKER_GRPC_IDLE_TIMEOUT_SECS", 90).max(1)),
        };
        let llmsim_pacing = LlmSimPacing::from_millis(
            number("LLMSIM_TTFT_MS", u64::try_from(pacing.time_to_first_token.as_millis()).unwrap_or(u64::MAX)),
            number("LLMSIM_TOKEN_MS", u64::try_from(pacing.per_token.as_millis()).unwrap_or(u64::MAX)),
        );
        let database_idle_release =
            Some(number("DATABASE_IDLE_RELEASE_SECS", 0)).filter(|s| *s > 0).map(Duration::from_secs);
        let body_limit_bytes = number("HTTP_BODY_LIMIT_BYTES", 10 * 1024 * 1024) as usize;
        let http_addr = match get("HTTP_ADDR") {
            None => SocketAddr::from(([0, 0, 0, 0], 9000)),
            Some(text) => text.parse().unwrap_or_else(|_| {
                problems.push(format!("HTTP_ADDR must be an address like 0.0.0.0:9000 (got '{text}')"));
                SocketAddr::from(([0, 0, 0, 0], 9000))
            }),
        };
        let auth_mode = match get("AUTH_MODE").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("none") => AuthMode::None,
            Some("api_key") => AuthMode::ApiKey,
            Some(other) => {
                problems.push(format!("AUTH_MODE '{other}' is not supported (supported: none, api_key)"));
                AuthMode::None
            }
        };
        let auth_bootstrap_api_key = get("AUTH_BOOTSTRAP_API_KEY");
        if auth_bootstrap_api_key.as_deref().is_some_and(|key| !everruns_secrets::api_key::is_well_formed(key)) {
            problems.push(
                "AUTH_BOOTSTRAP_API_KEY must be 'evr_' followed by at least 32 letters or digits; generate one with: python3 -c \"import secrets; print('evr_' + secrets.token_hex(32))\""
                    .to_owned(),
            );
        }
        let auth_signup_enabled =
            get("AUTH_SIGNUP_ENABLED").is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
        let worker_grpc_addr = match get("WORKER_GRPC_ADDR") {
            None => SocketAddr::from(([0, 0, 0, 0], 9001)),
            Some(text) => text.parse().unwrap_or_else(|_| {
                problems.push(format!("WORKER_GRPC_ADDR must be an address like 0.0.0.0:9001 (got '{text}')"));
                SocketAddr::from(([0, 0, 0, 0], 9001))
            }),
        };
        let database_url = get("DATABASE_URL");
        if database_url.is_none() && !dev_mode {
            problems.push(
                "DATABASE_URL is required outside DEV_MODE (e.g. postgres://user:pass@host:5432/everruns)".to_owned(),
            );
        }
        let (tls_cert, tls_key, tls_ca_cert) =
            (get("WORKER_GRPC_TLS_CERT"), get("WORKER_GRPC_TLS_KEY"), get("WORKER_GRPC_TLS_CA_CERT"));
        if tls_cert.is_some() != tls_key.is_some() {
            problems.push("WORKER_GRPC_TLS_CERT and WORKER_GRPC_TLS_KEY must be set together".to_owned());
        } else if tls_ca_cert.is_some() && tls_cert.is_none() {
            // Without a server certificate the worker service would run in plaintext and accept
            // any client: never silently drop the client-certificate requirement.
            problems.push(
                "WORKER_GRPC_TLS_CA_CERT (mutual TLS) needs WORKER_GRPC_TLS_CERT and WORKER_GRPC_TLS_KEY (the server's certificate and key)"
                    .to_owned(),
            );
        }
        let secrets_encryption_key = get("SECRETS_ENCRYPTION_KEY");
        if secrets_encryption_key.is_none() && !dev_mode {
            problems.push(
                "SECRETS_ENCRYPTION_KEY is required outside DEV_MODE; generate one with: python3 -c \"import os, base64; print('kek-v1:' + base64.b64encode(os.urandom(32)).decode())\""
                    .to_owned(),
            );
        }
        let (azure_key, azure_endpoint) = (get("DEFAULT_AZURE_OPENAI_API_KEY"), get("DEFAULT_AZURE_OPENAI_ENDPOINT"));
        if azure_key.is_some() != azure_endpoint.is_some() {
            problems.push(
                "DEFAULT_AZURE_OPENAI_API_KEY and DEFAULT_AZURE_OPENAI_ENDPOINT (the resource endpoint, e.g. https://<resource>.openai.azure.com) must be set together"
                    .to_owned(),
            );
        } else if azure_endpoint
            .as_deref()
            .is_some_and(|url| !url.starts_with("https://") && !url.starts_with("http://"))
        {
            problems.push(
                "DEFAULT_AZURE_OPENAI_ENDPOINT must be an http(s) URL, e.g. https://<resource>.openai.azure.com"
                    .to_owned(),
            );
        }
        let bedrock_region = get("DEFAULT_BEDROCK_REGION");
        if let Some(region) = bedrock_region
            .as_deref()
            .filter(|r| !r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
        {
            problems.push(format!("DEFAULT_BEDROCK_REGION must be an AWS region such as us-east-1 (got '{region}')"));
        }
        let nats_url = get("NATS_URL");
        if let Some(Err(error)) = nats_url.as_deref().map(check_nats_urls) {
            problems.push(format!("NATS_URL: {error}"));
        }
        let valkey_url = get("VALKEY_URL");
        if let Some(Err(error)) = valkey_url.as_deref().map(everruns_valkey::parse_valkey_url) {
            problems.push(format!("VALKEY_URL: {error}"));
        }
        Self {
            dev_mode,
            grade,
            api_prefix,
            cors_allowed_origins,
            auth_base_url,
            oauth_access_ttl,
            http_addr,
            rate_limit_per_minute,
            auth_mode,
            auth_bootstrap_api_key,
            auth_signup_enabled,
            sse,
            timeouts,
            database_idle_release,
            outbound: everruns_driver_common::outbound::from_lookup(dev_mode, get),
            default_keys: DefaultProviderKeys {
                openai: get("DEFAULT_OPENAI_API_KEY"),
                anthropic: get("DEFAULT_ANTHROPIC_API_KEY"),
                gemini: get("DEFAULT_GEMINI_API_KEY"),
                azure_openai: azure_key,
                azure_openai_endpoint: azure_endpoint,
                openrouter: get("DEFAULT_OPENROUTER_API_KEY"),
                bedrock_region,
            },
            secrets_encryption_key,
            secrets_encryption_key_previous: get("SECRETS_ENCRYPTION_KEY_PREVIOUS"),
            body_limit_bytes,
            database_url,
            worker_grpc_addr,
            worker_grpc_auth_token: get("WORKER_GRPC_AUTH_TOKEN"),
            worker_grpc_tls_cert: tls_cert.map(Into::into),
            worker_grpc_tls_key: tls_key.map(Into::into),
            worker_grpc_tls_ca_cert: tls_ca_cert.map(Into::into),
            task_queue_url: get("TASK_QUEUE_URL"),
            task_dlq_url: get("TASK_DLQ_URL"),
            stale_task_after: Duration::from_secs(number_after("STALE_TASK_SECS", 30, &lookup)),
            nats_url,
            valkey_url,
            llmsim_pacing,
            problems,
        }
    }

    /// Reads the process environment after resolving `SECRETS_ENCRYPTION_KEY_SECRET_ARN`,
    /// `WORKER_GRPC_AUTH_TOKEN_SECRET_ARN`, `DATABASE_URL_SECRET_ARN`, `NATS_URL_SECRET_ARN` and
    /// `VALKEY_URL_SECRET_ARN` (URLs may carry credentials) from Secrets Manager
    /// (once; a variable set directly wins). A secret that cannot be loaded is an error naming
    /// the variable and the ARN.
    pub async fn load() -> Result<Self, everruns_aws::secrets::SecretError> {
        let env = |name: &str| std::env::var(name).ok();
        let names = ["SECRETS_ENCRYPTION_KEY", "WORKER_GRPC_AUTH_TOKEN", "DATABASE_URL", "NATS_URL", "VALKEY_URL"];
        let secrets = everruns_aws::secrets::resolve(&names, env).await?;
        Ok(Self::read(|name| secrets.get(name).cloned().or_else(|| env(name)), LlmSimPacing::PROVIDER_LIKE))
    }

    /// A DEV_MODE configuration listening on `addr` (for tests and embedding).
    pub fn dev(addr: SocketAddr) -> Self {
        let mut config = Self::from_lookup(|name| (name == "DEV_MODE").then(|| "true".to_owned()));
        config.http_addr = addr;
        config
    }

    /// Reports every problem found while reading the environment.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.problems.is_empty() { Ok(()) } else { Err(ConfigError(self.problems.clone())) }
    }
}

/// Whether `url` is `http(s)://host[:port][/path]` with no query, fragment or whitespace.
fn is_base_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else { return false };
    let host = rest.split('/').next().unwrap_or_default();
    matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && !host.is_empty()
        && !host.contains('@')
        && !url.contains(['?', '#'])
        && !url.contains(char::is_whitespace)
}

/// The shape of `NATS_URL`: one URL or a comma-separated list, each `nats://`, `tls://`, `ws://`
/// or `wss://` (or schemeless `host:port`) with a host. Checked here so that a process which does
/// not use NATS (the API function) needs no NATS client to read its configuration; the client
/// parses the addresses again when it connects.
fn check_nats_urls(urls: &str) -> Result<(), String> {
    for entry in urls.split(',').map(str::trim) {
        if entry.is_empty() {
            return Err("an entry of the comma-separated list is empty".to_owned());
        }
        let rest = match entry.split_once("://") {
            Some((scheme, rest)) => {
                let scheme = scheme.to_ascii_lowercase();
                if !matches!(scheme.as_str(), "nats" | "tls" | "ws" | "wss") {
                    return Err(format!(
                        "scheme '{scheme}://' is not supported (use nats://, tls://, ws:// or wss://)"
                    ));
                }
                rest
            }
            None => entry,
        };
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        let port_ok = match host.rsplit_once(':') {
            Some((_, port)) if !host.ends_with(']') => port.parse::<u16>().is_ok(),
            _ => true,
        };
        if host.is_empty() || host.starts_with(':') || !port_ok || entry.contains(char::is_whitespace) {
            return Err("expected nats://host:port (or a comma-separated list of them)".to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn nats_urls_are_checked_without_a_nats_client() {
        for good in
            ["nats://127.0.0.1:4222", "tls://nats.internal:4222, nats://b:4222", "ws://user:pw@host:80", "host:4222"]
        {
            assert_eq!(check_nats_urls(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "nats://a:4222,,nats://b:4222",
            "redis://host:6379",
            "nats://",
            "nats://host:notaport",
            "nats://host:99999",
        ] {
            assert!(check_nats_urls(bad).is_err(), "{bad}");
        }
    }

    fn config(vars: &[(&str, &str)]) -> ServerConfig {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ServerConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_seed() {
        let c = config(&[("DEV_MODE", "1")]);
        assert!(c.dev_mode);
        assert_eq!(c.grade, DeploymentGrade::Dev);
        assert_eq!(c.api_prefix, "/api");
        assert_eq!(c.http_addr.to_string(), "0.0.0.0:9000");
        assert_eq!(c.sse.heartbeat_interval, Duration::from_secs(30));
        assert_eq!((c.sse.global_max, c.sse.per_org_max, c.sse.per_session_max), (10_000, 1_000, 5));
        assert_eq!(c.sse.realtime_cycle, Duration::from_secs(300));
        assert_eq!(c.timeouts.header_read, Duration::from_secs(10));
        assert_eq!(c.database_idle_release, None, "never by default");
        let lean = ServerConfig::from_lookup(|name| (name == "DATABASE_IDLE_RELEASE_SECS").then(|| "300".to_owned()));
        assert_eq!(lean.database_idle_release, Some(Duration::from_secs(300)));
        assert_eq!(c.timeouts.idle, Duration::from_secs(60));
        assert_eq!(c.timeouts.sse_write, Duration::from_secs(60), "twice the heartbeat");
        assert_eq!(
            (c.timeouts.grpc_keepalive, c.timeouts.grpc_idle),
            (Duration::from_secs(20), Duration::from_secs(90))
        );
        assert_eq!(c.rate_limit_per_minute, 1200);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn the_simulator_pace_is_provider_like_only_when_read_from_the_process() {
        assert_eq!(config(&[("DEV_MODE", "1")]).llmsim_pacing, LlmSimPacing::INSTANT, "built in code: instant");
        assert_eq!(ServerConfig::dev(([127, 0, 0, 1], 0).into()).llmsim_pacing, LlmSimPacing::INSTANT);
        let from_process =
            ServerConfig::read(|name| (name == "DEV_MODE").then(|| "1".to_owned()), LlmSimPacing::PROVIDER_LIKE);
        assert_eq!(from_process.llmsim_pacing, LlmSimPacing::from_millis(600, 25));
        let set = config(&[("DEV_MODE", "1"), ("LLMSIM_TTFT_MS", "150"), ("LLMSIM_TOKEN_MS", "0")]);
        assert_eq!(set.llmsim_pacing, LlmSimPacing::from_millis(150, 0));
        let zero = ServerConfig::read(
            |name| match name {
                "LLMSIM_TTFT_MS" | "LLMSIM_TOKEN_MS" => Some("0".to_owned()),
                "DEV_MODE" => Some("1".to_owned()),
                _ => None,
            },
            LlmSimPacing::PROVIDER_LIKE,
        );
        assert_eq!(zero.llmsim_pacing, LlmSimPacing::INSTANT, "0 switches the pace off");
        let err = config(&[("DEV_MODE", "1"), ("LLMSIM_TTFT_MS", "soon")]).validate().unwrap_err().to_string();
        assert!(err.contains("LLMSIM_TTFT_MS must be a non-negative integer"), "{err}");
    }

    #[test]
    fn grade_falls_back_to_prod_without_dev_mode() {
        let c = config(&[("SECRETS_ENCRYPTION_KEY", "kek-v1:x")]);
        assert_eq!(c.grade, DeploymentGrade::Prod);
        assert_eq!(config(&[("DEV_MODE", "true"), ("DEPLOYMENT_GRADE", "preview")]).grade, DeploymentGrade::Preview);
    }

    #[test]
    fn bad_values_are_reported_clearly() {
        let c = config(&[
            ("DEV_MODE", "true"),
            ("CORS_ALLOWED_ORIGINS", "https://a.example, *"),
            ("SSE_GLOBAL_MAX", "lots"),
        ]);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("'*' cannot be used"), "{err}");
        assert!(err.contains("SSE_GLOBAL_MAX"), "{err}");
        let err = config(&[]).validate().unwrap_err().to_string();
        assert!(err.contains("SECRETS_ENCRYPTION_KEY is required"), "{err}");
        assert!(config(&[("DEV_MODE", "true"), ("DEPLOYMENT_GRADE", "staging")]).validate().is_err());
    }

    #[test]
    fn auth_settings() {
        let c = config(&[("DEV_MODE", "true")]);
        assert_eq!(
            (c.auth_mode, c.auth_signup_enabled, c.auth_bootstrap_api_key.is_none()),
            (AuthMode::None, false, true)
        );
        let key = "evr_0123456789abcdef0123456789abcdef0123";
        let c = config(&[
            ("DEV_MODE", "true"),
            ("AUTH_MODE", "API_KEY"),
            ("AUTH_SIGNUP_ENABLED", "true"),
            ("AUTH_BOOTSTRAP_API_KEY", key),
        ]);
        assert!(c.validate().is_ok());
        assert_eq!((c.auth_mode, c.auth_signup_enabled), (AuthMode::ApiKey, true));
        assert_eq!(c.auth_bootstrap_api_key.as_deref(), Some(key));
        assert!(!format!("{c:?}").contains(key), "the bootstrap key must not be printed");
        let err = config(&[("DEV_MODE", "true"), ("AUTH_MODE", "jwt")]).validate().unwrap_err().to_string();
        assert!(err.contains("AUTH_MODE 'jwt' is not supported (supported: none, api_key)"), "{err}");
        let err =
            config(&[("DEV_MODE", "true"), ("AUTH_BOOTSTRAP_API_KEY", "hunter2")]).validate().unwrap_err().to_string();
        assert!(err.contains("AUTH_BOOTSTRAP_API_KEY must be 'evr_'") && !err.contains("hunter2"), "{err}");
        let c = config(&[("DEV_MODE", "true"), ("AUTH_BASE_URL", "https://everruns.example.com/api/")]);
        assert_eq!(c.auth_base_url.as_deref(), Some("https://everruns.example.com/api"));
        for bad in ["everruns.example.com/api", "ftp://x/api", "https:///api", "https://x/api?a=1"] {
            let err = config(&[("DEV_MODE", "true"), ("AUTH_BASE_URL", bad)]).validate().unwrap_err().to_string();
            assert!(err.contains("AUTH_BASE_URL must be an http(s) URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn default_provider_keys_cover_azure_and_openrouter() {
        let c = config(&[
            ("DEV_MODE", "1"),
            ("DEFAULT_OPENAI_API_KEY", "sk-o"),
            ("DEFAULT_AZURE_OPENAI_API_KEY", "az-SECRET"),
            ("DEFAULT_AZURE_OPENAI_ENDPOINT", "https://res.openai.azure.com"),
            ("DEFAULT_OPENROUTER_API_KEY", "sk-or-SECRET"),
        ]);
        assert!(c.validate().is_ok());
        let drivers: Vec<DriverId> = c.default_keys.by_driver().into_iter().map(|(d, _)| d).collect();
        assert_eq!(drivers, [DriverId::OpenAi, DriverId::AzureOpenAi, DriverId::OpenRouter]);
        assert!(c.default_keys.by_driver().contains(&(DriverId::OpenRouter, "sk-or-SECRET".to_owned())));
        assert_eq!(c.default_keys.base_urls(), [(DriverId::AzureOpenAi, "https://res.openai.azure.com".to_owned())]);
        let printed = format!("{c:?}");
        assert!(!printed.contains("SECRET") && printed.contains("openrouter: true"), "{printed}");
        assert!(config(&[("DEV_MODE", "1")]).default_keys.base_urls().is_empty());
        for alone in [("DEFAULT_AZURE_OPENAI_API_KEY", "k"), ("DEFAULT_AZURE_OPENAI_ENDPOINT", "https://r")] {
            let err = config(&[("DEV_MODE", "1"), alone]).validate().unwrap_err().to_string();
            assert!(err.contains("must be set together"), "{err}");
        }
        let err = config(&[
            ("DEV_MODE", "1"),
            ("DEFAULT_AZURE_OPENAI_API_KEY", "k"),
            ("DEFAULT_AZURE_OPENAI_ENDPOINT", "res.openai.azure.com"),
        ])
        .validate()
        .unwrap_err()
        .to_string();
        assert!(err.contains("DEFAULT_AZURE_OPENAI_ENDPOINT must be an http(s) URL"), "{err}");
    }

    #[test]
    fn a_default_bedrock_region_stands_in_for_a_key() {
        let c = config(&[("DEV_MODE", "1"), ("DEFAULT_BEDROCK_REGION", "eu-west-3")]);
        assert!(c.validate().is_ok());
        assert_eq!(c.default_keys.by_driver(), [(DriverId::Bedrock, r#"{"region":"eu-west-3"}"#.to_owned())]);
        let err = config(&[("DEV_MODE", "1"), ("DEFAULT_BEDROCK_REGION", "EU West")]).validate().unwrap_err();
        assert!(err.to_string().contains("DEFAULT_BEDROCK_REGION must be an AWS region"), "{err}");
    }

    #[test]
    fn worker_tls_settings_must_be_complete() {
        let durable = [("DATABASE_URL", "postgres://x"), ("SECRETS_ENCRYPTION_KEY", "kek-v1:x")];
        let with = |extra: &[(&'static str, &'static str)]| config(&[&durable[..], extra].concat()).validate();
        assert!(with(&[]).is_ok());
        assert!(with(&[("WORKER_GRPC_TLS_CERT", "s.pem"), ("WORKER_GRPC_TLS_KEY", "s.key")]).is_ok());
        let mtls = [
            ("WORKER_GRPC_TLS_CERT", "s.pem"),
            ("WORKER_GRPC_TLS_KEY", "s.key"),
            ("WORKER_GRPC_TLS_CA_CERT", "ca.pem"),
        ];
        assert!(with(&mtls).is_ok());
        let err = with(&[("WORKER_GRPC_TLS_CERT", "s.pem")]).unwrap_err().to_string();
        assert!(err.contains("must be set together"), "{err}");
        // A client CA alone would otherwise leave the worker service in plaintext, open to anyone.
        let err = with(&[("WORKER_GRPC_TLS_CA_CERT", "ca.pem")]).unwrap_err().to_string();
        assert!(err.contains("WORKER_GRPC_TLS_CA_CERT (mutual TLS) needs"), "{err}");
    }
}
