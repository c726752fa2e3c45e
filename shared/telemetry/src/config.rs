//! `TelemetryConfig`: what the `OTEL_*` variables ask for. Read through a lookup function so
//! tests (and Lambda, which may read its own settings) do not touch the process environment.

use crate::error::ConfigError;

/// The OTLP/gRPC endpoint; unset means console logging only.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The service name (defaults to what the binary passes, e.g. `everruns-server`).
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";
/// The service version (defaults to this crate's version).
pub const SERVICE_VERSION_VAR: &str = "OTEL_SERVICE_VERSION";
/// The `deployment.environment` label.
pub const ENVIRONMENT_VAR: &str = "OTEL_ENVIRONMENT";
/// Standard switch for recording prompts, outputs, tool I/O and thinking.
pub const CAPTURE_CONTENT_VAR: &str = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT";
/// Legacy alias of [`CAPTURE_CONTENT_VAR`].
pub const RECORD_CONTENT_VAR: &str = "OTEL_RECORD_CONTENT";

/// Telemetry settings of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `service.name`.
    pub service_name: String,
    /// `service.version`.
    pub service_version: String,
    /// `deployment.environment`, when set.
    pub environment: Option<String>,
    /// The validated OTLP/gRPC endpoint; `None` disables export.
    pub otlp_endpoint: Option<String>,
    /// Whether message content, tool arguments/results and thinking are recorded.
    pub capture_content: bool,
    /// On AWS Lambda: X-Ray-compatible trace ids and the X-Ray propagator beside W3C.
    pub aws_xray: bool,
}

impl TelemetryConfig {
    /// Console logging only, under the given service name; no export, no content.
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            service_version: env!("CARGO_PKG_VERSION").to_owned(),
            environment: None,
            otlp_endpoint: None,
            capture_content: false,
            aws_xray: false,
        }
    }

    /// Reads the `OTEL_*` variables through `lookup`. Empty values count as unset. Content
    /// capture is on only when [`CAPTURE_CONTENT_VAR`] or [`RECORD_CONTENT_VAR`] is `true`.
    pub fn from_lookup<F>(lookup: F, default_service_name: &str) -> Result<Self, ConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let is_true = |name: &str| get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let otlp_endpoint = get(ENDPOINT_VAR).map(|v| validate_endpoint(ENDPOINT_VAR, v)).transpose()?;
        Ok(Self {
            service_name: get(SERVICE_NAME_VAR).unwrap_or_else(|| default_service_name.to_owned()),
            service_version: get(SERVICE_VERSION_VAR).unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
            environment: get(ENVIRONMENT_VAR),
            otlp_endpoint,
            capture_content: is_true(CAPTURE_CONTENT_VAR) || is_true(RECORD_CONTENT_VAR),
            aws_xray: false,
        })
    }

    /// Reads the `OTEL_*` variables from the process environment.
    pub fn from_env(default_service_name: &str) -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok(), default_service_name)
    }

    /// Sets the OTLP endpoint (validated like the variable).
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Result<Self, ConfigError> {
        self.otlp_endpoint = Some(validate_endpoint(ENDPOINT_VAR, endpoint.into())?);
        Ok(self)
    }

    /// Turns content capture on or off.
    pub fn with_capture_content(mut self, capture: bool) -> Self {
        self.capture_content = capture;
        self
    }

    /// Sets the deployment environment.
    pub fn with_environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// For a process on AWS Lambda: trace ids from `opentelemetry-aws`'s X-Ray id generator, and
    /// the X-Ray propagator (`X-Amzn-Trace-Id`) beside W3C Trace Context.
    pub fn on_aws_lambda(mut self) -> Self {
        self.aws_xray = true;
        self
    }
}

/// Accepts `http(s)://host[:port][/]`: gRPC has no path of its own, so any other path, a query or
/// missing parts are mistakes worth reporting at start-up rather than as silent export failures.
fn validate_endpoint(variable: &'static str, value: String) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidEndpoint {
        variable,
        value: value.chars().take(200).collect(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = value.parse().map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(_) => return Err(invalid("the scheme must be http or https")),
        None => return Err(invalid("expected a URL such as http://localhost:4317")),
    }
    let host = uri.host().unwrap_or_default();
    if host.is_empty() {
        return Err(invalid("the URL has no host"));
    }
    if uri.query().is_some() || !matches!(uri.path(), "" | "/") {
        return Err(invalid("an OTLP/gRPC endpoint takes no path or query"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<TelemetryConfig, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        TelemetryConfig::from_lookup(|name| map.get(name).cloned(), "everruns-server")
    }

    #[test]
    fn defaults_mean_console_only() {
        let config = read(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config, TelemetryConfig::new("everruns-server"));
        assert_eq!(config.service_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(config.otlp_endpoint, None);
        assert!(!config.capture_content);
        assert_eq!(config.environment, None);
        let worker = TelemetryConfig::from_lookup(|_| None, "everruns-worker").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(worker.service_name, "everruns-worker");
    }

    #[test]
    fn reads_every_variable() {
        let config = read(&[
            (ENDPOINT_VAR, "http://127.0.0.1:4317/"),
            (SERVICE_NAME_VAR, "everruns-prod-api"),
            (SERVICE_VERSION_VAR, "9.9.9"),
            (ENVIRONMENT_VAR, "production"),
            (CAPTURE_CONTENT_VAR, "TRUE"),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.otlp_endpoint.as_deref(), Some("http://127.0.0.1:4317"));
        assert_eq!(config.service_name, "everruns-prod-api");
        assert_eq!(config.service_version, "9.9.9");
        assert_eq!(config.environment.as_deref(), Some("production"));
        assert!(config.capture_content);
    }

    #[test]
    fn content_capture_needs_true_and_honours_the_legacy_alias() {
        assert!(read(&[(RECORD_CONTENT_VAR, "true")]).is_ok_and(|c| c.capture_content));
        assert!(read(&[(CAPTURE_CONTENT_VAR, "true")]).is_ok_and(|c| c.capture_content));
        for value in ["1", "yes", "false", ""] {
            assert!(
                read(&[(CAPTURE_CONTENT_VAR, value), (RECORD_CONTENT_VAR, value)]).is_ok_and(|c| !c.capture_content)
            );
        }
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = read(&[(ENDPOINT_VAR, "  "), (SERVICE_NAME_VAR, ""), (ENVIRONMENT_VAR, "")]);
        assert_eq!(config, Ok(TelemetryConfig::new("everruns-server")));
    }

    #[test]
    fn a_bad_endpoint_names_the_variable() {
        for bad in ["localhost:4317", "ftp://127.0.0.1:4317", "http://", "http://127.0.0.1:4317/v1/traces", "not a url"]
        {
            let err = read(&[(ENDPOINT_VAR, bad)]).err().unwrap_or_else(|| panic!("{bad} accepted"));
            let ConfigError::InvalidEndpoint { variable, value, .. } = &err;
            assert_eq!(*variable, ENDPOINT_VAR);
            assert_eq!(value, bad);
            assert!(err.to_string().starts_with("OTEL_EXPORTER_OTLP_ENDPOINT: invalid OTLP endpoint"), "{err}");
        }
        assert!(read(&[(ENDPOINT_VAR, "https://tempo.monitoring:4317")]).is_ok());
    }
}
