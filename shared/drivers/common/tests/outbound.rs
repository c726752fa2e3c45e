//! The outbound policy at turn time, in its own process (the policy is process-wide): with loopback
//! allowed but private and link-local addresses not, a provider that redirects to the metadata
//! address is not followed, and with nothing internal allowed a literal loopback URL and a name
//! that resolves to loopback are refused before any connection.
#![allow(clippy::unwrap_used)]

use everruns_core::driver::DriverErrorKind;
use everruns_driver_common::http::{send, shared_client};
use everruns_driver_common::outbound::{self, OutboundPolicy};
use everruns_driver_common::testing::{FakeServer, Reply};

#[tokio::test]
async fn turn_time_requests_follow_the_installed_policy() {
    outbound::install(OutboundPolicy { allow_loopback: true, allow_private: false });
    let client = shared_client().unwrap();

    // Loopback is allowed here: a redirect to the metadata service is not followed.
    let server = FakeServer::start(vec![
        Reply::text(302, "text/plain", "").with_header("location", "http://169.254.169.254/latest/meta-data"),
    ])
    .await;
    let error = send(client.get(server.url("/v1/models"))).await.unwrap_err();
    assert!(
        error.message.contains("redirect refused") || error.message.contains("internal address"),
        "{}",
        error.message
    );
    assert_eq!(server.requests().len(), 1, "only the provider itself was asked");

    // The same process with nothing internal allowed (the policy is checked per request).
    let strict = OutboundPolicy::STRICT;
    assert!(strict.check_url(&server.url("/v1")).is_err());
    let error = strict.check_resolved("http://localhost:1/v1").await.unwrap_err();
    assert!(error.contains("internal address"), "{error}");
    let error = send(client.get("http://0.0.0.0:1/v1")).await.unwrap_err();
    assert_eq!(error.kind, DriverErrorKind::InvalidRequest, "{}", error.message);
}
