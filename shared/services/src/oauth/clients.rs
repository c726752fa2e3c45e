//! Dynamic client registration (RFC 7591) and the redirect URI rules: `https`, `http` only on
//! a loopback host (any port at authorization time, RFC 8252 §7.3), or a native app's private
//! scheme; never a fragment. Registration answers the stored metadata with the client's id and,
//! for a confidential client, its secret (shown once, stored as a digest).

use everruns_core::domain::OAuthClient;
use everruns_core::time::Timestamp;
use everruns_secrets::api_key;
use serde_json::{Map, Value, json};

use super::OAuthError;
use crate::App;

/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 10;
/// Largest accepted registration (serialized metadata).
const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Schemes that can never be a redirect target.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "file", "vbscript", "blob", "about", "ftp", "ws", "wss"];
/// Optional descriptive fields kept as registered (strings only).
const DESCRIPTIVE: &[&str] = &["client_uri", "logo_uri", "tos_uri", "policy_uri", "software_id", "software_version"];

/// A registered client and, for a confidential one, its secret.
#[derive(Debug)]
pub struct Registered {
    /// The stored client.
    pub client: OAuthClient,
    /// The secret, shown once.
    pub secret: Option<String>,
}

impl Registered {
    /// The registration response body (RFC 7591 §3.2.1).
    pub fn response(&self) -> Value {
        let mut body = self.client.metadata.clone();
        body["client_id"] = json!(self.client.id);
        body["client_id_issued_at"] = json!(self.client.created_at.millis() / 1000);
        if let Some(secret) = &self.secret {
            body["client_secret"] = json!(secret);
            body["client_secret_expires_at"] = json!(0);
        }
        body
    }
}

/// Whether `host` is a loopback host name or address.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "[::1]" | "::1")
}

/// Checks one redirect URI for registration.
pub fn check_redirect_uri(uri: &str) -> Result<url::Url, OAuthError> {
    let bad = |why: &str| {
        OAuthError::invalid_redirect_uri(format!("redirect URI '{}' {why}", uri.chars().take(200).collect::<String>()))
    };
    if uri.len() > 2000 || uri.contains(char::is_whitespace) {
        return Err(bad("is too long or contains whitespace"));
    }
    let parsed = url::Url::parse(uri).map_err(|_| bad("is not an absolute URI"))?;
    if parsed.fragment().is_some() {
        return Err(bad("must not contain a fragment"));
    }
    let scheme = parsed.scheme();
    match scheme {
        "https" if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(parsed),
        "https" => Err(bad("has no host")),
        "http" if parsed.host_str().is_some_and(is_loopback_host) => Ok(parsed),
        "http" => Err(bad("uses http on a host that is not loopback (use https, or 127.0.0.1 for a local app)")),
        s if FORBIDDEN_SCHEMES.contains(&s) => Err(bad("uses a scheme that cannot receive a redirect")),
        _ => Ok(parsed),
    }
}

/// Whether `presented` is one of the client's registered redirect URIs: an exact match, or for
/// a loopback `http` URI the same URI on another port.
pub fn redirect_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(presented)) else { return false };
    a.scheme() == "http"
        && a.host_str().is_some_and(is_loopback_host)
        && b.scheme() == "http"
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
}

fn strings(value: &Value, field: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| OAuthError::invalid_client_metadata(format!("{field} must be an array of strings"))),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!("{field} must be an array of strings"))),
    }
}

fn text(value: &Value, field: &str, max: usize) -> Result<Option<String>, OAuthError> {
    match value.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.chars().count() <= max && !s.chars().any(char::is_control) => Ok(Some(s.clone())),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!(
            "{field} must be a string of at most {max} characters without control characters"
        ))),
    }
}

/// Validates registration metadata and answers what is stored.
pub fn validated_metadata(body: &Value) -> Result<Map<String, Value>, OAuthError> {
    if !body.is_object() {
        return Err(OAuthError::invalid_client_metadata("the registration must be a JSON object"));
    }
    if serde_json::to_vec(body).map_or(usize::MAX, |b| b.len()) > MAX_METADATA_BYTES {
        return Err(OAuthError::invalid_client_metadata("the registration is larger than 16 KiB"));
    }
    let redirect_uris = strings(body, "redirect_uris")?
        .filter(|u| !u.is_empty())
        .ok_or_else(|| OAuthError::invalid_redirect_uri("redirect_uris must list at least one redirect URI"))?;
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::invalid_redirect_uri(format!("at most {MAX_REDIRECT_URIS} redirect URIs")));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri)?;
    }
    let method = text(body, "token_endpoint_auth_method", 64)?.unwrap_or_else(|| "client_secret_basic".to_owned());
    if !matches!(method.as_str(), "none" | "client_secret_post" | "client_secret_basic") {
        return Err(OAuthError::invalid_client_metadata(format!(
            "token_endpoint_auth_method '{method}' is not supported (supported: none, client_secret_post, client_secret_basic)"
        )));
    }
    let grant_types = strings(body, "grant_types")?
        .unwrap_or_else(|| vec!["authorization_code".to_owned(), "refresh_token".to_owned()]);
    if let Some(bad) = grant_types.iter().find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token")) {
        return Err(OAuthError::invalid_client_metadata(format!(
            "grant type '{bad}' is not supported (supported: authorization_code, refresh_token)"
        )));
    }
    let response_types = strings(body, "response_types")?.unwrap_or_else(|| vec!["code".to_owned()]);
    if response_types.iter().any(|r| r != "code") {
        return Err(OAuthError::invalid_client_metadata("only the 'code' response type is supported"));
    }
    let mut out = Map::new();
    out.insert("redirect_uris".into(), json!(redirect_uris));
    out.insert("token_endpoint_auth_method".into(), json!(method));
    out.insert("grant_types".into(), json!(grant_types));
    out.insert("response_types".into(), json!(response_types));
    if let Some(name) = text(body, "client_name", 200)? {
        out.insert("client_name".into(), json!(name));
    }
    if let Some(scope) = text(body, "scope", 500)? {
        let scope =
            super::checked_scope(Some(&scope)).map_err(|e| OAuthError::invalid_client_metadata(e.description))?;
        out.insert("scope".into(), json!(scope));
    }
    for field in DESCRIPTIVE {
        if let Some(value) = text(body, field, 2000)? {
            out.insert((*field).into(), json!(value));
        }
    }
    if let Some(contacts) = strings(body, "contacts")? {
        out.insert("contacts".into(), json!(contacts));
    }
    Ok(out)
}

