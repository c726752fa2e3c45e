//! Extractors whose rejections are [`ApiError`]s: JSON bodies (400 on bad JSON, 413 over the
//! limit, 415 without a JSON content type), query strings with repeated keys (`types=a&types=b`),
//! and the caller's organization.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use everruns_core::ids::OrgId;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::UnsupportedMediaType("expected a request body with Content-Type: application/json".into())
        }
        JsonRejection::JsonSyntaxError(e) => {
            ApiError::BadRequest { code: "invalid_json", message: format!("malformed JSON: {}", e.body_text()) }
        }
        JsonRejection::JsonDataError(e) => ApiError::BadRequest {
            code: "invalid_request",
            message: format!("invalid request body: {}", e.body_text()),
        },
        JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge(0)
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
