//! `/v1/models`, `/v1/providers` and `/v1/providers/{id}/models`. Provider keys are write-only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use everruns_core::domain::ModelSource;
use serde::Deserialize;
use serde_json::json;

use super::extract::{ApiJson, ApiQuery, Org};
use crate::error::ApiResult;
use crate::services::models::{self, ModelInput, ProviderInput};
use crate::state::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{id}", get(read_model).patch(patch_model).delete(delete_model))
        .route("/v1/providers", get(list_providers).post(create_provider))
        .route("/v1/providers/{id}", get(read_provider).patch(patch_provider).delete(delete_provider))
        .route("/v1/providers/{id}/models", get(list_provider_models).post(create_model))
}

#[derive(Debug, Deserialize)]
struct ModelParams {
    source: Option<ModelSource>,
    #[allow(dead_code)]
    include_stale: Option<bool>,
    favorites_only: Option<bool>,
}

async fn list_models(
    State(state): State<AppState>,
    Org(org): Org,
    ApiQuery(q): ApiQuery<ModelParams>,
) -> ApiResult<Response> {
    let models: Vec<_> = models::list_models(&state, org, None)
        .await?
        .into_iter()
        .filter(|m| q.source.is_none_or(|s| m.model.source == s))
        .filter(|m| !q.favorites_only.unwrap_or(false) || m.model.is_favorite)
        .collect();
    Ok(Json(json!({ "data": models })).into_response())
}

async fn read_model(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(models::find_model(&state, org, &id).await?).into_response())
}

async fn patch_model(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult<Response> {
    Ok(Json(models::patch_model(&state, org, &id, input).await?).into_response())
}

async fn delete_model(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let model = models::find_model(&state, org, &id).await?;
    state.stores.providers.delete_model(org, model.model.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_providers(State(state): State<AppState>, Org(org): Org) -> ApiResult<Response> {
    let providers = state.stores.providers.list_providers(org).await?;
    Ok(Json(json!({ "data": providers })).into_response())
}

async fn create_provider(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<ProviderInput>,
) -> ApiResult<Response> {
    let provider = models::create_provider(&state, org, input).await?;
    Ok((StatusCode::CREATED, Json(provider)).into_response())
}

async fn read_provider(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(models::find_provider(&state, org, &id).await?).into_response())
}

async fn patch_provider(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ProviderInput>,
) -> ApiResult<Response> {
    Ok(Json(models::patch_provider(&state, org, &id, input).await?).into_response())
}

async fn delete_provider(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let provider = models::find_provider(&state, org, &id).await?;
    state.stores.providers.delete_provider(org, provider.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_provider_models(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let provider = models::find_provider(&state, org, &id).await?;
    let models = state.stores.providers.list_models(org, Some(provider.id)).await?;
    Ok(Json(json!({ "data": models })).into_response())
}

async fn create_model(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult<Response> {
    let model = models::create_model(&state, org, &id, input).await?;
    Ok((StatusCode::CREATED, Json(model)).into_response())
}
