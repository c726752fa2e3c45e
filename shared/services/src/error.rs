//! `ServiceError`: what an application service answers when it refuses or fails. Each transport
//! maps it once — the HTTP adapter to a problem+json response, the worker gRPC adapter to a
//! status — so a rule is written without knowing who asked.

use std::time::Duration;

use everruns_core::ids::IdError;
use everruns_core::ports::PortError;
use everruns_core::turns::TurnError;

/// A refusal or failure of an application service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// The input breaks a rule.
    #[error("{message}")]
    BadRequest {
        /// Stable code (`invalid_request`, `invalid_name`, …).
        code: &'static str,
        /// Text.
        message: String,
    },
    /// No such resource in the caller's organization.
    #[error("{message}")]
    NotFound {
        /// Stable code (`session_not_found`, …).
        code: String,
        /// Text.
        message: String,
    },
    /// Missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Authenticated, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The resource's state does not allow it.
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; try again after `retry_after`.
    #[error("{message}")]
    TooManyRequests {
        /// Text.
        message: String,
        /// When to retry.
        retry_after: Duration,
    },
    /// The turn the request belongs to has already ended (a late or duplicate write).
    #[error("turn {0} has ended")]
    TurnEnded(String),
    /// A backing service is unreachable.
    #[error("service temporarily unavailable")]
    Unavailable(String),
    /// A defect or an unexpected failure; the detail is for the log only.
    #[error("internal server error")]
    Internal(String),
}

/// Result of a service.
pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// A bad request with code `invalid_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest { code: "invalid_request", message: message.into() }
    }

    /// Not found, for `kind` (code `{kind}_not_found`).
    pub fn not_found(kind: &str, id: impl std::fmt::Display) -> Self {
        let mut label = kind.replace('_', " ");
        if let Some(first) = label.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        Self::NotFound { code: format!("{kind}_not_found"), message: format!("{label} '{id}' not found") }
    }
}

impl From<IdError> for ServiceError {
    fn from(error: IdError) -> Self {
        Self::BadRequest { code: "invalid_id", message: error.to_string() }
    }
}

impl From<PortError> for ServiceError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::NotFound { kind, id } => Self::not_found(kind, id),
            PortError::Conflict(message) => Self::Conflict(message),
            PortError::TurnEnded(turn) => Self::TurnEnded(turn),
            PortError::Invalid(message) => Self::bad_request(message),
            PortError::Unavailable(detail) => Self::Unavailable(detail),
            PortError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<TurnError> for ServiceError {
    fn from(error: TurnError) -> Self {
        match error {
            TurnError::NotFound { kind, id } => Self::not_found(kind, id),
            TurnError::NotWaiting(_) | TurnError::Conflict(_) => Self::Conflict(error.to_string()),
            TurnError::Invalid(message) => Self::bad_request(message),
            TurnError::Port(port) => port.into(),
            TurnError::Engine(engine) => Self::Internal(engine.to_string()),
        }
    }
}
