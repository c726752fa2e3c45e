//! `/v1/agents`: CRUD with upsert, copy, export and import.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use everruns_core::ports::ListQuery;
use serde::Deserialize;

use super::extract::{ApiJson, ApiQuery, ApiText, BaseUrl, Org};
use super::paginated;
use crate::error::{ApiError, ApiResult};
use crate::services::agents::{self, AgentInput, parse_agent_id};
use crate::services::page_bounds;
use crate::state::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/agents", get(list).post(create))
        .route("/v1/agents/import", post(import))
        .route("/v1/agents/{agent_id}", get(read).put(put).patch(patch).delete(delete))
        .route("/v1/agents/{agent_id}/copy", post(copy))
        .route("/v1/agents/{agent_id}/export", get(export))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    search: Option<String>,
    include_archived: Option<bool>,
    offset: Option<u32>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    Org(org): Org,
    base: BaseUrl,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let (offset, limit) = page_bounds(q.offset, q.limit)?;
    let query =
        ListQuery { search: q.search.clone(), include_archived: q.include_archived.unwrap_or(false), offset, limit };
    let page = agents::list(&state, org, query).await?;
    Ok(paginated(&base, "/v1/agents", page.items, page.total, offset, limit))
}

fn created_or_ok(created: bool) -> StatusCode {
    if created { StatusCode::CREATED } else { StatusCode::OK }
}

async fn create(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Response> {
    let (agent, created) = agents::upsert(&state, org, input, None).await?;
    Ok((created_or_ok(created), Json(agent)).into_response())
}

async fn put(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Response> {
    let id = parse_agent_id(&id)?;
    let (agent, created) = agents::upsert(&state, org, input, Some(id)).await?;
    Ok((created_or_ok(created), Json(agent)).into_response())
}

async fn read(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(agents::find(&state, org, &id).await?).into_response())
}

async fn patch(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Response> {
    let id = parse_agent_id(&id)?;
    Ok(Json(agents::patch(&state, org, id, input).await?).into_response())
}

async fn delete(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    agents::archive(&state, org, parse_agent_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn copy(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    let agent = agents::copy(&state, org, parse_agent_id(&id)?).await?;
    Ok((StatusCode::CREATED, Json(agent)).into_response())
}

async fn export(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    let markdown = agents::export(&state, org, parse_agent_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], markdown).into_response())
}

#[derive(Debug, Deserialize)]
struct ImportParams {
    #[serde(rename = "from-example")]
    from_example: Option<String>,
}

async fn import(
    State(state): State<AppState>,
    Org(org): Org,
    ApiQuery(params): ApiQuery<ImportParams>,
    ApiText(body): ApiText,
) -> ApiResult<Response> {
    if let Some(example) = params.from_example {
        return Err(ApiError::not_found("agent_example", example));
    }
    if body.trim().is_empty() {
        return Err(ApiError::bad_request("the import body is empty"));
    }
    let (agent, created) = agents::import(&state, org, &body).await?;
    Ok((created_or_ok(created), Json(agent)).into_response())
}
