//! The errors of this crate: configuration (read at start-up) and setting the logger up. Failures
//! while logging are never returned: the background task only writes (throttled) warnings.

/// A `BRAINTRUST_*` variable holds a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BraintrustConfigError {
    /// The API URL is not an `http://` or `https://` URL with a host.
    #[error("{variable}: invalid Braintrust API URL '{value}': {reason}")]
    InvalidApiUrl {
        /// The variable that held it.
        variable: &'static str,
        /// The rejected value (first 200 characters; `<redacted>` when it carried credentials).
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The project id is not a UUID.
    #[error("{variable}: invalid Braintrust project id '{value}': expected a UUID")]
    InvalidProjectId {
        /// The variable that held it.
        variable: &'static str,
        /// The rejected value (first 200 characters).
        value: String,
    },
    /// The API key cannot be sent in an HTTP header (control characters). The key is not shown.
    #[error("{variable}: the Braintrust API key contains characters not allowed in an HTTP header")]
    InvalidApiKey {
        /// The variable that held it.
        variable: &'static str,
    },
}

/// The Braintrust logger could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum BraintrustError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] BraintrustConfigError),
    /// The background task needs a Tokio runtime, and none is running.
    #[error("the Braintrust logger must be started inside a Tokio runtime: {0}")]
    NoRuntime(String),
    /// The HTTP client could not be built.
    #[error("building the Braintrust HTTP client failed: {0}")]
    HttpClient(String),
}
