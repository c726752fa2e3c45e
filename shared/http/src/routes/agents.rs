//! `/v1/agents`: CRUD with upsert, copy, export and import.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use everruns_core::ports::ListQuery;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use super::extract::{ApiJson, ApiQuery, ApiText, BaseUrl, Org};
use super::paginated;
use crate::error::{ApiError, ApiResult};
use crate::schemas::agents as wire;
use crate::schemas::common::Page;
use crate::schemas::params::{AgentIdParam, AgentRef};
use crate::state::AppState;
use everruns_services::agents::{self, AgentInput, parse_agent_id};
use everruns_services::page_bounds;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/agents", get(list).post(create))
        .route("/v1/agents/import", post(import))
        .route("/v1/agents/{agent_id}", get(read).put(put).patch(patch).delete(delete))
        .route("/v1/agents/{agent_id}/copy", post(copy))
        .route("/v1/agents/{agent_id}/export", get(export))
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list, create, import, read, put, patch, delete, copy, export))]
pub(super) struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Matches names, display names and descriptions.
    search: Option<String>,
    /// Include archived agents.
    include_archived: Option<bool>,
    /// The index of the first item.
    offset: Option<u32>,
    /// The page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/agents", operation_id = "list_agents", tag = "agents", summary = "List agents",
    params(ListParams), responses((status = 200, description = "Agents", body = Page<wire::Agent>)))]
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

#[utoipa::path(post, path = "/v1/agents", operation_id = "create_agent", tag = "agents",
    summary = "Create or update (upsert by id or name) an agent", request_body = wire::CreateAgentRequest,
    responses((status = 201, description = "Created", body = wire::Agent), (status = 200, description = "Updated", body = wire::Agent)))]
async fn create(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Response> {
    let (agent, created) = agents::upsert(&state, org, input, None).await?;
    Ok((created_or_ok(created), Json(agent)).into_response())
}

#[utoipa::path(put, path = "/v1/agents/{agent_id}", operation_id = "put_agent", tag = "agents",
    summary = "Create or replace an agent with this id", params(AgentIdParam), request_body = wire::CreateAgentRequest,
    responses((status = 201, description = "Created", body = wire::Agent), (status = 200, description = "Replaced", body = wire::Agent)))]
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

#[utoipa::path(get, path = "/v1/agents/{agent_id}", operation_id = "get_agent", tag = "agents",
    summary = "Get an agent by id or name", params(AgentRef), responses((status = 200, description = "The agent", body = wire::Agent)))]
async fn read(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(agents::find(&state, org, &id).await?).into_response())
}

#[utoipa::path(patch, path = "/v1/agents/{agent_id}", operation_id = "update_agent", tag = "agents",
    summary = "Update an agent", params(AgentIdParam), request_body = wire::UpdateAgentRequest,
    responses((status = 200, description = "The agent", body = wire::Agent)))]
async fn patch(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<AgentInput>,
) -> ApiResult<Response> {
    let id = parse_agent_id(&id)?;
    Ok(Json(agents::patch(&state, org, id, input).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/agents/{agent_id}", operation_id = "delete_agent", tag = "agents",
    summary = "Archive an agent", params(AgentIdParam), responses((status = 204, description = "Archived")))]
async fn delete(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    agents::archive(&state, org, parse_agent_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/agents/{agent_id}/copy", operation_id = "copy_agent", tag = "agents",
    summary = "Copy an agent", params(AgentIdParam), responses((status = 201, description = "The copy", body = wire::Agent)))]
async fn copy(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    let agent = agents::copy(&state, org, parse_agent_id(&id)?).await?;
    Ok((StatusCode::CREATED, Json(agent)).into_response())
}

#[utoipa::path(get, path = "/v1/agents/{agent_id}/export", operation_id = "export_agent", tag = "agents",
    summary = "Export an agent as Markdown", params(AgentIdParam),
    responses((status = 200, description = "Markdown with YAML front matter", body = String, content_type = "text/markdown")))]
async fn export(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    let markdown = agents::export(&state, org, parse_agent_id(&id)?).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], markdown).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ImportParams {
    /// Import a built-in example by name.
    #[serde(rename = "from-example")]
    from_example: Option<String>,
}

#[utoipa::path(post, path = "/v1/agents/import", operation_id = "import_agent", tag = "agents",
    summary = "Import an agent from Markdown with YAML front matter, YAML, JSON or plain text", params(ImportParams),
    request_body(content = String, content_type = "text/plain"),
    responses((status = 201, description = "Imported", body = wire::Agent), (status = 200, description = "Updated", body = wire::Agent)))]
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
