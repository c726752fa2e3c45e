//! Request bodies answered without being read: a refusal (401, 403) reads and drops a small one
//! first, so the client's keep-alive connection stays usable. Left unread, the server closes the
//! connection after the answer, and a client that already sent its next request on it sees the
//! connection drop.

use axum::extract::Request;

/// The most of a refused request's body read before answering.
const DRAIN_LIMIT: usize = 64 * 1024;

/// Reads and drops up to [`DRAIN_LIMIT`] bytes of the body.
pub(crate) async fn drain(req: Request) {
    let _ = axum::body::to_bytes(req.into_body(), DRAIN_LIMIT).await;
}
