//! `everruns-api`: the API Lambda. Settings (secrets resolved once per cold start), logging and
//! OpenTelemetry (`OTEL_*`, service `everruns-api`, X-Ray ids and propagation; spans flushed
//! after every request, before the function is frozen), the same router as the long-lived
//! server, `lambda_http::run`. SSE is served by the bridge.

use axum::extract::Request;
use axum::middleware::Next;
use everruns_telemetry::TelemetryConfig;
use everruns_telemetry::opentelemetry_sdk::trace::SdkTracerProvider;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let telemetry = everruns_telemetry::init(&TelemetryConfig::from_env("everruns-api")?.on_aws_lambda())?;
    let config = everruns_server::ServerConfig::load().await?;
    let app = everruns_server::ServerAppBuilder::new(config).api_function().build().await?;
    let router = match telemetry.tracer_provider().cloned() {
        Some(provider) => app.router.layer(axum::middleware::from_fn(move |request: Request, next: Next| {
            flush_after(provider.clone(), request, next)
        })),
        None => app.router,
    };
    lambda_http::run(everruns_api_function::service(router)).await
}

/// Answers the request, then exports its spans (a frozen function sends nothing).
async fn flush_after(provider: SdkTracerProvider, request: Request, next: Next) -> axum::response::Response {
    let response = next.run(request).await;
    if let Ok(Err(error)) = tokio::task::spawn_blocking(move || provider.force_flush()).await {
        tracing::warn!("exporting spans failed: {error}");
    }
    response
}
