//! The root routes of delegated sign-in: the OAuth 2.1 authorization server (`/oauth/*`), its
//! metadata and the MCP endpoint's (`/.well-known/*`), and the page a CLI's browser login ends on
//! (`/cli/login-success`). Errors here are OAuth's own (`{"error", "error_description"}`, RFC 6749
//! §5.2), mapped once by [`OAuthFailure`]; the rules live in `everruns_services::oauth`.

mod consent;
mod endpoints;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use everruns_services::oauth::OAuthError;
use serde_json::json;

pub(crate) use crate::origin::{issuer, open_cors};
use crate::state::AppState;

/// The routes, at the server root.
pub fn routes(state: &AppState) -> Router<AppState> {
    let machine = Router::new()
        .route("/.well-known/oauth-authorization-server", get(endpoints::server_metadata))
        .route("/.well-known/oauth-protected-resource", get(endpoints::resource_metadata))
        .route("/.well-known/oauth-protected-resource/mcp", get(endpoints::resource_metadata))
        .route("/oauth/register", post(endpoints::register))
        .route("/oauth/token", post(endpoints::token))
        .route("/oauth/revoke", post(endpoints::revoke));
    // Browser-based MCP clients read metadata and exchange codes cross-origin; nothing here uses
    // cookies. With CORS_ALLOWED_ORIGINS set, its layer answers for every route instead.
    let machine = if state.config.cors_allowed_origins.is_empty() { machine.layer(open_cors()) } else { machine };
    Router::new()
        .merge(machine)
        .route("/oauth/authorize", get(consent::show).post(consent::decide))
        .route("/cli/login-success", get(cli_login_success))
}

/// An OAuth error response.
pub(crate) struct OAuthFailure(pub OAuthError);

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = Json(json!({"error": self.0.code, "error_description": self.0.description}));
        let mut response = (status, no_store(), body).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"everruns\""));
        }
        response
    }
}

impl From<OAuthError> for OAuthFailure {
    fn from(error: OAuthError) -> Self {
        Self(error)
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// `GET /cli/login-success`: where a CLI's browser sign-in lands once the CLI has its tokens.
async fn cli_login_success() -> Response {
    let page = consent::page(
        "Signed in",
        "<h1>You are signed in</h1><p>The command line has what it needs. You can close this tab and go back to your terminal.</p>",
    );
    (consent::page_headers(), Html(page)).into_response()
}
