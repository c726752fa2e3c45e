//! The token endpoint (authorization code with PKCE S256, refresh with rotation), revocation
//! (RFC 7009) and the check of a presented access token. A replayed code or refresh token
//! revokes every token of its grant (OAuth 2.1 §4.1.3, §4.3.1).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use everruns_core::domain::{CodeRedemption, Grant, OAuthClient, OAuthToken, TokenKind};
use everruns_core::time::Timestamp;
use everruns_secrets::api_key;
use serde::{Deserialize, Serialize};

use super::clients::{self, ClientCredentials};
use super::{Issuer, OAuthError};
use crate::App;
use crate::error::{ServiceError, ServiceResult};

/// The form of a token request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenParams {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: Option<String>,
    /// The code (authorization code grant).
    pub code: Option<String>,
    /// The redirect URI the code was issued for.
    pub redirect_uri: Option<String>,
    /// The PKCE verifier.
    pub code_verifier: Option<String>,
    /// The refresh token (refresh grant).
    pub refresh_token: Option<String>,
    /// A narrower scope (refresh grant).
    pub scope: Option<String>,
    /// The resource indicator.
    pub resource: Option<String>,
    /// The client, when not in a Basic header.
    pub client_id: Option<String>,
    /// Its secret (`client_secret_post`).
    pub client_secret: Option<String>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Clone, Serialize)]
pub struct IssuedTokens {
    /// The bearer token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The next refresh token, when the client may refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scope.
    pub scope: String,
}

fn at(now: Timestamp, ttl: std::time::Duration) -> Timestamp {
    Timestamp::from_millis(now.millis() + ttl.as_millis() as i64)
}

fn may_refresh(client: &OAuthClient) -> bool {
    client.metadata["grant_types"].as_array().is_some_and(|g| g.iter().any(|v| v == "refresh_token"))
}

/// Mints an access token (and a refresh token when the client may refresh) for `grant`.
fn mint(
    app: &App,
    client: &OAuthClient,
    grant: &Grant,
    now: Timestamp,
) -> Result<(IssuedTokens, Vec<OAuthToken>), OAuthError> {
    let token = |kind, prefix, ttl| -> Result<(String, OAuthToken), OAuthError> {
        let generated = api_key::generate_with_prefix(prefix).map_err(OAuthError::server)?;
        let stored = OAuthToken {
            digest: generated.digest,
            kind,
            grant: grant.clone(),
            expires_at: at(now, ttl),
            revoked_at: None,
            used_at: None,
            created_at: now,
        };
        Ok((generated.secret, stored))
    };
    let (access, access_row) = token(TokenKind::Access, super::ACCESS_PREFIX, app.config.oauth_access_ttl)?;
    let mut rows = vec![access_row];
    let refresh = if may_refresh(client) {
        let (refresh, row) = token(TokenKind::Refresh, super::REFRESH_PREFIX, super::REFRESH_TTL)?;
        rows.push(row);
        Some(refresh)
    } else {
        None
    };
    let issued = IssuedTokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: app.config.oauth_access_ttl.as_secs(),
        refresh_token: refresh,
        scope: grant.scope.clone(),
    };
    Ok((issued, rows))
}

/// Handles a token request.
pub async fn exchange(
    app: &App,
    issuer: &Issuer,
    credentials: &ClientCredentials,
    params: &TokenParams,
) -> Result<IssuedTokens, OAuthError> {
    let grant_type =
        params.grant_type.as_deref().ok_or_else(|| OAuthError::invalid_request("grant_type is required"))?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant_type '{}' is not supported (supported: authorization_code, refresh_token)",
            grant_type.chars().take(64).collect::<String>()
        )));
    }
    let client = clients::authenticate(app, credentials).await?;
    if let Some(resource) = params.resource.as_deref()
        && !issuer.is_own_resource(resource)
    {
        return Err(OAuthError::invalid_target(format!("resource must be {}", issuer.resource())));
    }
    if grant_type == "authorization_code" {
        redeem(app, &client, params).await
    } else {
        refresh(app, &client, params).await
    }
}

