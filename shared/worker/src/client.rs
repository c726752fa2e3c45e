//! The gRPC client of the worker service: one channel (TLS when a CA is configured, client
//! certificate for mutual TLS) and the bearer token on every call.

use std::time::Duration;

use everruns_internal_protocol::v1::worker_service_client::WorkerServiceClient;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status};

use crate::config::DurableWorkerConfig;

/// Adds `authorization: Bearer <token>`.
#[derive(Clone)]
pub struct TokenInterceptor(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for TokenInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            request.metadata_mut().insert("authorization", token.clone());
        }
        Ok(request)
    }
}

/// The client type.
pub type WorkerClient = WorkerServiceClient<InterceptedService<Channel, TokenInterceptor>>;

/// A worker could not reach the control plane.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Bad configuration (address, certificates, token).
    #[error("worker configuration: {0}")]
    Config(String),
    /// The control plane did not answer in time.
    #[error("cannot connect to the control plane at {address}: {source}")]
    Connect {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
}

/// Connects to the control plane's worker service.
pub async fn connect(config: &DurableWorkerConfig) -> Result<WorkerClient, ConnectError> {
    let (endpoint, address) = endpoint(config)?;
    // The control plane may still be starting: retry until the connect timeout has passed.
    let deadline = std::time::Instant::now() + config.connect_timeout;
    let channel = loop {
        match endpoint.connect().await {
            Ok(channel) => break channel,
            Err(source) if std::time::Instant::now() >= deadline => {
                return Err(ConnectError::Connect { address, source });
            }
            Err(error) => {
                tracing::debug!("control plane not reachable yet: {error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    with_token(channel, config)
}

/// A client that connects on its first call (a Lambda's cold start must not wait for it).
pub fn connect_lazy(config: &DurableWorkerConfig) -> Result<WorkerClient, ConnectError> {
    let (endpoint, _) = endpoint(config)?;
    with_token(endpoint.connect_lazy(), config)
}

fn endpoint(config: &DurableWorkerConfig) -> Result<(Endpoint, String), ConnectError> {
    let tls = config.tls_ca_cert.is_some();
    if !tls && (config.tls_cert.is_some() || config.tls_key.is_some()) {
        // Without a CA the channel is plaintext: never drop a configured client certificate silently.
        return Err(ConnectError::Config(
            "WORKER_GRPC_TLS_CERT / WORKER_GRPC_TLS_KEY need WORKER_GRPC_TLS_CA_CERT (the CA that verifies the server)"
                .into(),
        ));
    }
    let scheme = if tls { "https" } else { "http" };
    let address = if config.grpc_address.contains("://") {
        config.grpc_address.clone()
    } else {
        format!("{scheme}://{}", config.grpc_address)
    };
    let mut endpoint = Endpoint::from_shared(address.clone())
        .map_err(|e| ConnectError::Config(format!("WORKER_GRPC_ADDRESS '{address}': {e}")))?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        // No cap on the streams this side resets over the connection's life. A run drops its
        // context stream (the turn's signals) when it ends, often while the control plane is
        // still sending its last signal; each such frame for a forgotten stream counts as a
        // local reset, and at hyper's default cap (1,024 per connection, never decaying) the
        // worker's own h2 would close the connection with GOAWAY `too_many_internal_resets`,
        // failing every call in flight. The cap guards against a hostile peer; this one is the
        // worker's own control plane.
        .http2_max_local_error_reset_streams(None);
    if let Some(ca) = &config.tls_ca_cert {
        let read = |path: &std::path::PathBuf, what: &str| {
            std::fs::read(path).map_err(|e| ConnectError::Config(format!("cannot read {what} {}: {e}", path.display())))
        };
        let mut tls =
            ClientTlsConfig::new().ca_certificate(Certificate::from_pem(read(ca, "WORKER_GRPC_TLS_CA_CERT")?));
        if let Some(domain) = &config.tls_domain {
            tls = tls.domain_name(domain.clone());
        }
        match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => {
                tls = tls.identity(Identity::from_pem(
                    read(cert, "WORKER_GRPC_TLS_CERT")?,
                    read(key, "WORKER_GRPC_TLS_KEY")?,
                ));
            }
            (None, None) => {}
            _ => {
                return Err(ConnectError::Config(
                    "WORKER_GRPC_TLS_CERT and WORKER_GRPC_TLS_KEY must be set together".into(),
                ));
            }
        }
        endpoint = endpoint.tls_config(tls).map_err(|e| ConnectError::Config(format!("TLS: {e}")))?;
    }
    Ok((endpoint, address))
}

fn with_token(channel: Channel, config: &DurableWorkerConfig) -> Result<WorkerClient, ConnectError> {
    let token = match &config.auth_token {
        Some(token) => Some(
            format!("Bearer {token}")
                .parse()
                .map_err(|_| ConnectError::Config("WORKER_GRPC_AUTH_TOKEN is not a valid header value".into()))?,
        ),
        None => None,
    };
    Ok(WorkerServiceClient::with_interceptor(channel, TokenInterceptor(token))
        .max_decoding_message_size(everruns_internal_protocol::MAX_MESSAGE_BYTES)
        .max_encoding_message_size(everruns_internal_protocol::MAX_MESSAGE_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_certificate_without_a_ca_is_refused() {
        let config = DurableWorkerConfig::from_lookup(|name| match name {
            "WORKER_GRPC_ADDRESS" => Some("127.0.0.1:9".to_owned()),
            "WORKER_GRPC_TLS_CERT" => Some("client.pem".to_owned()),
            "WORKER_GRPC_TLS_KEY" => Some("client.key".to_owned()),
            _ => None,
        });
        let Err(err) = connect(&config).await else { panic!("a client certificate without a CA must be refused") };
        let err = err.to_string();
        assert!(err.contains("need WORKER_GRPC_TLS_CA_CERT"), "{err}");
    }
}
