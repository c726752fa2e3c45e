//! Extractors whose rejections are [`ApiError`]s: JSON bodies (400 on bad JSON, 413 over the
//! limit, 415 without a JSON content type), query strings with repeated keys (`types=a&types=b`),
//! and the caller's organization.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use everruns_core::ids::OrgId;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The largest accepted request body (`HTTP_BODY_LIMIT_BYTES`), for the 413 message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

fn body_limit(req: &Request) -> usize {
    req.extensions().get::<BodyLimit>().map_or(0, |l| l.0)
}

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = body_limit(&req);
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection, limit)),
        }
    }
}

/// A UTF-8 text body (400, not axum's `text/plain`, when it is not UTF-8; 413 over the limit).
pub struct ApiText(pub String);

impl<S: Send + Sync> FromRequest<S> for ApiText {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = body_limit(&req);
        match String::from_request(req, state).await {
            Ok(text) => Ok(Self(text)),
            Err(rejection) if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge(limit))
            }
            Err(_) => {
                Err(ApiError::BadRequest { code: "invalid_body", message: "the request body is not UTF-8 text".into() })
            }
        }
    }
}

/// serde's messages name Rust types ("expected struct AgentInput"); say what JSON is expected.
fn without_rust_types(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("expected ") {
        out.push_str(&rest[..at + "expected ".len()]);
        rest = &rest[at + "expected ".len()..];
        for (prefix, replacement) in
            [("struct ", "a JSON object"), ("enum ", "one of the accepted values"), ("tuple struct ", "a value")]
        {
            if let Some(after) = rest.strip_prefix(prefix) {
                let name_len = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
                out.push_str(replacement);
                rest = &after[name_len..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn json_rejection(rejection: JsonRejection, limit: usize) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected a request body with Content-Type: application/json".into())
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest { code: "invalid_json", message: format!("malformed JSON: {}", e.body_text()) }
        }
        JsonRejection::JsonDataError(e) => ApiError::BadRequest {
            code: "invalid_request",
            message: format!("invalid request body: {}", without_rust_types(&e.body_text())),
        },
        JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(limit)
        }
        other => ApiError::bad_request(other.body_text()),
    }
}

/// A query string parsed with repeated keys as lists.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_html_form::from_str(query)
            .map(Self)
            .map_err(|e| ApiError::BadRequest { code: "invalid_query", message: format!("invalid query string: {e}") })
    }
}

/// The caller's organization, set by the authentication middleware (with `AUTH_MODE=none`, the
/// default org). A route the middleware did not run on has no caller: it answers 401 (fail
/// closed) rather than guessing an organization.
#[derive(Debug, Clone, Copy)]
pub struct Org(pub OrgId);

impl<S: Send + Sync> FromRequestParts<S> for Org {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Org>()
            .copied()
            .ok_or_else(|| ApiError::Unauthorized("this route has no authenticated caller".to_owned()))
    }
}

/// The absolute base URL of the API as the client addressed it (for `next_url`, `self_url`).
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let host = header("x-forwarded-host").or_else(|| header("host")).unwrap_or("localhost");
        let scheme = header("x-forwarded-proto").unwrap_or("http");
        let prefix = parts.extensions.get::<ApiPrefix>().map(|p| p.0.as_str()).unwrap_or("");
        Ok(Self(format!("{scheme}://{host}{prefix}")))
    }
}

/// The prefix a request came in under (`/api` or empty), set by the router.
#[derive(Debug, Clone)]
pub struct ApiPrefix(pub String);
