//! A control plane served on loopback ports, composed as a given [`DeploymentKind`] from
//! environment-style variables.

use std::collections::HashMap;

use everruns_server::{DeploymentKind, ServerAppBuilder, ServerConfig};
use tokio::net::TcpListener;

/// The worker token of the servers built from [`durable_vars`].
pub const TOKEN: &str = "testkit-worker-token";

/// The variables of a durable server (containers kind) on `database`.
pub fn durable_vars(database: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("DATABASE_URL", database.to_owned()),
        ("SECRETS_ENCRYPTION_KEY", "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_owned()),
        ("WORKER_GRPC_AUTH_TOKEN", TOKEN.to_owned()),
        ("DEPLOYMENT_GRADE", "dev".to_owned()),
        ("RATE_LIMIT_API_REQUESTS_PER_MINUTE", "0".to_owned()),
    ])
}

/// The variables of a DEV_MODE server (embedded kind).
pub fn embedded_vars() -> HashMap<&'static str, String> {
    HashMap::from([("DEV_MODE", "true".to_owned()), ("RATE_LIMIT_API_REQUESTS_PER_MINUTE", "0".to_owned())])
}

/// A served control plane; dropping it stops it.
pub struct Server {
    /// What it composed.
    pub kind: DeploymentKind,
    /// `http://127.0.0.1:<port>/api`.
    pub api: String,
    /// The worker gRPC address (empty when the kind hosts no workers).
    pub grpc: String,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Server {
    /// Builds a server of `kind` from `vars` and serves it (REST + SSE, and the worker gRPC
    /// service where the kind hosts workers). Fails when `vars` describe another kind.
    pub async fn start(kind: DeploymentKind, vars: &HashMap<&'static str, String>) -> Self {
        let config = ServerConfig::from_lookup(|name| vars.get(name).cloned());
        let mut builder = ServerAppBuilder::new(config);
        if kind == DeploymentKind::ApiFunction {
            builder = builder.api_function();
        }
        let app =
            Box::pin(builder.build()).await.unwrap_or_else(|error| panic!("building a {kind:?} server: {error:#}"));
        assert_eq!(app.kind, kind, "the variables describe a {:?} server", app.kind);
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api = format!("http://{}/api", http.local_addr().unwrap());
        let grpc = match app.hosts_workers() {
            true => Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
            false => None,
        };
        let grpc_addr = grpc.as_ref().map(|l| l.local_addr().unwrap().to_string()).unwrap_or_default();
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(app.serve_all(http, grpc, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        Self { kind, api, grpc: grpc_addr, stop }
    }
}

/// A server of whatever kind `vars` describe, with the API function's request off.
pub async fn serve(vars: &HashMap<&'static str, String>) -> Server {
    let config = ServerConfig::from_lookup(|name| vars.get(name).cloned());
    Box::pin(Server::start(DeploymentKind::of(&config, false), vars)).await
}
