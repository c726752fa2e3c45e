//! The management UI at the root, on the same origin as the API: `/` is its page (never cached,
//! so a deploy is picked up at once) and `/assets/…` its content-hashed bundles (cached for a
//! year). The page may load only from this origin.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;

/// The page may run its own scripts and styles, call this origin (REST and SSE), and nothing else.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
    connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The UI's routes (no state, no authentication: the page signs in through the API).
pub(super) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { serve("/") }))
        .route("/assets/{*path}", get(|Path(path): Path<String>| async move { serve(&format!("/assets/{path}")) }))
}

fn serve(path: &str) -> Response {
    let Some(asset) = everruns_ui::asset(path) else {
        return ApiError::NotFound { code: "asset_not_found".into(), message: format!("no UI asset at {path}") }
            .into_response();
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if asset.immutable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    } else {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    }
    response
}
