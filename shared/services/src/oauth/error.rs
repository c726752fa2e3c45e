//! `OAuthError`: the error responses of RFC 6749 §5.2 (and RFC 7591 §3.2.2, RFC 8707 §2): a
//! registered code, a description and the HTTP status the transport answers with.

use everruns_core::ports::PortError;

/// An OAuth error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    /// The registered error code (`invalid_request`, `invalid_grant`, …).
    pub code: &'static str,
    /// What was wrong, for a developer.
    pub description: String,
    /// The HTTP status.
    pub status: u16,
}

impl OAuthError {
    fn new(code: &'static str, status: u16, description: impl Into<String>) -> Self {
        Self { code, description: description.into(), status }
    }

    /// A missing, repeated or malformed parameter.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", 400, description)
    }

    /// Client authentication failed (unknown client, wrong secret, wrong method).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", 401, description)
    }

    /// The code or refresh token is invalid, expired, revoked, used, or issued to another client,
    /// or the PKCE verifier or redirect URI does not match.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", 400, description)
    }

    /// The client may not use this grant type.
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", 400, description)
    }

    /// The grant type is not supported.
    pub fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", 400, description)
    }

    /// The response type is not supported.
    pub fn unsupported_response_type(description: impl Into<String>) -> Self {
        Self::new("unsupported_response_type", 400, description)
    }

    /// The scope is unknown or exceeds the grant.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new("invalid_scope", 400, description)
    }

    /// The resource indicator names something else than this server's MCP endpoint.
    pub fn invalid_target(description: impl Into<String>) -> Self {
        Self::new("invalid_target", 400, description)
    }

    /// The person declined.
    pub fn access_denied(description: impl Into<String>) -> Self {
        Self::new("access_denied", 403, description)
    }

    /// A registration's redirect URI is unacceptable.
    pub fn invalid_redirect_uri(description: impl Into<String>) -> Self {
        Self::new("invalid_redirect_uri", 400, description)
    }

    /// A registration's metadata is unacceptable.
    pub fn invalid_client_metadata(description: impl Into<String>) -> Self {
        Self::new("invalid_client_metadata", 400, description)
    }

    /// An unexpected failure; the detail is logged, not shown.
    pub fn server(detail: impl std::fmt::Display) -> Self {
        tracing::error!("oauth: {detail}");
        Self::new("server_error", 500, "the authorization server failed; try again")
    }
}

impl From<PortError> for OAuthError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::Unavailable(detail) => {
                tracing::warn!("oauth: storage unavailable: {detail}");
                Self::new("temporarily_unavailable", 503, "storage is unavailable; try again")
            }
            other => Self::server(other),
        }
    }
}
