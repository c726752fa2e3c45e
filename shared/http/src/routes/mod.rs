//! The HTTP surface: REST routes under `API_PREFIX` (and, for SDK compatibility, at the root),
//! root routes (`/health`, `/api-doc/openapi.json`, OAuth's `/oauth/*`, `/.well-known/*` and
//! `/cli/login-success`, the MCP endpoint `/mcp`), and the middleware every request passes:
//! `X-Request-Id`, per-IP rate limiting, CORS, the body limit, authentication (REST routes), and
//! JSON 404/405 answers.

mod agents;
mod auth;
mod capabilities;
mod events;
pub mod extract;
mod harnesses;
pub mod limits;
mod middleware;
mod models;
mod oauth;
pub mod openapi;
mod sessions;
mod settings;
mod ui;

use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use extract::{ApiPrefix, BaseUrl};

/// The REST routes (paths start with `/v1`), without state.
pub fn api_routes() -> Router<AppState> {
    Router::new()
        .merge(agents::routes())
        .merge(harnesses::routes())
        .merge(models::routes())
        .merge(sessions::routes())
        .merge(settings::routes())
        .merge(events::routes())
        .merge(capabilities::routes())
        .merge(auth::routes())
}

/// The REST operations of every module (paths start with `/v1`), for the OpenAPI document.
pub fn api_doc() -> utoipa::openapi::OpenApi {
    use utoipa::OpenApi;
    let mut doc = agents::Doc::openapi();
    for other in [
        harnesses::Doc::openapi(),
        models::Doc::openapi(),
        sessions::Doc::openapi(),
        settings::Doc::openapi(),
        events::Doc::openapi(),
        capabilities::Doc::openapi(),
        auth::Doc::openapi(),
    ] {
        doc.merge(other);
    }
    doc
}

/// The whole router: `custom` routes are merged into the REST routes.
pub fn router(state: AppState, custom: Router) -> Router {
    let prefix = state.config.api_prefix.clone();
    // Every REST route (custom ones included) runs as an authenticated caller; the auth
    // configuration and sign-up are merged after the layer, so they need no credentials.
    let api = api_routes()
        .with_state(state.clone())
        .merge(custom)
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), middleware::authenticate))
        .merge(auth::public_routes().with_state(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let prefixed = |p: &str| api.clone().layer(axum::Extension(ApiPrefix(p.to_owned())));
    let mut app = Router::new()
        .route("/health", get(health))
        .route("/api-doc/openapi.json", get(openapi::document))
        .merge(ui::routes())
        .merge(oauth::routes(&state))
        .merge(mcp_routes(&state))
        .with_state(state.clone());
    if prefix.is_empty() {
        app = app.merge(prefixed(""));
    } else {
        app = app.nest(&prefix, prefixed(&prefix)).merge(prefixed(""));
    }
    let app = app.fallback(not_found);
    middleware::wrap(app, &state)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .layer(axum::Extension(extract::BodyLimit(state.config.body_limit_bytes)))
}

/// `/mcp` where this build serves it; elsewhere (the split's API function) a JSON 404 that says
/// where it is.
fn mcp_routes(state: &AppState) -> Router<AppState> {
    #[cfg(feature = "mcp")]
    {
        crate::mcp::routes(state)
    }
    #[cfg(not(feature = "mcp"))]
    {
        let _ = state;
        Router::new().route(
            "/mcp",
            axum::routing::any(|| async {
                ApiError::NotFound {
                    code: "mcp_not_served_here".into(),
                    message: "this function does not serve /mcp: the split routes it to the SSE bridge".into(),
                }
                .into_response()
            }),
        )
    }
}

/// `GET /health`.
#[utoipa::path(get, path = "/health", operation_id = "health", tag = "system", summary = "Liveness", security(()),
    responses((status = 200, description = "ok", body = Object)))]
pub async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "mode": if state.config.dev_mode { "dev" } else { "server" },
        "auth_mode": state.config.auth_mode.as_str(),
    }))
}

async fn not_found(uri: axum::http::Uri) -> Response {
    ApiError::NotFound { code: "route_not_found".into(), message: format!("no route for {}", uri.path()) }
        .into_response()
}

async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    ApiError::MethodNotAllowed(format!("method {method} is not allowed on {}", uri.path())).into_response()
}

/// A paginated envelope with absolute `next_url`/`prev_url`.
pub fn paginated<T: Serialize>(
    base: &BaseUrl,
    path: &str,
    items: Vec<T>,
    total: u64,
    offset: u32,
    limit: u32,
) -> Response {
    let mut body = json!({ "data": items, "total": total, "offset": offset, "limit": limit });
    if u64::from(offset) + u64::from(limit) < total {
        body["next_url"] = json!(format!("{}{path}?offset={}&limit={limit}", base.0, offset + limit));
    }
    if offset > 0 {
        body["prev_url"] = json!(format!("{}{path}?offset={}&limit={limit}", base.0, offset.saturating_sub(limit)));
    }
    Json(body).into_response()
}
