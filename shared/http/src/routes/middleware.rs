//! Cross-cutting middleware: request ids, per-IP rate limiting (see [`super::limits`]), CORS,
//! and authentication of REST routes.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use everruns_core::ports::{RateDecision, RateLimiter};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Applies the middleware stack to the router.
pub fn wrap(app: Router, state: &AppState) -> Router {
    let mut app = app;
    if let Some(limiter) = super::limits::limiter(&state.config) {
        app = app.layer(middleware::from_fn(move |req: Request, next: Next| {
            let limiter = limiter.clone();
            async move { rate_limit(limiter, req, next).await }
        }));
    }
    if !state.config.cors_allowed_origins.is_empty() {
        let origins: Vec<HeaderValue> =
            state.config.cors_allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_credentials(true)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
                .allow_headers(AllowHeaders::mirror_request())
                .expose_headers([REQUEST_ID, HeaderName::from_static("x-total-count")]),
        );
    }
    let dormancy = state.dormancy.clone();
    app.layer(middleware::from_fn(trace_scope)).layer(middleware::from_fn(request_id)).layer(middleware::from_fn(
        move |req: Request, next: Next| {
            // A request in flight keeps the instance (and its database) awake.
            let awake = dormancy.hold();
            async move {
                let response = next.run(req).await;
                drop(awake);
                response
            }
        },
    ))
}

/// Runs the request with the trace context it brought (`traceparent`, `tracestate`,
/// `X-Amzn-Trace-Id`), so the tasks it dispatches carry it on.
async fn trace_scope(req: Request, next: Next) -> Response {
    let carrier = everruns_core::trace_context::from_pairs(
        req.headers().iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    );
    if carrier.is_empty() {
        return next.run(req).await;
    }
    everruns_core::trace_context::scope(carrier, next.run(req)).await
}

/// Echoes a valid incoming `X-Request-Id` or assigns a fresh one, on every response.
async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| v.len() <= 128 && v.to_str().is_ok_and(|s| s.bytes().all(|b| b.is_ascii_graphic())))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().simple().to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// The client address: the first `X-Forwarded-For` hop behind a proxy, else the peer.
fn client_ip(req: &Request) -> IpAddr {
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .and_then(|ip| ip.trim().parse().ok());
    forwarded
        .or_else(|| req.extensions().get::<ConnectInfo<crate::front::ClientAddr>>().map(|c| c.0.0.ip()))
        .or_else(|| req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

async fn rate_limit(limiter: Arc<dyn RateLimiter>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    match limiter.check(&super::limits::key_of(client_ip(&req))).await {
        RateDecision::Allowed => next.run(req).await,
        RateDecision::Limited { retry_after } => ApiError::TooManyRequests {
            message: "rate limit exceeded; retry later".into(),
            retry_after: retry_after.max(Duration::from_secs(1)),
        }
        .into_response(),
    }
}

/// Authenticates the caller (see [`everruns_services::auth`]) and scopes the request to its organization.
pub async fn authenticate(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let (authorization, org) = {
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        (header("authorization"), header("x-org-id"))
    };
    let caller = everruns_services::auth::authenticate(&state, authorization.as_deref(), org.as_deref()).await;
    match caller {
        Ok(caller) => {
            req.extensions_mut().insert(crate::routes::extract::Org(caller.org));
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Err(error) => {
            crate::body::drain(req).await;
            ApiError::from(error).into_response()
        }
    }
}
