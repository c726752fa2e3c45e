//! The authorization endpoint's rules (RFC 6749 §4.1.1, RFC 7636, OAuth 2.1): which problems are
//! shown to the person (unknown client, redirect URI not registered — never redirected to), which
//! go back to the client in the redirect (`error=` with `state`), and the code an approval issues.

use everruns_core::domain::{AuthorizationCode, Grant, OAuthClient};
use everruns_core::ids::OrgId;
use everruns_core::time::Timestamp;
use everruns_secrets::api_key;
use serde::Deserialize;

use super::clients::redirect_matches;
use super::{Issuer, OAuthError};
use crate::App;

/// The query (or form) of an authorization request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The registered client.
    pub client_id: Option<String>,
    /// One of its registered redirect URIs.
    pub redirect_uri: Option<String>,
    /// The PKCE challenge.
    pub code_challenge: Option<String>,
    /// Must be `S256`.
    pub code_challenge_method: Option<String>,
    /// Echoed back to the client.
    pub state: Option<String>,
    /// Requested scopes.
    pub scope: Option<String>,
    /// The resource indicator (RFC 8707).
    pub resource: Option<String>,
}

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    /// The client.
    pub client: OAuthClient,
    /// Where to send the answer.
    pub redirect_uri: String,
    /// The S256 challenge.
    pub code_challenge: String,
    /// The client's state.
    pub state: Option<String>,
    /// The granted scope.
    pub scope: String,
    /// The resource, if named.
    pub resource: Option<String>,
}

impl AuthorizeRequest {
    /// The client's display name.
    pub fn client_name(&self) -> &str {
        self.client.metadata["client_name"].as_str().unwrap_or(&self.client.id)
    }

    /// The redirect carrying an error.
    pub fn error_location(&self, issuer: &Issuer, error: &OAuthError) -> String {
        error_location(&self.redirect_uri, self.state.as_deref(), issuer, error)
    }
}

/// Why a request was refused.
#[derive(Debug, Clone)]
pub enum Rejection {
    /// Shown to the person: the client or redirect URI cannot be trusted with a redirect.
    Page(OAuthError),
    /// Sent back to the client at this location (`error`, `error_description`, `state`, `iss`).
    Redirect(String),
}

/// `uri` with query parameters appended.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

/// The redirect that reports `error` to the client.
pub fn error_location(redirect_uri: &str, state: Option<&str>, issuer: &Issuer, error: &OAuthError) -> String {
    let mut pairs = vec![("error", error.code), ("error_description", error.description.as_str())];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer.as_str()));
    with_query(redirect_uri, &pairs)
}

/// Whether a PKCE challenge or verifier has the shape RFC 7636 gives it.
pub(crate) fn is_pkce_text(text: &str, min: usize) -> bool {
    (min..=128).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Validates an authorization request.
pub async fn validate(app: &App, issuer: &Issuer, params: &AuthorizeParams) -> Result<AuthorizeRequest, Rejection> {
    let page = |e: OAuthError| Rejection::Page(e);
    let client_id = params
        .client_id
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| page(OAuthError::invalid_request("client_id is required")))?;
    let client = app
        .stores
        .oauth
        .find_client(client_id)
        .await
        .map_err(|e| page(e.into()))?
        .ok_or_else(|| page(OAuthError::invalid_client("unknown client_id: register the client first")))?;
    let registered = client.redirect_uris();
    let redirect_uri = match params.redirect_uri.as_deref() {
        Some(uri) if registered.iter().any(|r| redirect_matches(r, uri)) => uri.to_owned(),
        Some(_) => return Err(page(OAuthError::invalid_request("redirect_uri is not registered for this client"))),
        None if registered.len() == 1 => registered[0].to_owned(),
        None => return Err(page(OAuthError::invalid_request("redirect_uri is required"))),
    };
    let state = params.state.clone();
    let back = |e: OAuthError| Rejection::Redirect(error_location(&redirect_uri, state.as_deref(), issuer, &e));
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(back(OAuthError::invalid_request("response_type is required"))),
        Some(_) => return Err(back(OAuthError::unsupported_response_type("only response_type=code is supported"))),
    }
    let challenge = params
        .code_challenge
        .as_deref()
        .ok_or_else(|| back(OAuthError::invalid_request("code_challenge is required (PKCE with S256)")))?;
    if params.code_challenge_method.as_deref() != Some("S256") {
        return Err(back(OAuthError::invalid_request("code_challenge_method must be S256 (plain is not supported)")));
    }
    if !is_pkce_text(challenge, 43) || challenge.len() != 43 {
        return Err(back(OAuthError::invalid_request("code_challenge must be the 43-character base64url S256 digest")));
    }
    let scope = super::checked_scope(params.scope.as_deref()).map_err(back)?;
    if let Some(resource) = params.resource.as_deref()
        && !issuer.is_own_resource(resource)
    {
        return Err(back(OAuthError::invalid_target(format!(
            "resource must be this server's MCP endpoint ({})",
            issuer.resource()
        ))));
    }
    Ok(AuthorizeRequest {
        client,
        redirect_uri,
        code_challenge: challenge.to_owned(),
        state,
        scope,
        resource: params.resource.clone(),
    })
}

/// Issues a code for `org` and answers the redirect that delivers it.
pub async fn approve(app: &App, issuer: &Issuer, request: &AuthorizeRequest, org: OrgId) -> Result<String, OAuthError> {
    let code = api_key::generate_with_prefix(super::CODE_PREFIX).map_err(OAuthError::server)?;
    let now = Timestamp::now();
    let stored = AuthorizationCode {
        digest: code.digest,
        grant: Grant {
            grant_id: super::new_grant_id()?,
            client_id: request.client.id.clone(),
            org,
            scope: request.scope.clone(),
            resource: request.resource.clone(),
        },
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        expires_at: Timestamp::from_millis(now.millis() + super::CODE_TTL.as_millis() as i64),
    };
    app.stores.oauth.insert_code(&stored).await?;
    // New grants are rare: each sweeps what expired over a day ago (a day keeps replays of
    // recently expired codes and tokens recognisable).
    let horizon = Timestamp::from_millis(now.millis() - 24 * 3600 * 1000);
    if let Err(error) = app.stores.oauth.purge_expired(horizon).await {
        tracing::warn!("oauth: purging expired codes and tokens failed: {error}");
    }
    let mut pairs = vec![("code", code.secret.as_str())];
    if let Some(state) = request.state.as_deref() {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer.as_str()));
    Ok(with_query(&request.redirect_uri, &pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_redirects_keep_state_and_name_the_issuer() {
        let issuer = Issuer::new("http://127.0.0.1:9");
        let at = error_location("http://127.0.0.1:5/cb?x=1", Some("s t"), &issuer, &OAuthError::access_denied("no"));
        assert_eq!(
            at,
            "http://127.0.0.1:5/cb?x=1&error=access_denied&error_description=no&state=s+t&iss=http%3A%2F%2F127.0.0.1%3A9"
        );
        assert!(is_pkce_text(&"a".repeat(43), 43) && !is_pkce_text("short", 43) && !is_pkce_text(&"a+".repeat(30), 43));
    }
}
