//! `/v1/harnesses` and `/v1/harness-examples`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::extract::{ApiJson, ApiQuery, Org};
use crate::error::ApiResult;
use crate::services::harnesses::{self, HarnessInput};
use crate::state::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/harnesses", get(list).post(create))
        .route("/v1/harnesses/{harness_id}", get(read).patch(patch).delete(delete))
        .route("/v1/harness-examples", get(examples))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    search: Option<String>,
    include_archived: Option<bool>,
}

async fn list(State(state): State<AppState>, Org(org): Org, ApiQuery(q): ApiQuery<ListParams>) -> ApiResult<Response> {
    let items = harnesses::list(&state, org, q.search, q.include_archived.unwrap_or(false)).await?;
    Ok(Json(json!({ "data": items })).into_response())
}

async fn create(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<HarnessInput>,
) -> ApiResult<Response> {
    let harness = harnesses::create(&state, org, input).await?;
    Ok((StatusCode::CREATED, Json(harness)).into_response())
}

async fn read(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(harnesses::find(&state, org, &id).await?).into_response())
}

async fn patch(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<HarnessInput>,
) -> ApiResult<Response> {
    Ok(Json(harnesses::patch(&state, org, &id, input).await?).into_response())
}

async fn delete(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    harnesses::archive(&state, org, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
