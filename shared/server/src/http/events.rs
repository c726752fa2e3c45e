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

use super::extract::{ApiQuery, Org};
use crate::error::{ApiError, ApiResult};
use crate::services::sessions;
use crate::sse::{StreamParams, TypeFilter};
use crate::state::AppState;

/// The routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions/{session_id}/events", get(list))
        .route("/v1/sessions/{session_id}/sse", get(stream))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    since_id: Option<String>,
    after_sequence: Option<i64>,
    before_sequence: Option<i64>,
    limit: Option<u32>,
    #[serde(default)]
    types: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

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
