//! `/v1/sessions`: CRUD, cancel, messages, client tool results.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use everruns_core::domain::{ContentPart, MessageRole};
use everruns_core::events::EventPayload;
use everruns_core::ids::{AgentId, SessionId};
use everruns_core::ports::{EventFilter, SessionFilter};
use everruns_core::turns::{CancelOutcome, ToolResultInput};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, OpenApi};

use super::extract::{ApiJson, ApiQuery, BaseUrl, Org};
use super::paginated;
use crate::error::{ApiError, ApiResult};
use crate::schemas::common::{List, Page};
use crate::schemas::params::SessionIdParam;
use crate::schemas::sessions as wire;
use crate::state::AppState;
use everruns_services::page_bounds;
use everruns_services::sessions::{self, CreateMessageInput, SessionInput};

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", get(list).post(create))
        .route("/v1/sessions/{session_id}", get(read).patch(patch).delete(delete))
        .route("/v1/sessions/{session_id}/cancel", post(cancel))
        .route("/v1/sessions/{session_id}/messages", get(list_messages).post(post_message))
        .route("/v1/sessions/{session_id}/tool-results", post(tool_results))
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list, create, read, patch, delete, cancel, list_messages, post_message, tool_results))]
pub(super) struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only sessions of this agent.
    #[param(pattern = "^agent_[0-9a-f]{32}$")]
    agent_id: Option<String>,
    /// Matches titles and previews.
    search: Option<String>,
    /// The index of the first item.
    offset: Option<u32>,
    /// The page size.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/v1/sessions", operation_id = "list_sessions", tag = "sessions", summary = "List sessions",
    params(ListParams), responses((status = 200, description = "Sessions", body = Page<wire::Session>)))]
async fn list(
    State(state): State<AppState>,
    Org(org): Org,
    base: BaseUrl,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let (offset, limit) = page_bounds(q.offset, q.limit)?;
    let agent_id = q.agent_id.as_deref().map(AgentId::parse).transpose()?;
    let filter = SessionFilter { agent_id, search: q.search, offset, limit };
    let page = state.stores.sessions.list_sessions(org, &filter).await?;
    Ok(paginated(&base, "/v1/sessions", page.items, page.total, offset, limit))
}

#[utoipa::path(post, path = "/v1/sessions", operation_id = "create_session", tag = "sessions", summary = "Create a session",
    request_body = wire::CreateSessionRequest, responses((status = 201, description = "The session", body = wire::Session)))]
async fn create(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<SessionInput>,
) -> ApiResult<Response> {
    let session = sessions::create(&state, org, input).await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}", operation_id = "get_session", tag = "sessions", summary = "Get a session",
    params(SessionIdParam), responses((status = 200, description = "The session", body = wire::Session)))]
async fn read(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(sessions::find(&state, org, &id).await?).into_response())
}

#[utoipa::path(patch, path = "/v1/sessions/{session_id}", operation_id = "update_session", tag = "sessions", summary = "Update a session",
    params(SessionIdParam), request_body = wire::UpdateSessionRequest, responses((status = 200, description = "The session", body = wire::Session)))]
async fn patch(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SessionInput>,
) -> ApiResult<Response> {
    Ok(Json(sessions::patch(&state, org, &id, input).await?).into_response())
}

#[utoipa::path(delete, path = "/v1/sessions/{session_id}", operation_id = "delete_session", tag = "sessions",
    summary = "Delete a session (cancels its turn)", params(SessionIdParam), responses((status = 204, description = "Deleted")))]
async fn delete(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = SessionId::parse(&id)?;
    // The common case is one write: a session with no turn running goes at once. Otherwise it is
    // read (404 when absent), its turn cancelled, then deleted.
    if !state.stores.sessions.delete_settled_session(org, id).await? {
        let session = sessions::find(&state, org, &id.to_string()).await?;
        if session.status.is_busy() {
            state.turns.cancel(org, session.id).await?;
        }
        state.stores.sessions.delete_session(org, session.id).await?;
    }
    state.turns.forget_session(id);
    state.sse.close_session(id, "session_deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/sessions/{session_id}/cancel", operation_id = "cancel_turn", tag = "sessions",
    summary = "Cancel the running turn", params(SessionIdParam),
    responses((status = 200, description = "Cancelled or no-op", body = wire::CancelTurnResponse)))]
