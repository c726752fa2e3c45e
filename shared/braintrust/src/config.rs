//! `BraintrustConfig`: what the `BRAINTRUST_*` variables ask for. Read through a lookup function
//! so tests (and Lambda, which may read its own settings) do not touch the process environment.
//! The API key is never shown: `Debug` prints `[redacted]`.

use std::fmt;

use crate::error::BraintrustConfigError;

/// The API key; unset (or empty) disables the integration.
pub const API_KEY_VAR: &str = "BRAINTRUST_API_KEY";
/// The project name, looked up (created if missing) at start-up.
pub const PROJECT_NAME_VAR: &str = "BRAINTRUST_PROJECT_NAME";
/// The project id; when set, the name lookup is skipped.
pub const PROJECT_ID_VAR: &str = "BRAINTRUST_PROJECT_ID";
/// The API base URL (the data plane), e.g. `https://api-eu.braintrust.dev` or a self-hosted one.
pub const API_URL_VAR: &str = "BRAINTRUST_API_URL";

/// The project name used when [`PROJECT_NAME_VAR`] is unset.
pub const DEFAULT_PROJECT_NAME: &str = "My Project";
/// The API URL used when [`API_URL_VAR`] is unset.
pub const DEFAULT_API_URL: &str = "https://api.braintrust.dev";

/// Where generations are logged, and with which key.
#[derive(Clone, PartialEq, Eq)]
pub struct BraintrustConfig {
    api_key: String,
    project_name: String,
    project_id: Option<String>,
    api_url: String,
}

impl BraintrustConfig {
    /// The defaults (project `My Project`, `https://api.braintrust.dev`) with the given key.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            api_key: api_key.into(),
            project_name: DEFAULT_PROJECT_NAME.to_owned(),
            project_id: None,
            api_url: DEFAULT_API_URL.to_owned(),
        }
    }

    /// Reads the `BRAINTRUST_*` variables through `lookup`. Values are trimmed and empty ones count
    /// as unset. `Ok(None)` when there is no API key (the integration is off; the other variables
    /// are then not checked); a malformed URL or project id is an error.
    pub fn from_lookup<F>(lookup: F) -> Result<Option<Self>, BraintrustConfigError>
    where
        F: Fn(&str) -> Option<String>,
    {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let Some(api_key) = get(API_KEY_VAR) else {
            return Ok(None);
        };
        if !is_header_safe(&api_key) {
            return Err(BraintrustConfigError::InvalidApiKey { variable: API_KEY_VAR });
        }
        let mut config = Self::new(api_key);
        if let Some(name) = get(PROJECT_NAME_VAR) {
            config = config.with_project_name(name);
        }
        if let Some(id) = get(PROJECT_ID_VAR) {
            config = config.with_project_id(id)?;
        }
        if let Some(url) = get(API_URL_VAR) {
            config = config.with_api_url(url)?;
        }
        Ok(Some(config))
    }

    /// Reads the `BRAINTRUST_*` variables from the process environment.
    pub fn from_env() -> Result<Option<Self>, BraintrustConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Sets the project name (used only when no project id is set).
    pub fn with_project_name(mut self, name: impl Into<String>) -> Self {
        self.project_name = name.into();
        self
    }

    /// Sets the project id (a UUID), which skips the name lookup.
    pub fn with_project_id(mut self, id: impl Into<String>) -> Result<Self, BraintrustConfigError> {
        let id = id.into();
        let uuid = uuid::Uuid::try_parse(id.trim()).map_err(|_| BraintrustConfigError::InvalidProjectId {
            variable: PROJECT_ID_VAR,
            value: id.chars().take(200).collect(),
        })?;
        self.project_id = Some(uuid.hyphenated().to_string());
        Ok(self)
    }

    /// Sets the API base URL (validated like the variable; a trailing `/` is dropped).
    pub fn with_api_url(mut self, url: impl Into<String>) -> Result<Self, BraintrustConfigError> {
        self.api_url = validate_api_url(url.into())?;
        Ok(self)
    }

    /// The API key (keep it out of logs).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The project name.
    pub fn project_name(&self) -> &str {
        &self.project_name
    }

    /// The project id, when configured.
    pub fn project_id(&self) -> Option<&str> {
        self.project_id.as_deref()
    }

    /// The API base URL, without a trailing `/`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }
}

impl fmt::Debug for BraintrustConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BraintrustConfig")
            .field("api_key", &"[redacted]")
            .field("project_name", &self.project_name)
            .field("project_id", &self.project_id)
            .field("api_url", &self.api_url)
            .finish()
    }
}

/// Whether `Bearer {key}` is a valid header value (no control characters).
pub(crate) fn is_header_safe(api_key: &str) -> bool {
    reqwest::header::HeaderValue::from_str(&format!("Bearer {api_key}")).is_ok()
}

