//! The OAuth 2.1 authorization server MCP clients sign in through: dynamic client registration
//! (RFC 7591), authorization codes bound to a PKCE S256 challenge, access tokens with rotating
//! refresh tokens, revocation (RFC 7009), and the metadata documents (RFC 8414, RFC 9728).
//! Every secret it hands out (client secrets, codes, tokens) is stored as a SHA-256 digest.
//!
//! Who signs in is the transport's business: it authenticates a person (with `AUTH_MODE=api_key`,
//! an organization API key on the consent page) and calls [`authorize::approve`] with the
//! organization the grant acts for.

pub mod authorize;
pub mod clients;
mod error;
mod issuer;
pub mod tokens;

pub use error::OAuthError;
pub use issuer::Issuer;

use std::time::Duration;

/// The scopes tokens can carry: `mcp` (the MCP endpoint and the REST API of the organization).
pub const SCOPES: &[&str] = &["mcp"];
/// How long an authorization code can be redeemed.
pub const CODE_TTL: Duration = Duration::from_secs(600);
/// How long a refresh token works (each refresh issues a new one).
pub const REFRESH_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "evr_ac_";
/// Prefix of access tokens (how `Authorization` tells them from API keys).
pub const ACCESS_PREFIX: &str = "evr_at_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "evr_rt_";
/// Prefix of client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "evr_cs_";

/// Checks a requested scope (space-separated; empty or absent means all of [`SCOPES`]).
pub(crate) fn checked_scope(requested: Option<&str>) -> Result<String, OAuthError> {
    let requested = requested.map(str::trim).filter(|s| !s.is_empty());
    let Some(requested) = requested else { return Ok(SCOPES.join(" ")) };
    let mut scopes: Vec<&str> = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&scope) {
            return Err(OAuthError::invalid_scope(format!(
                "scope '{}' is not supported (supported: {})",
                scope.chars().take(64).collect::<String>(),
                SCOPES.join(" ")
            )));
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes.join(" "))
}

/// A fresh opaque id for a grant family.
pub(crate) fn new_grant_id() -> Result<String, OAuthError> {
    let generated = everruns_secrets::api_key::generate_with_prefix("grant_").map_err(OAuthError::server)?;
    Ok(generated.secret[..38].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(checked_scope(None).unwrap(), "mcp");
        assert_eq!(checked_scope(Some("  ")).unwrap(), "mcp");
        assert_eq!(checked_scope(Some("mcp mcp")).unwrap(), "mcp");
        assert_eq!(checked_scope(Some("admin")).unwrap_err().code, "invalid_scope");
    }
}
