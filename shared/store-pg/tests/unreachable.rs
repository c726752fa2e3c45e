//! A database that cannot be reached is `PortError::Unavailable` (the API answers 503), however
//! the connection fails: accepted and closed at once (a proxy or pooler in front of a dead
//! database) or refused. Needs no PostgreSQL: the "database" is a listener on 127.0.0.1.

use std::io::Read;
use std::net::Shutdown;
use std::str::FromStr;
use std::time::Duration;

use everruns_core::ids::OrgId;
use everruns_core::ports::PortError;
use everruns_store_pg::{PgAgentStore, connect, pool_options};
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;

/// A port whose connections are accepted and closed straight away: the listener sends its FIN
/// at once and then only reads (and discards) until the client hangs up, so the client sees a
/// clean end of stream, never a reset.
fn closing_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("local address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let _ = stream.shutdown(Shutdown::Write);
                let mut sink = [0u8; 256];
                while matches!((&stream).read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    port
}

/// A port nothing listens on.
async fn refusing_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    listener.local_addr().expect("local address").port()
}

#[tokio::test]
async fn connecting_to_a_database_that_closes_the_connection_is_unavailable() {
    let port = closing_port();
    let err = connect(&format!("postgres://postgres@127.0.0.1:{port}/everruns")).await.expect_err("no database there");
    assert!(matches!(err, PortError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_store_call_while_the_database_closes_or_refuses_connections_is_unavailable() {
    for port in [closing_port(), refusing_port().await] {
        let options = PgConnectOptions::from_str(&format!("postgres://postgres@127.0.0.1:{port}/everruns")).unwrap();
        let pool = pool_options().acquire_timeout(Duration::from_millis(300)).connect_lazy_with(options);
        let store = PgAgentStore::new(pool);
        let err = everruns_core::ports::AgentStore::get_agent_by_name(&store, OrgId::DEFAULT, "anyone")
            .await
            .expect_err("no database there");
        assert!(matches!(err, PortError::Unavailable(_)), "port {port}: {err:?}");
    }
}