/// Accepts `http(s)://host[:port][/path]` without credentials, query or fragment: anything else is
/// a mistake worth reporting at start-up rather than as failed requests later.
fn validate_api_url(value: String) -> Result<String, BraintrustConfigError> {
    let value = value.trim().to_owned();
    let invalid = |shown: String, reason: &str| BraintrustConfigError::InvalidApiUrl {
        variable: API_URL_VAR,
        value: shown,
        reason: reason.to_owned(),
    };
    let shown = || value.chars().take(200).collect::<String>();
    let url = reqwest::Url::parse(&value).map_err(|e| invalid(shown(), &e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("<redacted>".to_owned(), "credentials in the URL are not supported"));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(shown(), "the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(shown(), "the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(shown(), "the URL must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<BraintrustConfig>, BraintrustConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        BraintrustConfig::from_lookup(|name| map.get(name).cloned())
    }

    fn enabled(vars: &[(&str, &str)]) -> BraintrustConfig {
        read(vars).unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("disabled"))
    }

    #[test]
    fn defaults_apply_with_only_a_key() {
        let config = enabled(&[(API_KEY_VAR, "sk-secret")]);
        assert_eq!(config.api_key(), "sk-secret");
        assert_eq!(config.project_name(), "My Project");
        assert_eq!(config.project_id(), None);
        assert_eq!(config.api_url(), "https://api.braintrust.dev");
        assert_eq!(config, BraintrustConfig::new("sk-secret"));
    }

    #[test]
    fn no_key_means_disabled_even_with_other_variables() {
        assert_eq!(read(&[]), Ok(None));
        assert_eq!(read(&[(API_KEY_VAR, "   ")]), Ok(None));
        assert_eq!(read(&[(PROJECT_NAME_VAR, "x"), (API_URL_VAR, "not a url"), (PROJECT_ID_VAR, "nope")]), Ok(None));
    }

    #[test]
    fn reads_every_variable() {
        let config = enabled(&[
            (API_KEY_VAR, " sk-secret "),
            (PROJECT_NAME_VAR, "Everruns prod"),
            (PROJECT_ID_VAR, "3C90C3CC-0D44-4B50-8888-8DD25736052A"),
            (API_URL_VAR, "https://api-eu.braintrust.dev/"),
        ]);
        assert_eq!(config.api_key(), "sk-secret");
        assert_eq!(config.project_name(), "Everruns prod");
        assert_eq!(config.project_id(), Some("3c90c3cc-0d44-4b50-8888-8dd25736052a"));
        assert_eq!(config.api_url(), "https://api-eu.braintrust.dev");
        let self_hosted = enabled(&[(API_KEY_VAR, "k"), (API_URL_VAR, "http://127.0.0.1:8000/braintrust/")]);
        assert_eq!(self_hosted.api_url(), "http://127.0.0.1:8000/braintrust");
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = enabled(&[(API_KEY_VAR, "k"), (PROJECT_NAME_VAR, " "), (PROJECT_ID_VAR, ""), (API_URL_VAR, "")]);
        assert_eq!(config, BraintrustConfig::new("k"));
    }

    #[test]
    fn a_bad_url_is_a_typed_error_naming_the_variable() {
        for bad in ["api.braintrust.dev", "ftp://api.braintrust.dev", "http://", "not a url", "https://h/x?y=1"] {
            let err = read(&[(API_KEY_VAR, "k"), (API_URL_VAR, bad)]).err().unwrap_or_else(|| panic!("{bad} accepted"));
            let BraintrustConfigError::InvalidApiUrl { variable, value, .. } = &err else { panic!("{err:?}") };
            assert_eq!(*variable, API_URL_VAR);
            assert_eq!(value, bad);
            assert!(err.to_string().starts_with("BRAINTRUST_API_URL: invalid Braintrust API URL"), "{err}");
        }
        let err = read(&[(API_KEY_VAR, "k"), (API_URL_VAR, "https://user:hunter2@api.braintrust.dev")]);
        let text = err.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("credentials") && !text.contains("hunter2"), "{text}");
    }

    #[test]
    fn a_bad_project_id_is_a_typed_error() {
        let err = read(&[(API_KEY_VAR, "k"), (PROJECT_ID_VAR, "my-project")]);
        assert_eq!(
            err,
            Err(BraintrustConfigError::InvalidProjectId { variable: PROJECT_ID_VAR, value: "my-project".into() })
        );
    }

    #[test]
    fn a_key_with_control_characters_is_rejected_without_showing_it() {
        let err = read(&[(API_KEY_VAR, "sk-abc\ndef")]).err().unwrap_or_else(|| panic!("accepted"));
        assert_eq!(err, BraintrustConfigError::InvalidApiKey { variable: API_KEY_VAR });
        assert!(!err.to_string().contains("sk-abc"), "{err}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let config = enabled(&[(API_KEY_VAR, "sk-very-secret-key"), (PROJECT_NAME_VAR, "P")]);
        let shown = format!("{config:?} {config:#?}");
        assert!(!shown.contains("sk-very-secret-key"), "{shown}");
        assert!(shown.contains("[redacted]") && shown.contains("\"P\""), "{shown}");
    }
}
