//! `everruns-task-worker`: the worker Lambda. Settings (the gRPC token may come from Secrets
//! Manager), logging and OpenTelemetry (`OTEL_*`, service `everruns-task-worker`, X-Ray ids and
//! propagation; spans flushed after every batch), clients built once per cold start, then one
//! iteration task per SQS record.

use everruns_telemetry::TelemetryConfig;
use everruns_worker_function::SqsWorker;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let telemetry = everruns_telemetry::init(&TelemetryConfig::from_env("everruns-task-worker")?.on_aws_lambda())?;
    let provider = telemetry.tracer_provider().cloned();
    let env = |name: &str| std::env::var(name).ok();
    let secrets = everruns_aws::secrets::resolve(&["WORKER_GRPC_AUTH_TOKEN"], env).await?;
    let config = everruns_worker::DurableWorkerConfig::from_lookup(|n| secrets.get(n).cloned().or_else(|| env(n)));
    let sqs = aws_sdk_sqs::Client::new(&everruns_aws::sdk_config().await);
    let worker = SqsWorker::new(config, sqs, env("TASK_QUEUE_URL"))?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
        let (worker, provider) = (worker.clone(), provider.clone());
        async move {
            let response = worker.handle(event.payload, &event.context.request_id).await;
            // Export this batch's spans before the function is frozen.
            if let Some(provider) = provider
                && let Ok(Err(error)) = tokio::task::spawn_blocking(move || provider.force_flush()).await
            {
                tracing::warn!("exporting spans failed: {error}");
            }
            Ok::<_, Error>(response)
        }
    }))
    .await
}
