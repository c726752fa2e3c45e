//! The machine-facing endpoints: metadata (RFC 8414, RFC 9728), registration (RFC 7591), the
//! token endpoint and revocation (RFC 7009). Forms are `application/x-www-form-urlencoded`;
//! client credentials come in the form or a Basic header.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use everruns_services::oauth::clients::{self, ClientCredentials};
use everruns_services::oauth::{OAuthError, tokens};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{OAuthFailure, issuer, no_store};
use crate::state::AppState;

/// `GET /.well-known/oauth-authorization-server`.
pub(super) async fn server_metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    Json(issuer(&state, &headers).server_metadata()).into_response()
}

/// `GET /.well-known/oauth-protected-resource[/mcp]`.
pub(super) async fn resource_metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    Json(issuer(&state, &headers).resource_metadata()).into_response()
}

/// `POST /oauth/register` (JSON).
pub(super) async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return OAuthFailure(OAuthError::invalid_client_metadata("send the registration as application/json"))
            .into_response();
    }
    let metadata: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            return OAuthFailure(OAuthError::invalid_client_metadata(format!("the body is not valid JSON: {e}")))
                .into_response();
        }
    };
    match clients::register(&state, &metadata).await {
        Ok(registered) => (StatusCode::CREATED, no_store(), Json(registered.response())).into_response(),
        Err(error) => OAuthFailure(error).into_response(),
    }
}

/// Parses a form body, or answers `invalid_request`.
fn form<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(OAuthError::invalid_request("send the parameters as application/x-www-form-urlencoded"));
    }
    serde_html_form::from_bytes(body)
        .map_err(|e| OAuthError::invalid_request(format!("malformed form (repeated or invalid parameter): {e}")))
}

/// Client credentials from a Basic header (RFC 6749 §2.3.1: each part form-encoded) or the form.
fn credentials(headers: &HeaderMap, id: Option<&str>, secret: Option<&str>) -> Result<ClientCredentials, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Ok(ClientCredentials { id: id.map(str::to_owned), secret: secret.map(str::to_owned), basic: false });
    };
    let bad = || OAuthError::invalid_client("malformed Basic client credentials");
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")).ok_or_else(bad)?;
    let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
    let (user, pass) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        serde_html_form::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, v)| v)
    };
    let (user, pass) = (unescape(user).ok_or_else(bad)?, unescape(pass).ok_or_else(bad)?);
    if id.is_some_and(|id| id != user) {
        return Err(OAuthError::invalid_request("client_id in the form differs from the Basic credentials"));
    }
    Ok(ClientCredentials { id: Some(user), secret: Some(pass).filter(|p| !p.is_empty()), basic: true })
}

/// `POST /oauth/token`.
pub(super) async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params: tokens::TokenParams = form(&headers, &body)?;
        let creds = credentials(&headers, params.client_id.as_deref(), params.client_secret.as_deref())?;
        tokens::exchange(&state, &issuer(&state, &headers), &creds, &params).await
    }
    .await;
    match result {
        Ok(issued) => (no_store(), Json(issued)).into_response(),
        Err(error) => OAuthFailure(error).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct RevokeForm {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /oauth/revoke`.
pub(super) async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let result = async {
        let params: RevokeForm = form(&headers, &body)?;
        let creds = credentials(&headers, params.client_id.as_deref(), params.client_secret.as_deref())?;
        tokens::revoke(&state, &creds, params.token.as_deref()).await
    }
    .await;
    match result {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(error) => OAuthFailure(error).into_response(),
    }
}
