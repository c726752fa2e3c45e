//! What the root endpoints MCP clients call share: the public origin a request speaks to (OAuth's
//! issuer, from `AUTH_BASE_URL` or the forwarded host) and the open CORS policy of endpoints any
//! origin may call without credentials.

use axum::http::{HeaderMap, header};
use everruns_services::oauth::Issuer;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::state::AppState;

/// CORS for endpoints any origin may call without credentials (metadata, token, registration, MCP).
pub(crate) fn open_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(AllowMethods::any())
        .allow_headers(AllowHeaders::any())
        .expose_headers([header::WWW_AUTHENTICATE, header::HeaderName::from_static("mcp-session-id")])
}

/// The issuer a request speaks to (see [`Issuer::for_request`]).
pub(crate) fn issuer(state: &AppState, headers: &HeaderMap) -> Issuer {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("x-forwarded-host").or_else(|| header("host"));
    Issuer::for_request(&state.config, host, header("x-forwarded-proto"))
}
