//! `ApiError`: the one place errors become HTTP responses. Bodies are RFC 9457
//! `application/problem+json` that also carry `error: {code, message}` so every SDK generation
//! reads a typed code. 5xx bodies are generic; the cause is logged, never sent.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use everruns_core::ids::IdError;
use everruns_core::ports::PortError;
use everruns_core::turns::TurnError;
use everruns_services::ServiceError;
use serde_json::json;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400.
    #[error("{message}")]
    BadRequest {
        /// Stable code.
        code: &'static str,
        /// Text.
        message: String,
    },
    /// 404.
    #[error("{message}")]
    NotFound {
        /// Stable code (`session_not_found`, …).
        code: String,
        /// Text.
        message: String,
    },
    /// 401: missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// 403.
    #[error("{0}")]
    Forbidden(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 414: the request line is longer than accepted.
    #[error("the request line exceeds the limit of {0} bytes")]
    UriTooLong(usize),
    /// 408: the request did not arrive in time.
    #[error("{0}")]
    RequestTimeout(String),
    /// 431: the request head is larger than accepted.
    #[error("request headers exceed the limit of {0} bytes")]
    HeadersTooLarge(usize),
    /// 413.
    #[error("request body exceeds the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// 415.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429.
    #[error("{message}")]
    TooManyRequests {
        /// Text.
        message: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// 503: a backing service is unreachable.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// 500; the detail is logged only.
    #[error("internal server error")]
    Internal(String),
}

impl ApiError {
    /// A 400 with code `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest { code: "invalid_request", message: message.into() }
    }

    /// A 404 for `kind` (code `{kind}_not_found`).
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        let mut label = kind.replace('_', " ");
        if let Some(first) = label.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self::NotFound { code: format!("{kind}_not_found"), message: format!("{label} '{id}' not found") }
    }

    fn parts(&self) -> (StatusCode, String) {
        match self {
            Self::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, (*code).to_owned()),
            Self::NotFound { code, .. } => (StatusCode::NOT_FOUND, code.clone()),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden".into()),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict".into()),
            Self::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large".into()),
            Self::RequestTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "request_timeout".into()),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed".into()),
            Self::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri_too_long".into()),
            Self::HeadersTooLarge(_) => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large".into()),
            Self::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type".into()),
            Self::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into()),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable".into()),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error".into()),
        }
    }
}

impl ApiError {
    /// The status, the problem+json body and the `Retry-After` seconds, if any. Logs 5xx causes.
    pub fn problem(&self) -> (StatusCode, String, Option<u64>) {
        let (status, code) = self.parts();
        match self {
            Self::Internal(detail) => tracing::error!(%detail, "internal error"),
            Self::Unavailable(detail) => tracing::warn!(%detail, "backing service unavailable"),
            _ => {}
        }
        let message = self.to_string();
        let title = status.canonical_reason().unwrap_or("Error");
        let mut body = json!({
            "type": format!("https://docs.everruns.com/errors/{code}"),
            "title": title,
            "status": status.as_u16(),
            "detail": message,
            "code": code,
            "error": {"code": code, "message": message},
        });
        let retry_after = match self {
            Self::TooManyRequests { retry_after, .. } => Some((retry_after.as_millis().div_ceil(1000) as u64).max(1)),
            Self::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            body["retry_after_seconds"] = json!(seconds);
        }
        (status, body.to_string(), retry_after)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body, retry_after) = self.problem();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The one mapping of a service's answer to HTTP.
impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::BadRequest { code, message } => Self::BadRequest { code, message },
            ServiceError::NotFound { code, message } => Self::NotFound { code, message },
            ServiceError::Unauthorized(message) => Self::Unauthorized(message),
            ServiceError::Forbidden(message) => Self::Forbidden(message),
            ServiceError::Conflict(message) => Self::Conflict(message),
            ServiceError::TurnEnded(turn) => Self::Conflict(format!("turn {turn} has ended")),
            ServiceError::TooManyRequests { message, retry_after } => Self::TooManyRequests { message, retry_after },
            ServiceError::Unavailable(detail) => Self::Unavailable(detail),
            ServiceError::Internal(detail) => Self::Internal(detail),
        }
    }
}

/// Errors of the core's ports and turn services, as their service error answers them.
macro_rules! through_service_error {
    ($($source:ty),*) => {$(
        impl From<$source> for ApiError {
            fn from(error: $source) -> Self {
                ServiceError::from(error).into()
            }
        }
    )*};
}
through_service_error!(IdError, PortError, TurnError);

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
