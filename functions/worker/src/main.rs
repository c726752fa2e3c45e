//! `everruns-task-worker`: the worker Lambda. Settings (the gRPC token may come from Secrets
//! Manager), clients built once per cold start, then one iteration task per SQS record.

use everruns_worker_function::SqsWorker;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt().with_ansi(false).without_time().with_env_filter(filter()).init();
    let env = |name: &str| std::env::var(name).ok();
    let secrets = everruns_aws::secrets::resolve(&["WORKER_GRPC_AUTH_TOKEN"], env).await?;
    let config = everruns_worker::DurableWorkerConfig::from_lookup(|n| secrets.get(n).cloned().or_else(|| env(n)));
    let sqs = aws_sdk_sqs::Client::new(&everruns_aws::sdk_config().await);
    let worker = SqsWorker::new(config, sqs, env("TASK_QUEUE_URL"))?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, Error>(worker.handle(event.payload, &event.context.request_id).await) }
    }))
    .await
}

fn filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
}
