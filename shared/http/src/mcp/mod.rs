//! `/mcp`: Everruns as an MCP server over Streamable HTTP (`rmcp`), stateless — every request
//! stands alone, so any instance can answer it. The caller is authenticated like a REST request
//! (an OAuth access token or an API key; anyone with `AUTH_MODE=none`); a refusal is 401 with
//! `WWW-Authenticate: Bearer resource_metadata=…` pointing MCP clients at the sign-in.
//!
//! Only the long-lived hosts serve it (`send_message` waits for a turn); the split routes `/mcp`
//! to the bridge.

mod server;
mod tools;
mod turn;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use everruns_services::ServiceError;
use everruns_services::config::AuthMode;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::state::AppState;

/// Largest JSON-RPC request accepted.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// The `/mcp` route.
pub fn routes(state: &AppState) -> Router<AppState> {
    let stop = CancellationToken::new();
    let mut shutdown = state.shutdown.clone();
    let on_shutdown = stop.clone();
    tokio::spawn(async move {
        let _ = shutdown.wait_for(|down| *down).await;
        on_shutdown.cancel();
    });
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .with_cancellation_token(stop);
    config = if state.config.auth_mode == AuthMode::None {
        // Without tokens, a DNS-rebinding page could drive a local server: loopback hosts only,
        // and AUTH_BASE_URL's.
        let mut hosts = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned(), "[::1]".to_owned()];
        if let Some(host) = state.config.auth_base_url.as_deref().and_then(base_host) {
            hosts.push(host);
        }
        config.with_allowed_hosts(hosts)
    } else {
        config.disable_allowed_hosts()
    };
    let app = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(server::EverrunsMcp::new(app.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    let router = Router::new()
        .route_service("/mcp", service)
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    if state.config.cors_allowed_origins.is_empty() { router.layer(crate::origin::open_cors()) } else { router }
}

/// The host (and port) of a base URL.
fn base_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    rest.split('/').next().filter(|h| !h.is_empty()).map(str::to_owned)
}

/// Authenticates the caller; on refusal answers 401 with the resource metadata's location.
async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let (authorization, org) = {
        let header_of = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        (header_of("authorization"), header_of("x-org-id"))
    };
    match everruns_services::auth::authenticate(&state, authorization.as_deref(), org.as_deref()).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(ServiceError::Unauthorized(message)) => {
            let issuer = crate::origin::issuer(&state, req.headers());
            crate::body::drain(req).await;
            let mut challenge = format!("Bearer resource_metadata=\"{}\"", issuer.resource_metadata_url());
            if authorization.is_some() {
                let description = message.replace(['"', '\\'], "'");
                challenge.push_str(&format!(", error=\"invalid_token\", error_description=\"{description}\""));
            }
            let mut response = ApiError::Unauthorized(message).into_response();
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
            response
        }
        Err(other) => {
            crate::body::drain(req).await;
            ApiError::from(other).into_response()
        }
    }
}