async fn cancel(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    let session = sessions::find(&state, org, &id).await?;
    let outcome = state.turns.cancel(org, session.id).await?;
    let body = match outcome {
        CancelOutcome::Cancelled => json!({"status": "cancelled", "message": "Turn cancelled successfully"}),
        CancelOutcome::NoOp => json!({"status": "no_op", "message": "No turn is running"}),
    };
    Ok(Json(body).into_response())
}

#[utoipa::path(post, path = "/v1/sessions/{session_id}/messages", operation_id = "create_message", tag = "messages",
    summary = "Post a user message and start a turn", params(SessionIdParam), request_body = wire::CreateMessageRequest,
    responses((status = 201, description = "The stored user message", body = wire::Message)))]
async fn post_message(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CreateMessageInput>,
) -> ApiResult<Response> {
    let message = sessions::post_message(&state, org, &id, input).await?;
    Ok((StatusCode::CREATED, Json(message)).into_response())
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}/messages", operation_id = "list_messages", tag = "messages",
    summary = "List messages", params(SessionIdParam), responses((status = 200, description = "Messages", body = List<wire::Message>)))]
async fn list_messages(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    let session = sessions::find(&state, org, &id).await?;
    let filter = EventFilter {
        types: vec!["input.message".into(), "output.message.completed".into(), "tool.completed".into()],
        ..EventFilter::default()
    };
    let events = state.stores.events.list_events(session.id, &filter).await?;
    let mut data = Vec::with_capacity(events.len());
    for event in events {
        let mut value = match event.payload {
            EventPayload::InputMessage(d) => serde_json::to_value(d.message),
            EventPayload::OutputMessageCompleted(d) => serde_json::to_value(d.message),
            EventPayload::ToolCompleted(d) => {
                let result = d.result.as_deref().map(everruns_core::context::result_value);
                Ok(json!({
                    "id": format!("message_{}", event.id.uuid().simple()),
                    "role": MessageRole::ToolResult,
                    "content": [ContentPart::ToolResult { tool_call_id: d.tool_call_id, result, error: d.error }],
                    "created_at": event.ts,
                }))
            }
            _ => continue,
        }
        .map_err(|e| ApiError::Internal(e.to_string()))?;
        value["session_id"] = json!(session.id);
        value["sequence"] = json!(event.sequence);
        data.push(value);
    }
    Ok(Json(json!({ "data": data })).into_response())
}

#[derive(Debug, Deserialize)]
struct ToolResultsBody {
    tool_results: Vec<ToolResultBody>,
}

#[derive(Debug, Deserialize)]
struct ToolResultBody {
    tool_call_id: String,
    result: Option<Value>,
    error: Option<String>,
}

#[utoipa::path(post, path = "/v1/sessions/{session_id}/tool-results", operation_id = "submit_tool_results", tag = "messages",
    summary = "Submit client-side tool results (409 when the turn no longer waits on them)", params(SessionIdParam),
    request_body = wire::SubmitToolResultsRequest, responses((status = 200, description = "Accepted", body = wire::SubmitToolResultsResponse)))]
async fn tool_results(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ToolResultsBody>,
) -> ApiResult<Response> {
    let session = sessions::find(&state, org, &id).await?;
    let results = body
        .tool_results
        .into_iter()
        .map(|r| ToolResultInput { tool_call_id: r.tool_call_id, result: r.result, error: r.error })
        .collect();
    let (accepted, _task) = state.turns.submit_tool_results(org, session.id, results).await?;
    Ok(Json(json!({"accepted": accepted, "status": "active"})).into_response())
}
