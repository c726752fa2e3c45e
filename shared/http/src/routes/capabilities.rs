//! `/v1/capabilities`: the capabilities this deployment exposes (experimental ones only in `dev`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use everruns_core::Capability;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi};

use super::extract::{ApiQuery, BaseUrl};
use super::paginated;
use crate::error::{ApiError, ApiResult};
use crate::schemas::auth::CapabilityInfo;
use crate::schemas::common::Page;
use crate::schemas::params::CapabilityIdParam;
use crate::state::AppState;
use everruns_services::page_bounds;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/capabilities", get(list)).route("/v1/capabilities/{capability_id}", get(read))
}

fn info(capability: &dyn Capability) -> Value {
    let config = json!({});
    let mut value = serde_json::to_value(capability.info()).unwrap_or_default();
    value["is_mcp"] = json!(false);
    value["is_skill"] = json!(false);
    if let Some(prompt) = capability.system_prompt_contribution(&config) {
        value["system_prompt"] = json!(prompt);
    }
    let tools: Vec<_> = capability
        .tools(&config)
        .into_iter()
        .map(|t| json!({"name": t.name, "description": t.description, "parameters": t.parameters}))
        .collect();
    value["tool_definitions"] = json!(tools);
    value
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list, read))]
pub(super) struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Matches ids, names and descriptions.
    search: Option<String>,
    /// The index of the first item.
    offset: Option<u32>,
    /// The page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/capabilities", operation_id = "list_capabilities", tag = "capabilities",
    summary = "List capabilities", params(ListParams),
    responses((status = 200, description = "Capabilities", body = Page<CapabilityInfo>)))]
async fn list(State(state): State<AppState>, base: BaseUrl, ApiQuery(q): ApiQuery<ListParams>) -> ApiResult<Response> {
    let (offset, limit) = page_bounds(q.offset, q.limit)?;
    let needle = q.search.map(|s| s.to_lowercase());
    let all: Vec<Value> = state
        .platform
        .capability_registry()
        .visible(state.config.grade)
        .filter(|c| {
            let info = c.info();
            needle.as_ref().is_none_or(|n| {
                info.id.to_lowercase().contains(n)
                    || info.name.to_lowercase().contains(n)
                    || info.description.to_lowercase().contains(n)
            })
        })
        .map(|c| info(c.as_ref()))
        .collect();
    let total = all.len() as u64;
    let items = all.into_iter().skip(offset as usize).take(limit as usize).collect();
    Ok(paginated(&base, "/v1/capabilities", items, total, offset, limit))
}

#[utoipa::path(get, path = "/v1/capabilities/{capability_id}", operation_id = "get_capability", tag = "capabilities",
    summary = "Get a capability", params(CapabilityIdParam), responses((status = 200, description = "The capability", body = CapabilityInfo)))]
async fn read(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    let registry = state.platform.capability_registry();
    match registry.get(&id).filter(|_| registry.is_visible(&id, state.config.grade)) {
        Some(capability) => Ok(Json(info(capability.as_ref())).into_response()),
        None => Err(ApiError::not_found("capability", id)),
    }
}
