//! Helpers shared by the integration tests: the test server's URL (from `scripts/test`), fresh
//! keys, and private servers a test may kill and restart.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The shared test server's URL.
pub fn valkey_url() -> String {
    std::env::var("EVERRUNS_TEST_VALKEY_URL").unwrap_or_else(|_| {
        panic!(
            "EVERRUNS_TEST_VALKEY_URL is not set: run scripts/test, or \
             `source scripts/lib/valkey.sh && ensure_valkey` before cargo test"
        )
    })
}

/// A key no other test (or earlier run) has used.
pub fn fresh_key() -> String {
    format!("test-{}", uuid::Uuid::new_v4())
}

/// A loopback port nothing listens on (just freed by the OS).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|listener| listener.local_addr()).expect("a free loopback port").port()
}

/// Whether a Redis-protocol server answers PING on 127.0.0.1:`port`.
pub fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 5];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG"
}

/// A server of this test's own (`EVERRUNS_VALKEY_SERVER`), on loopback, without persistence.
pub struct PrivateServer {
    port: u16,
    child: Option<Child>,
}

impl PrivateServer {
    /// Starts one on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts one on `port` and waits until it answers.
    pub fn start_on(port: u16) -> Self {
        let bin = std::env::var("EVERRUNS_VALKEY_SERVER").map(PathBuf::from).unwrap_or_else(|_| {
            panic!(
                "EVERRUNS_VALKEY_SERVER is not set: run scripts/test, or \
                 `source scripts/lib/valkey.sh && ensure_valkey` before cargo test"
            )
        });
        let child = Command::new(&bin)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", bin.display()));
        let server = Self { port, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_ping(port) {
            assert!(Instant::now() < deadline, "the private server on port {port} did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Collects the `WARN` and `INFO` events (level and message) logged on this thread while the
/// guard returned by [`CapturedLogs::install`] lives.
#[derive(Clone, Default)]
pub struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

impl CapturedLogs {
    pub fn install() -> (Self, tracing::subscriber::DefaultGuard) {
        let logs = Self::default();
        let guard = tracing::subscriber::set_default(logs.clone());
        (logs, guard)
    }

    /// The messages logged at `level`, oldest first.
    pub fn at(&self, level: tracing::Level) -> Vec<String> {
        let events = self.0.lock().expect("the log lock");
        events.iter().filter(|(at, _)| *at == level).map(|(_, message)| message.clone()).collect()
    }
}

impl tracing::Subscriber for CapturedLogs {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() <= tracing::Level::INFO
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={value:?} ", field.name()));
            }
        }
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        self.0.lock().expect("the log lock").push((*event.metadata().level(), fields.0));
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
