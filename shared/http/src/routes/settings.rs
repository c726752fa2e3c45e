//! `/v1/organization/settings`: the caller's organization settings (the org default model).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::extract::{ApiJson, Org};
use crate::error::ApiResult;
use crate::schemas::models as wire;
use crate::state::AppState;
use everruns_services::settings::{self, OrgSettingsInput};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/organization/settings", get(read_settings).patch(patch_settings))
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(read_settings, patch_settings))]
pub(super) struct Doc;

#[utoipa::path(get, path = "/v1/organization/settings", operation_id = "get_organization_settings", tag = "models",
    summary = "Get the organization's settings (its default model)",
    responses((status = 200, description = "The settings", body = wire::OrganizationSettings)))]
async fn read_settings(State(state): State<AppState>, Org(org): Org) -> ApiResult<Response> {
    Ok(Json(settings::get(&state, org).await?).into_response())
}

#[utoipa::path(patch, path = "/v1/organization/settings", operation_id = "update_organization_settings", tag = "models",
    summary = "Change the organization's settings", request_body = wire::UpdateOrganizationSettingsRequest,
    responses((status = 200, description = "The settings", body = wire::OrganizationSettings)))]
async fn patch_settings(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<OrgSettingsInput>,
) -> ApiResult<Response> {
    Ok(Json(settings::patch(&state, org, input).await?).into_response())
}
