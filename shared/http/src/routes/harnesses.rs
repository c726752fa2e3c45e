//! `/v1/harnesses` and `/v1/harness-examples`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, OpenApi};

use super::extract::{ApiJson, ApiQuery, Org};
use crate::error::ApiResult;
use crate::schemas::common::List;
use crate::schemas::harnesses as wire;
use crate::schemas::params::HarnessRef;
use crate::state::AppState;
use everruns_services::harnesses::{self, HarnessInput};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/harnesses", get(list).post(create))
        .route("/v1/harnesses/{harness_id}", get(read).patch(patch).delete(delete))
        .route("/v1/harness-examples", get(examples))
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list, create, read, patch, delete, examples))]
pub(super) struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Matches names, display names and descriptions.
    search: Option<String>,
    /// Include archived harnesses.
    include_archived: Option<bool>,
}

#[utoipa::path(get, path = "/v1/harnesses", operation_id = "list_harnesses", tag = "harnesses", summary = "List harnesses",
    params(ListParams), responses((status = 200, description = "Harnesses", body = List<wire::Harness>)))]
async fn list(State(state): State<AppState>, Org(org): Org, ApiQuery(q): ApiQuery<ListParams>) -> ApiResult<Response> {
    let items = harnesses::list(&state, org, q.search, q.include_archived.unwrap_or(false)).await?;
    Ok(Json(json!({ "data": items })).into_response())
}

#[utoipa::path(post, path = "/v1/harnesses", operation_id = "create_harness", tag = "harnesses", summary = "Create a harness",
    request_body = wire::CreateHarnessRequest, responses((status = 201, description = "The harness", body = wire::Harness)))]
async fn create(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<HarnessInput>,
) -> ApiResult<Response> {
    let harness = harnesses::create(&state, org, input).await?;
    Ok((StatusCode::CREATED, Json(harness)).into_response())
}

#[utoipa::path(get, path = "/v1/harnesses/{harness_id}", operation_id = "get_harness", tag = "harnesses",
    summary = "Get a harness by id or name", params(HarnessRef), responses((status = 200, description = "The harness", body = wire::Harness)))]
async fn read(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(harnesses::find(&state, org, &id).await?).into_response())
}

#[utoipa::path(patch, path = "/v1/harnesses/{harness_id}", operation_id = "update_harness", tag = "harnesses",
    summary = "Update a harness (built-ins are read-only: 403)", params(HarnessRef), request_body = wire::UpdateHarnessRequest,
    responses((status = 200, description = "The harness", body = wire::Harness)))]
async fn patch(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<HarnessInput>,
) -> ApiResult<Response> {
    Ok(Json(harnesses::patch(&state, org, &id, input).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/harnesses/{harness_id}", operation_id = "delete_harness", tag = "harnesses",
    summary = "Archive a harness (built-ins cannot be: 403)", params(HarnessRef), responses((status = 204, description = "Archived")))]
async fn delete(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    harnesses::archive(&state, org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/harness-examples", operation_id = "list_harness_examples", tag = "harnesses",
    summary = "Harness examples", responses((status = 200, description = "Examples (a bare array)", body = Vec<wire::HarnessExample>)))]
async fn examples(State(state): State<AppState>) -> Json<serde_json::Value> {
    let registry = state.platform.capability_registry();
    let examples: Vec<_> = state
        .platform
        .built_in_harnesses()
        .iter()
        .map(|t| {
            let capabilities: Vec<_> = t
                .capabilities
                .iter()
                .filter(|c| registry.get(&c.id).is_some())
                .map(|c| json!({"ref": c.id, "config": c.config}))
                .collect();
            let dev_only = t.capabilities.iter().any(|c| registry.get(&c.id).is_some_and(|cap| cap.is_experimental()));
            json!({
                "name": t.name,
                "display_name": t.display_name,
                "description": t.description,
                "capabilities": capabilities,
                "tags": t.tags,
                "dev_only": dev_only,
                "parent_name": t.parent,
            })
        })
        .collect();
    Json(json!(examples))
}
