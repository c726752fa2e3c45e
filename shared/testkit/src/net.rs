//! Loopback ports.

use std::time::Duration;

use crate::wait::until;

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits (up to 10 s) until something accepts connections on the loopback `port`.
pub async fn wait_for_port(port: u16) {
    let open =
        until(Duration::from_secs(10), || async { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() })
            .await;
    assert!(open, "nothing listens on 127.0.0.1:{port}");
}
