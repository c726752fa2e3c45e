//! Serving the worker service: bearer auth, optional TLS (`WORKER_GRPC_TLS_CERT`/`_KEY`) and
//! mutual TLS (`WORKER_GRPC_TLS_CA_CERT`).

use std::future::Future;
use std::path::PathBuf;

use everruns_internal_protocol::v1::worker_service_server::WorkerServiceServer;
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use super::{BearerAuth, WorkerGrpcService};

/// How the worker service is exposed.
#[derive(Debug, Clone, Default)]
pub struct GrpcSettings {
    /// Bearer token workers must present (`None`: no auth; refused outside DEV setups).
    pub auth_token: Option<String>,
    /// Server certificate (PEM).
    pub tls_cert: Option<PathBuf>,
    /// Server key (PEM).
    pub tls_key: Option<PathBuf>,
    /// CA that client certificates must chain to (mutual TLS).
    pub tls_ca_cert: Option<PathBuf>,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {what} {}: {e}", path.display()))
}

/// Serves the worker service on `listener` until `shutdown` resolves.
pub async fn serve_grpc(
    listener: TcpListener,
    settings: GrpcSettings,
    service: WorkerGrpcService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut server = Server::builder();
    match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => {
            let identity = Identity::from_pem(read(cert, "WORKER_GRPC_TLS_CERT")?, read(key, "WORKER_GRPC_TLS_KEY")?);
            let mut tls = ServerTlsConfig::new().identity(identity);
            if let Some(ca) = &settings.tls_ca_cert {
                tls = tls.client_ca_root(Certificate::from_pem(read(ca, "WORKER_GRPC_TLS_CA_CERT")?));
            }
            server = server.tls_config(tls)?;
        }
        (None, None) => {}
        _ => anyhow::bail!("WORKER_GRPC_TLS_CERT and WORKER_GRPC_TLS_KEY must be set together"),
    }
    let service = WorkerServiceServer::with_interceptor(service, BearerAuth::new(settings.auth_token));
    // Small request/response messages: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms.
    let incoming = futures::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), |stream| {
        stream.inspect(|s| {
            let _ = s.set_nodelay(true);
        })
    });
    server.add_service(service).serve_with_incoming_shutdown(incoming, shutdown).await?;
    Ok(())
}
