//! Shared by the multi-instance tests: the workspace's testkit (fresh databases, servers, workers
//! with a readiness signal, the REST client and SSE reader) and a private NATS server to kill.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

pub use everruns_testkit::db::fresh_database as database;
pub use everruns_testkit::env::required;
pub use everruns_testkit::net::{closed_port, wait_for_port};
pub use everruns_testkit::server::{Server, TOKEN, durable_vars, serve};
pub use everruns_testkit::{Api, Record, Sse, Worker};

/// A private NATS server (JetStream on) this test can kill.
pub struct NatsServer {
    pub url: String,
    child: std::process::Child,
    _dir: TempDir,
}

impl NatsServer {
    pub async fn start() -> Self {
        let binary = required("EVERRUNS_NATS_SERVER");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = TempDir::new();
        let child = std::process::Command::new(binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd", dir.0.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port).await;
        Self { url: format!("nats://127.0.0.1:{port}"), child, _dir: dir }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("everruns-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
