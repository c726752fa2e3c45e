//! `/v1/auth/*`: the auth configuration, organization sign-up (when enabled), the caller, and the
//! organization's API keys. Secrets are returned once, by the call that creates them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use everruns_core::domain::ApiKey;
use everruns_core::ids::ApiKeyId;
use everruns_core::time::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::OpenApi;

use super::extract::{ApiJson, Org};
use crate::error::{ApiError, ApiResult};
use crate::schemas::auth as wire;
use crate::schemas::params::ApiKeyIdParam;
use crate::state::AppState;
use everruns_services::auth::{Caller, CreatedKey, NewKey};
use everruns_services::config::AuthMode;

/// Routes that need no credentials.
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/v1/auth/config", get(config)).route("/v1/auth/register", post(register))
}

/// Routes of an authenticated caller.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/auth/me", get(me))
        .route("/v1/auth/api-keys", get(list_keys).post(create_key))
        .route("/v1/auth/api-keys/{key_id}", delete(delete_key))
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(config, register, me, list_keys, create_key, delete_key))]
pub(super) struct Doc;

fn signup_enabled(state: &AppState) -> bool {
    state.config.auth_mode == AuthMode::ApiKey && state.config.auth_signup_enabled
}

#[utoipa::path(get, path = "/v1/auth/config", operation_id = "get_auth_config", tag = "auth",
    summary = "The authentication mode (no credentials needed)", security(()),
    responses((status = 200, description = "Auth configuration", body = wire::AuthConfig)))]
async fn config(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "mode": state.config.auth_mode.as_str(),
        "password_auth_enabled": false,
        "oauth_providers": [],
        "signup_enabled": signup_enabled(&state),
    }))
}

fn created_body(created: &CreatedKey) -> Value {
    let mut body = serde_json::to_value(&created.key).unwrap_or_default();
    body["key"] = json!(created.secret);
    body
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterInput {
    organization_name: String,
    #[serde(default)]
    key_name: Option<String>,
}

#[utoipa::path(post, path = "/v1/auth/register", operation_id = "register_organization", tag = "auth",
    summary = "Create an organization and its first API key (AUTH_SIGNUP_ENABLED; no credentials needed)", security(()),
    request_body = wire::RegisterRequest,
    responses((status = 201, description = "Created; the key's secret is shown once", body = wire::RegisterResponse),
        (status = 403, description = "Sign-up is disabled", body = crate::schemas::common::Problem, content_type = "application/problem+json")))]
async fn register(State(state): State<AppState>, ApiJson(input): ApiJson<RegisterInput>) -> ApiResult<Response> {
    if !signup_enabled(&state) {
        return Err(ApiError::Forbidden(
            "sign-up is disabled (it needs AUTH_MODE=api_key and AUTH_SIGNUP_ENABLED=true)".to_owned(),
        ));
    }
    let key_name = input.key_name.as_deref().unwrap_or("default");
    let (org, created) = everruns_services::auth::register(&state, &input.organization_name, key_name).await?;
    let body = json!({"organization": org, "api_key": created_body(&created)});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(get, path = "/v1/auth/me", operation_id = "get_caller", tag = "auth", summary = "The caller's organization and key",
    responses((status = 200, description = "The caller", body = wire::Caller)))]
async fn me(State(state): State<AppState>, Org(org): Org, caller: Option<Extension<Caller>>) -> ApiResult<Json<Value>> {
    let organization =
        state.stores.auth.get_organization(org).await?.ok_or_else(|| ApiError::not_found("organization", org))?;
    Ok(Json(json!({
        "organization": organization,
        "api_key_id": caller.and_then(|Extension(c)| c.key),
        "auth_mode": state.config.auth_mode.as_str(),
    })))
}

#[utoipa::path(get, path = "/v1/auth/api-keys", operation_id = "list_api_keys", tag = "auth",
    summary = "List the organization's API keys (never their secrets)", responses((status = 200, description = "API keys", body = wire::ApiKeyList)))]
async fn list_keys(State(state): State<AppState>, Org(org): Org) -> ApiResult<Json<Value>> {
    let keys: Vec<ApiKey> = state.stores.auth.list_api_keys(org).await?;
    let total = keys.len();
    Ok(Json(json!({"data": keys, "total": total})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKeyInput {
    name: String,
    #[serde(default)]
    expires_at: Option<Timestamp>,
    #[serde(default)]
    expires_in_days: Option<u32>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/v1/auth/api-keys", operation_id = "create_api_key", tag = "auth",
    summary = "Create an API key of the organization", request_body = wire::CreateApiKeyRequest,
    responses((status = 201, description = "Created; the secret (`key`) is shown once", body = wire::CreatedApiKey)))]
async fn create_key(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<CreateKeyInput>,
) -> ApiResult<Response> {
    if input.scopes.as_ref().is_some_and(|s| s.iter().any(|scope| scope != "*")) {
        return Err(ApiError::bad_request("scopes: only \"*\" (the whole organization) is supported"));
    }
    let expires_at = match (input.expires_at, input.expires_in_days) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give expires_at or expires_in_days, not both")),
        (Some(at), None) => Some(at),
        (None, Some(0)) => return Err(ApiError::bad_request("expires_in_days must be at least 1")),
        (None, Some(days)) => Some(Timestamp::from_millis(Timestamp::now().millis() + i64::from(days) * 86_400_000)),
        (None, None) => None,
    };
    let created = everruns_services::auth::create_key(&state, org, NewKey { name: input.name, expires_at }).await?;
    Ok((StatusCode::CREATED, Json(created_body(&created))).into_response())
}

#[utoipa::path(delete, path = "/v1/auth/api-keys/{key_id}", operation_id = "delete_api_key", tag = "auth",
    summary = "Revoke an API key", params(ApiKeyIdParam), responses((status = 204, description = "Revoked")))]
async fn delete_key(State(state): State<AppState>, Org(org): Org, Path(key_id): Path<String>) -> ApiResult<StatusCode> {
    let id = ApiKeyId::parse(&key_id)?;
    match state.stores.auth.delete_api_key(org, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("api_key", id)),
    }
}
