//! Bearer-token authentication of worker calls. Tokens are compared in constant time.

use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Checks `authorization: Bearer <token>` when a token is configured.
#[derive(Clone)]
pub struct BearerAuth {
    expected: Option<String>,
    activity: everruns_services::dormancy::Dormancy,
}

impl BearerAuth {
    /// Auth with `token`; `None` disables it (DEV setups only).
    pub fn new(token: Option<String>) -> Self {
        Self {
            expected: token.map(|t| format!("Bearer {t}")),
            activity: everruns_services::dormancy::Dormancy::never(),
        }
    }

    /// Every call also counts as activity (a dormant instance wakes for its workers).
    pub fn with_activity(mut self, activity: everruns_services::dormancy::Dormancy) -> Self {
        self.activity = activity;
        self
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Interceptor for BearerAuth {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        self.activity.touch();
        let Some(expected) = &self.expected else { return Ok(request) };
        match request.metadata().get("authorization").map(|v| v.as_bytes()) {
            Some(given) if constant_time_eq(given, expected.as_bytes()) => Ok(request),
            Some(_) => Err(Status::unauthenticated("invalid worker token")),
            None => Err(Status::unauthenticated("missing worker token")),
        }
    }
}
