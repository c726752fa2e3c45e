//! `/v1/sessions`: CRUD, cancel, messages, client tool results.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use everruns_core::domain::{ContentPart, MessageRole};
use everruns_core::events::EventPayload;
use everruns_core::ids::AgentId;
use everruns_core::ports::{EventFilter, SessionFilter};
use everruns_core::turns::{CancelOutcome, ToolResultInput};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiJson, ApiQuery, BaseUrl, Org};
use super::paginated;
use crate::error::{ApiError, ApiResult};
use crate::services::page_bounds;
use crate::services::sessions::{self, CreateMessageInput, SessionInput};
use crate::state::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", get(list).post(create))
        .route("/v1/sessions/{session_id}", get(read).patch(patch).delete(delete))
        .route("/v1/sessions/{session_id}/cancel", post(cancel))
        .route("/v1/sessions/{session_id}/messages", get(list_messages).post(post_message))
        .route("/v1/sessions/{session_id}/tool-results", post(tool_results))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    agent_id: Option<String>,
    search: Option<String>,
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
    let agent_id = q.agent_id.as_deref().map(AgentId::parse).transpose()?;
    let filter = SessionFilter { agent_id, search: q.search, offset, limit };
    let page = state.stores.sessions.list_sessions(org, &filter).await?;
    Ok(paginated(&base, "/v1/sessions", page.items, page.total, offset, limit))
}

async fn create(
    State(state): State<AppState>,
    Org(org): Org,
    ApiJson(input): ApiJson<SessionInput>,
) -> ApiResult<Response> {
    let session = sessions::create(&state, org, input).await?;
    Ok((StatusCode::CREATED, Json(session)).into_response())
}

async fn read(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    Ok(Json(sessions::find(&state, org, &id).await?).into_response())
}

async fn patch(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SessionInput>,
) -> ApiResult<Response> {
    Ok(Json(sessions::patch(&state, org, &id, input).await?).into_response())
}

async fn delete(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let session = sessions::find(&state, org, &id).await?;
    if session.status.is_busy() {
        state.turns.cancel(org, session.id).await?;
    }
    state.stores.sessions.delete_session(org, session.id).await?;
    state.sse.close_session(session.id, "session_deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn cancel(State(state): State<AppState>, Org(org): Org, Path(id): Path<String>) -> ApiResult<Response> {
    let session = sessions::find(&state, org, &id).await?;
    let outcome = state.turns.cancel(org, session.id).await?;
    let body = match outcome {
        CancelOutcome::Cancelled => json!({"status": "cancelled", "message": "Turn cancelled successfully"}),
        CancelOutcome::NoOp => json!({"status": "no_op", "message": "No turn is running"}),
    };
    Ok(Json(body).into_response())
}

async fn post_message(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CreateMessageInput>,
) -> ApiResult<Response> {
    let message = sessions::post_message(&state, org, &id, input).await?;
    Ok((StatusCode::CREATED, Json(message)).into_response())
}

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
