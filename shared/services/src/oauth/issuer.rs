//! `Issuer`: the public origin OAuth speaks for — from `AUTH_BASE_URL` (its API prefix removed),
//! else from the request's `X-Forwarded-Host`/`Host` and `X-Forwarded-Proto` — and the metadata
//! documents built on it.

use serde_json::{Value, json};

use crate::config::ServerConfig;

/// The authorization server's (and the MCP resource's) public origin, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer(String);

/// Whether a `Host` value is safe to echo into URLs (a host name or address and a port).
fn is_host(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']' | b'_'))
}

impl Issuer {
    /// The issuer for a request: `AUTH_BASE_URL` when set, else the forwarded or direct host.
    pub fn for_request(config: &ServerConfig, host: Option<&str>, forwarded_proto: Option<&str>) -> Self {
        if let Some(base) = &config.auth_base_url {
            let origin = base.strip_suffix(config.api_prefix.as_str()).filter(|_| !config.api_prefix.is_empty());
            return Self(origin.unwrap_or(base).trim_end_matches('/').to_owned());
        }
        let host = host.map(|h| h.split(',').next().unwrap_or_default().trim()).filter(|h| is_host(h));
        let proto = match forwarded_proto.map(|p| p.split(',').next().unwrap_or_default().trim().to_ascii_lowercase()) {
            Some(p) if p == "https" => "https",
            _ => "http",
        };
        Self(format!("{proto}://{}", host.unwrap_or("localhost")))
    }

    /// A fixed issuer (tests, embedders).
    pub fn new(origin: impl Into<String>) -> Self {
        Self(origin.into().trim_end_matches('/').to_owned())
    }

    /// The issuer identifier (the origin).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An absolute URL on the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// The MCP endpoint: the protected resource.
    pub fn resource(&self) -> String {
        self.url("/mcp")
    }

    /// Where the resource's metadata is (RFC 9728 §3.1, the path form).
    pub fn resource_metadata_url(&self) -> String {
        self.url("/.well-known/oauth-protected-resource/mcp")
    }

    /// Whether a `resource` parameter (RFC 8707) names this server's MCP endpoint (or the server).
    pub fn is_own_resource(&self, resource: &str) -> bool {
        let resource = resource.trim_end_matches('/');
        resource == self.resource() || resource == self.0
    }

    /// The authorization server metadata (RFC 8414).
    pub fn server_metadata(&self) -> Value {
        json!({
            "issuer": self.0,
            "authorization_endpoint": self.url("/oauth/authorize"),
            "token_endpoint": self.url("/oauth/token"),
            "registration_endpoint": self.url("/oauth/register"),
            "revocation_endpoint": self.url("/oauth/revoke"),
            "scopes_supported": super::SCOPES,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "service_documentation": "https://github.com/everruns/everruns",
        })
    }

    /// The protected resource metadata of the MCP endpoint (RFC 9728).
    pub fn resource_metadata(&self) -> Value {
        json!({
            "resource": self.resource(),
            "authorization_servers": [self.0],
            "scopes_supported": super::SCOPES,
            "bearer_methods_supported": ["header"],
            "resource_name": "Everruns MCP server",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: Option<&str>) -> ServerConfig {
        let mut c = ServerConfig::dev("127.0.0.1:0".parse().unwrap());
        c.auth_base_url = base.map(str::to_owned);
        c
    }

    #[test]
    fn from_base_url_or_request() {
        assert_eq!(
            Issuer::for_request(&config(Some("https://e.example/api")), Some("x"), None).as_str(),
            "https://e.example"
        );
        assert_eq!(
            Issuer::for_request(&config(Some("https://e.example/everruns/api")), None, None).as_str(),
            "https://e.example/everruns"
        );
        assert_eq!(Issuer::for_request(&config(None), Some("127.0.0.1:9000"), None).as_str(), "http://127.0.0.1:9000");
        assert_eq!(Issuer::for_request(&config(None), Some("a.example"), Some("https")).as_str(), "https://a.example");
        assert_eq!(Issuer::for_request(&config(None), Some("evil\"/><script>"), None).as_str(), "http://localhost");
        let issuer = Issuer::new("http://127.0.0.1:9000");
        assert!(
            issuer.is_own_resource("http://127.0.0.1:9000/mcp") && issuer.is_own_resource("http://127.0.0.1:9000/")
        );
        assert!(!issuer.is_own_resource("http://other/mcp"));
        assert_eq!(issuer.resource_metadata()["authorization_servers"][0], "http://127.0.0.1:9000");
    }
}