async fn redeem(app: &App, client: &OAuthClient, params: &TokenParams) -> Result<IssuedTokens, OAuthError> {
    let code = params
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier = params
        .code_verifier
        .as_deref()
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
    if !super::authorize::is_pkce_text(verifier, 43) {
        return Err(OAuthError::invalid_request("code_verifier must be 43 to 128 unreserved characters"));
    }
    let now = Timestamp::now();
    let stored = match app.stores.oauth.redeem_code(&api_key::digest(code), now).await? {
        CodeRedemption::Redeemed(stored) => stored,
        CodeRedemption::AlreadyUsed(stored) => {
            app.stores.oauth.revoke_grant(&stored.grant.grant_id, now).await?;
            return Err(OAuthError::invalid_grant("the authorization code was already used; its tokens are revoked"));
        }
        CodeRedemption::Unknown => return Err(OAuthError::invalid_grant("unknown authorization code")),
    };
    if stored.grant.client_id != client.id {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client"));
    }
    if stored.expires_at.millis() <= now.millis() {
        return Err(OAuthError::invalid_grant("the authorization code has expired"));
    }
    if params.redirect_uri.as_deref() != Some(stored.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
    }
    let computed = URL_SAFE_NO_PAD.encode(api_key::digest(verifier).0);
    if computed != stored.code_challenge {
        return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"));
    }
    let (issued, rows) = mint(app, client, &stored.grant, now)?;
    app.stores.oauth.insert_tokens(&rows).await?;
    Ok(issued)
}

async fn refresh(app: &App, client: &OAuthClient, params: &TokenParams) -> Result<IssuedTokens, OAuthError> {
    if !may_refresh(client) {
        return Err(OAuthError::unauthorized_client("this client did not register the refresh_token grant"));
    }
    let presented = params
        .refresh_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let digest = api_key::digest(presented);
    let now = Timestamp::now();
    let token = app
        .stores
        .oauth
        .find_token(&digest)
        .await?
        .filter(|t| t.kind == TokenKind::Refresh)
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    if token.grant.client_id != client.id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    if token.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token has been revoked"));
    }
    if token.used_at.is_some() {
        app.stores.oauth.revoke_grant(&token.grant.grant_id, now).await?;
        return Err(OAuthError::invalid_grant("the refresh token was already used; its grant is revoked"));
    }
    if token.expires_at.millis() <= now.millis() {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let mut grant = token.grant.clone();
    if let Some(scope) = params.scope.as_deref() {
        let narrowed = super::checked_scope(Some(scope))?;
        if narrowed.split(' ').any(|s| !grant.scope.split(' ').any(|g| g == s)) {
            return Err(OAuthError::invalid_scope("the scope exceeds what was granted"));
        }
        grant.scope = narrowed;
    }
    let (issued, rows) = mint(app, client, &grant, now)?;
    if !app.stores.oauth.rotate_refresh(&digest, now, &rows).await? {
        app.stores.oauth.revoke_grant(&token.grant.grant_id, now).await?;
        return Err(OAuthError::invalid_grant("the refresh token was already used; its grant is revoked"));
    }
    Ok(issued)
}

/// Revokes a token the client holds (RFC 7009): a refresh token takes its grant's access tokens
/// with it. Unknown tokens, and tokens of other clients, are answered the same (success).
pub async fn revoke(app: &App, credentials: &ClientCredentials, token: Option<&str>) -> Result<(), OAuthError> {
    let client = clients::authenticate(app, credentials).await?;
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let digest = api_key::digest(token);
    let now = Timestamp::now();
    match app.stores.oauth.find_token(&digest).await? {
        Some(found) if found.grant.client_id == client.id => match found.kind {
            TokenKind::Refresh => app.stores.oauth.revoke_grant(&found.grant.grant_id, now).await?,
            TokenKind::Access => {
                app.stores.oauth.revoke_token(&digest, now).await?;
            }
        },
        _ => {}
    }
    Ok(())
}

/// Why a presented access token was refused (for `WWW-Authenticate: … error="invalid_token"`).
pub const INVALID_TOKEN: &str = "invalid_token";

/// The organization an access token acts for, or 401.
pub async fn authenticate_access(app: &App, token: &str) -> ServiceResult<everruns_core::ids::OrgId> {
    let refused = |why: &str| ServiceError::Unauthorized(format!("{INVALID_TOKEN}: {why}"));
    let found = app
        .stores
        .oauth
        .find_token(&api_key::digest(token))
        .await?
        .filter(|t| t.kind == TokenKind::Access)
        .ok_or_else(|| refused("unknown access token"))?;
    let now = Timestamp::now();
    if found.revoked_at.is_some() {
        return Err(refused("the access token has been revoked"));
    }
    if found.expires_at.millis() <= now.millis() {
        return Err(refused("the access token has expired"));
    }
    Ok(found.grant.org)
}