/// Registers a client.
pub async fn register(app: &App, body: &Value) -> Result<Registered, OAuthError> {
    let metadata = validated_metadata(body)?;
    let confidential = metadata["token_endpoint_auth_method"] != "none";
    let id = api_key::generate_with_prefix("evrc_").map_err(OAuthError::server)?.secret[..37].to_owned();
    let secret = if confidential {
        Some(api_key::generate_with_prefix(super::CLIENT_SECRET_PREFIX).map_err(OAuthError::server)?)
    } else {
        None
    };
    let client = OAuthClient {
        id,
        secret_digest: secret.as_ref().map(|s| s.digest),
        metadata: Value::Object(metadata),
        created_at: Timestamp::now(),
    };
    app.stores.oauth.insert_client(&client).await?;
    Ok(Registered { client, secret: secret.map(|s| s.secret) })
}

/// A client as it presented itself at the token or revocation endpoint.
#[derive(Debug, Default, Clone)]
pub struct ClientCredentials {
    /// `client_id` (form or Basic).
    pub id: Option<String>,
    /// `client_secret` (form or Basic).
    pub secret: Option<String>,
    /// Whether they came in a Basic `Authorization` header.
    pub basic: bool,
}

/// Authenticates the client by its registered method (RFC 6749 §2.3).
pub async fn authenticate(app: &App, credentials: &ClientCredentials) -> Result<OAuthClient, OAuthError> {
    let id = credentials.id.as_deref().filter(|id| !id.is_empty()).ok_or_else(|| {
        OAuthError::invalid_client(
            "client authentication required: send client_id (and client_secret if registered with one)",
        )
    })?;
    let client =
        app.stores.oauth.find_client(id).await?.ok_or_else(|| OAuthError::invalid_client("unknown client_id"))?;
    match (client.auth_method(), &client.secret_digest, credentials.secret.as_deref()) {
        ("none", _, None) => Ok(client),
        ("none", _, Some(_)) => Err(OAuthError::invalid_client("this public client has no secret")),
        (_, Some(digest), Some(secret)) if api_key::digest(secret) == *digest => Ok(client),
        (_, _, Some(_)) => Err(OAuthError::invalid_client("wrong client_secret")),
        (_, _, None) => Err(OAuthError::invalid_client("client_secret required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_rules() {
        for ok in [
            "https://app.example/cb",
            "http://127.0.0.1:33418/callback",
            "http://localhost/cb",
            "cursor://anysphere/cb",
        ] {
            assert!(check_redirect_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.example/cb",
            "https://app.example/cb#x",
            "javascript:alert(1)",
            "/relative",
            "data:text/html,x",
        ] {
            assert_eq!(check_redirect_uri(bad).unwrap_err().code, "invalid_redirect_uri", "{bad}");
        }
        assert!(redirect_matches("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/cb"));
        assert!(!redirect_matches("http://127.0.0.1:1000/cb", "http://127.0.0.1:2000/other"));
        assert!(!redirect_matches("https://a.example/cb", "https://a.example/cb2"));
    }

    #[test]
    fn metadata_rules() {
        let ok = validated_metadata(&json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none", "client_name": "cli", "unknown": 1})).unwrap();
        assert_eq!(ok["grant_types"], json!(["authorization_code", "refresh_token"]));
        assert!(ok.get("unknown").is_none());
        for (body, code) in [
            (json!([]), "invalid_client_metadata"),
            (json!({}), "invalid_redirect_uri"),
            (json!({"redirect_uris": "x"}), "invalid_client_metadata"),
            (json!({"redirect_uris": ["http://evil.example/cb"]}), "invalid_redirect_uri"),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                "invalid_client_metadata",
            ),
            (json!({"redirect_uris": ["https://a.example/cb"], "scope": "admin"}), "invalid_client_metadata"),
        ] {
            assert_eq!(validated_metadata(&body).unwrap_err().code, code, "{body}");
        }
    }
}
