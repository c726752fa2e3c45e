//! `everruns-api`: the API Lambda. Settings (secrets resolved once per cold start), the same
//! router as the long-lived server, `lambda_http::run`. SSE is served by the bridge.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    everruns_server::lambda::init_tracing();
    let config = everruns_server::ServerConfig::load().await?;
    let app = everruns_server::ServerAppBuilder::new(config).api_function().build().await?;
    lambda_http::run(everruns_api_function::service(app.router)).await
}
