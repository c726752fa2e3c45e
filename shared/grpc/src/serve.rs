//! Serving the worker service: bearer auth, optional TLS (`WORKER_GRPC_TLS_CERT`/`_KEY`) and
//! mutual TLS (`WORKER_GRPC_TLS_CA_CERT`).

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use everruns_internal_protocol::v1::worker_service_server::WorkerServiceServer;
use tokio::net::TcpListener;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use super::{BearerAuth, WorkerGrpcService};
use everruns_services::idle::IdleIo;

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
    /// HTTP/2 ping interval, and how long a ping may go unanswered (`WORKER_GRPC_KEEPALIVE_SECS`).
    pub keepalive: Option<Duration>,
    /// A connection with no byte from the peer for this long is closed
    /// (`WORKER_GRPC_IDLE_TIMEOUT_SECS`; a live worker pings every 20 s).
    pub idle: Option<Duration>,
    /// Worker calls are activity: they wake a dormant instance.
    pub activity: everruns_services::dormancy::Dormancy,
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {what} {}: {e}", path.display()))
}

impl GrpcSettings {
    /// Reads the certificates and builds the TLS configuration, so that a missing file, a bad
    /// PEM or incomplete settings stop the server at startup instead of leaving it without a
    /// worker service.
    pub fn check(&self) -> anyhow::Result<()> {
        self.server().map(drop)
    }

    fn server(&self) -> anyhow::Result<Server> {
        let mut server = Server::builder()
            .http2_keepalive_interval(self.keepalive)
            .http2_keepalive_timeout(self.keepalive)
            .tcp_keepalive(self.keepalive);
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let identity =
                    Identity::from_pem(read(cert, "WORKER_GRPC_TLS_CERT")?, read(key, "WORKER_GRPC_TLS_KEY")?);
                let mut tls = ServerTlsConfig::new().identity(identity);
                if let Some(ca) = &self.tls_ca_cert {
                    tls = tls.client_ca_root(Certificate::from_pem(read(ca, "WORKER_GRPC_TLS_CA_CERT")?));
                }
                server = server
                    .tls_config(tls)
                    .map_err(|e| anyhow::Error::new(e).context("worker gRPC TLS configuration"))?;
            }
            (None, None) if self.tls_ca_cert.is_some() => {
                // Plaintext would accept every client: refuse rather than drop the requirement.
                anyhow::bail!("WORKER_GRPC_TLS_CA_CERT (mutual TLS) needs WORKER_GRPC_TLS_CERT and WORKER_GRPC_TLS_KEY")
            }
            (None, None) => {}
            _ => anyhow::bail!("WORKER_GRPC_TLS_CERT and WORKER_GRPC_TLS_KEY must be set together"),
        }
        Ok(server)
    }
}

/// Serves the worker service on `listener` until `shutdown` resolves.
pub async fn serve_grpc(
    listener: TcpListener,
    settings: GrpcSettings,
    service: WorkerGrpcService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut server = settings.server()?;
    let service = WorkerServiceServer::new(service)
        .max_decoding_message_size(everruns_internal_protocol::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(everruns_internal_protocol::MAX_MESSAGE_BYTES);
    let service = tonic::service::interceptor::InterceptedService::new(
        service,
        BearerAuth::new(settings.auth_token).with_activity(settings.activity),
    );
    // Small request/response messages: without TCP_NODELAY, Nagle and delayed ACKs add ~40 ms.
    let idle = settings.idle.unwrap_or(Duration::from_secs(90));
    let incoming = futures::StreamExt::map(tokio_stream::wrappers::TcpListenerStream::new(listener), move |stream| {
        stream.map(|s| {
            let _ = s.set_nodelay(true);
            IdleIo::new(s, idle)
        })
    });
    server.add_service(service).serve_with_incoming_shutdown(incoming, shutdown).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_or_unreadable_tls_settings_are_refused() {
        let settings = |cert: Option<&str>, key: Option<&str>, ca: Option<&str>| GrpcSettings {
            auth_token: None,
            tls_cert: cert.map(Into::into),
            tls_key: key.map(Into::into),
            tls_ca_cert: ca.map(Into::into),
            keepalive: None,
            idle: None,
            activity: everruns_services::dormancy::Dormancy::never(),
        };
        assert!(settings(None, None, None).check().is_ok());
        let err = settings(None, None, Some("ca.pem")).check().unwrap_err().to_string();
        assert!(err.contains("WORKER_GRPC_TLS_CA_CERT (mutual TLS) needs"), "{err}");
        let err = settings(Some("s.pem"), None, None).check().unwrap_err().to_string();
        assert!(err.contains("must be set together"), "{err}");
        let err =
            settings(Some("/nonexistent/s.pem"), Some("/nonexistent/s.key"), None).check().unwrap_err().to_string();
        assert!(err.contains("cannot read WORKER_GRPC_TLS_CERT /nonexistent/s.pem"), "{err}");
    }
}
