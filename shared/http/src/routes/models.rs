//! `/v1/models`, `/v1/providers` and `/v1/providers/{id}/models`. Provider keys are write-only.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use everruns_core::domain::ModelSource;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, OpenApi};

use super::extract::{ApiJson, ApiQuery, Org};
use crate::error::ApiResult;
use crate::schemas::common::List;
use crate::schemas::models as wire;
use crate::schemas::params::{ModelIdParam, ProviderIdParam, ProviderModelsParam};
use crate::state::AppState;
use everruns_services::models::{self, ModelInput, ProviderInput};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(list_models))
        .route("/v1/models/{id}", get(read_model).patch(patch_model).delete(delete_model))
        .route("/v1/providers", get(list_providers).post(create_provider))
        .route("/v1/providers/{id}", get(read_provider).patch(patch_provider).delete(delete_provider))
        .route("/v1/providers/{id}/models", get(list_provider_models).post(create_model))
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(
    list_models,
    read_model,
    patch_model,
    delete_model,
    list_providers,
    create_provider,
    read_provider,
    patch_provider,
    delete_provider,
    list_provider_models,
    create_model
))]
pub(super) struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ModelParams {
    /// Only models of this source.
    #[param(value_type = Option<wire::ModelSource>)]
    source: Option<ModelSource>,
    /// Accepted for compatibility; stale models are not kept.
    #[allow(dead_code)]
    include_stale: Option<bool>,
    /// Only favorite models.
    favorites_only: Option<bool>,
}

#[utoipa::path(get, path = "/v1/models", operation_id = "list_models", tag = "models", summary = "List models with their providers",
    params(ModelParams), responses((status = 200, description = "Models", body = List<wire::ModelWithProvider>)))]
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

#[utoipa::path(get, path = "/v1/models/{id}", operation_id = "get_model", tag = "models", summary = "Get a model",
    params(ModelIdParam), responses((status = 200, description = "The model", body = wire::ModelWithProvider)))]
async fn read_model(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(models::find_model(&state, org, &id).await?).into_response())
}

#[utoipa::path(patch, path = "/v1/models/{id}", operation_id = "update_model", tag = "models", summary = "Update a model",
    params(ModelIdParam), request_body = wire::UpdateModelRequest, responses((status = 200, description = "The model", body = wire::Model)))]
async fn patch_model(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult<Response> {
    Ok(Json(models::patch_model(&state, org, &id, input).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/models/{id}", operation_id = "delete_model", tag = "models", summary = "Delete a model",
    params(ModelIdParam), responses((status = 204, description = "Deleted")))]
async fn delete_model(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let model = models::find_model(&state, org, &id).await?;
    state.stores.providers.delete_model(org, model.model.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/providers", operation_id = "list_providers", tag = "providers", summary = "List providers",
    responses((status = 200, description = "Providers", body = List<wire::Provider>)))]
async fn list_providers(State(state): State<AppState>, Org(org): Org) -> ApiResult<Response> {
    let providers = state.stores.providers.list_providers(org).await?;
    Ok(Json(json!({ "data": providers })).into_response())
}

#[utoipa::path(post, path = "/v1/providers", operation_id = "create_provider", tag = "providers",
    summary = "Create a provider (the key is encrypted and never returned)", request_body = wire::CreateProviderRequest,
    responses((status = 201, description = "The provider", body = wire::Provider)))]
async fn create_provider(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<ProviderInput>,
) -> ApiResult<Response> {
    let provider = models::create_provider(&state, org, input).await?;
    Ok((StatusCode::CREATED, Json(provider)).into_response())
}

#[utoipa::path(get, path = "/v1/providers/{id}", operation_id = "get_provider", tag = "providers", summary = "Get a provider",
    params(ProviderIdParam), responses((status = 200, description = "The provider", body = wire::Provider)))]
async fn read_provider(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(models::find_provider(&state, org, &id).await?).into_response())
}

#[utoipa::path(patch, path = "/v1/providers/{id}", operation_id = "update_provider", tag = "providers", summary = "Update a provider",
    params(ProviderIdParam), request_body = wire::UpdateProviderRequest, responses((status = 200, description = "The provider", body = wire::Provider)))]
async fn patch_provider(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ProviderInput>,
) -> ApiResult<Response> {
    Ok(Json(models::patch_provider(&state, org, &id, input).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/providers/{id}", operation_id = "delete_provider", tag = "providers",
    summary = "Delete a provider and its models", params(ProviderIdParam), responses((status = 204, description = "Deleted")))]
async fn delete_provider(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let provider = models::find_provider(&state, org, &id).await?;
    state.stores.providers.delete_provider(org, provider.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/providers/{provider_id}/models", operation_id = "list_provider_models", tag = "models",
    summary = "List a provider's models", params(ProviderModelsParam), responses((status = 200, description = "Models", body = List<wire::Model>)))]
async fn list_provider_models(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let provider = models::find_provider(&state, org, &id).await?;
    let models = state.stores.providers.list_models(org, Some(provider.id)).await?;
    Ok(Json(json!({ "data": models })).into_response())
}

#[utoipa::path(post, path = "/v1/providers/{provider_id}/models", operation_id = "create_provider_model", tag = "models",
    summary = "Add a model to a provider", params(ProviderModelsParam), request_body = wire::CreateModelRequest,
    responses((status = 201, description = "The model", body = wire::Model)))]
async fn create_model(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult<Response> {
    let model = models::create_model(&state, org, &id, input).await?;
    Ok((StatusCode::CREATED, Json(model)).into_response())
}
