//! # everruns-aws
//!
//! The AWS side of the serverless split, behind the core's ports:
//! - [`sqs`]: [`SqsTaskDelivery`](sqs::SqsTaskDelivery) (the `TaskDelivery` port) commits each
//!   iteration task, then sends one message for it (the body is a [`TaskMessage`](sqs::TaskMessage));
//!   [`drain_dead_letters`](sqs::drain_dead_letters)
//!   gives up on tasks whose messages reached the dead-letter queue, exactly once each;
//! - [`secrets`]: `<NAME>_SECRET_ARN` variables resolved from Secrets Manager once per cold start.
//!
//! Clients are built from [`sdk_config`]: the standard AWS environment (region, credentials),
//! and `AWS_ENDPOINT_URL` for local emulation (moto).

pub mod secrets;
pub mod sqs;

/// The shared AWS configuration: the standard environment chain, `AWS_ENDPOINT_URL` honoured,
/// and a region default of `us-east-1` when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
pub async fn sdk_config() -> aws_config::SdkConfig {
    let set = |name: &str| std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = set("AWS_ENDPOINT_URL") {
        loader = loader.endpoint_url(url);
    }
    if set("AWS_REGION").is_none() && set("AWS_DEFAULT_REGION").is_none() {
        loader = loader.region(aws_config::Region::new("us-east-1"));
    }
    loader.load().await
}
