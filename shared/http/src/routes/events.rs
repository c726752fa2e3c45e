//! `/v1/sessions/{id}/events` (JSON list) and `/v1/sessions/{id}/sse` (live stream).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use everruns_core::ids::EventId;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, OpenApi};

use super::extract::{ApiQuery, Org};
use crate::error::{ApiError, ApiResult};
use crate::schemas::common::List;
use crate::schemas::params::SessionIdParam;
use crate::schemas::sessions::{Event, SseEvent};
use crate::sse::{StreamParams, TypeFilter};
use crate::state::AppState;
use everruns_services::sessions;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{session_id}/events", get(list))
        .route("/v1/sessions/{session_id}/sse", get(stream))
}

/// The operations, for the OpenAPI document.
#[derive(OpenApi)]
#[openapi(paths(list, stream))]
pub(super) struct Doc;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only events after this one.
    #[param(pattern = "^event_[0-9a-f]{32}$")]
    since_id: Option<String>,
    /// Only events with a greater sequence.
    after_sequence: Option<i64>,
    /// Only events with a smaller sequence.
    before_sequence: Option<i64>,
    /// At most this many (the total is in `X-Total-Count`).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Only these types.
    #[serde(default)]
    #[param(style = Form, explode, max_items = 64)]
    types: Vec<String>,
    /// Not these types.
    #[serde(default)]
    #[param(style = Form, explode, max_items = 64)]
    exclude: Vec<String>,
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}/events", operation_id = "list_events", tag = "events",
    summary = "List persisted events", params(SessionIdParam, ListParams),
    responses((status = 200, description = "Events", body = List<Event>)))]
async fn list(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ListParams>,
) -> ApiResult<Response> {
    let filter_types = TypeFilter::new(&q.types, &q.exclude)?;
    if let Some(limit) = q.limit
        && !(1..=1000).contains(&limit)
    {
        return Err(ApiError::bad_request(format!("limit must be between 1 and 1000 (got {limit})")));
    }
    let session = sessions::find(&state, org, &id).await?;
    let mut filter = filter_types.to_event_filter();
    filter.after_sequence = q.after_sequence;
    filter.before_sequence = q.before_sequence;
    filter.limit = q.limit;
    if let Some(since) = q.since_id.as_deref() {
        let since = EventId::parse(since)?;
        match state.stores.events.get_event(session.id, since).await? {
            Some(event) => filter.after_sequence = filter.after_sequence.max(event.sequence),
            None => filter.after_id = Some(since),
        }
    }
    let events = state.stores.events.list_events(session.id, &filter).await?;
    let mut response = Json(json!({ "data": events })).into_response();
    if q.limit.is_some() {
        let total = state.stores.events.list_events(session.id, &Default::default()).await?.len();
        if let Ok(value) = HeaderValue::from_str(&total.to_string()) {
            response.headers_mut().insert("x-total-count", value);
        }
    }
    Ok(response)
}

#[utoipa::path(get, path = "/v1/sessions/{session_id}/sse", operation_id = "stream_events", tag = "events",
    summary = "Stream events (server-sent events)", params(SessionIdParam, StreamParams),
    responses((status = 200, description = "`connected`, events, `: heartbeat` comments and `disconnecting`",
        body = SseEvent, content_type = "text/event-stream")))]
async fn stream(
    State(state): State<AppState>,
    Org(org): Org,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<StreamParams>,
) -> ApiResult<Response> {
    let stream = crate::sse::open(&state, org, &id, &q).await?;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}
