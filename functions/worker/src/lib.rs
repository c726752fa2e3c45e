//! The worker Lambda's handler: each SQS record names ONE iteration task. The record is claimed
//! over gRPC from the bridge, run with the core engine (the same [`TaskRunner`] as the container
//! worker), and its message's visibility is extended while it runs. The batch response names only
//! the records SQS must deliver again.
//!
//! | claim / run result | record |
//! |---|---|
//! | malformed body, bridge unreachable, attempt failed and will retry | retry (batch item failure) |
//! | another invocation holds a live lease | retry (redelivered later: finished by then, or lapsed and ours) |
//! | finished, unknown, exhausted (terminalised by the bridge), completed, failed for good, lease lost | done |

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use everruns_aws::sqs::TaskMessage;
use everruns_core::engine::{EngineConfig, IterationEngine};
use everruns_internal_protocol::v1::ClaimTaskRequest;
use everruns_internal_protocol::v1::claim_task_response::Outcome;
use everruns_worker::client::ConnectError;
use everruns_worker::{AbortOnDrop, DurableWorkerConfig, RunResult, TaskRunner};

/// What happened to one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Delete the message.
    Done,
    /// Report it as a batch item failure, with the reason (logged).
    Retry(String),
}

/// The handler's state, built once per cold start.
#[derive(Clone)]
pub struct SqsWorker {
    runner: TaskRunner,
    sqs: aws_sdk_sqs::Client,
    queue_url: Option<String>,
    visibility: Duration,
}

impl SqsWorker {
    /// Builds the handler from the worker's environment (`WORKER_GRPC_*`, `DEPLOYMENT_GRADE`,
    /// `WORKER_TASK_LEASE_SECS`, `WORKER_HEARTBEAT_INTERVAL_MS`) and `TASK_QUEUE_URL` (for
    /// visibility extensions). Connects to the bridge lazily.
    pub fn new(
        config: DurableWorkerConfig,
        sqs: aws_sdk_sqs::Client,
        queue_url: Option<String>,
    ) -> Result<Self, ConnectError> {
        let platform = everruns_platform::oss_platform_definition();
        everruns_driver_common::outbound::install(config.outbound);
        let config = Arc::new(config);
        let client = everruns_worker::client::connect_lazy(&config)?;
        let capabilities = Arc::new(platform.capability_registry().clone());
        let engine = IterationEngine::new(
            Arc::new(platform.driver_registry().clone()),
            capabilities.clone(),
            EngineConfig { grade: config.grade, ..EngineConfig::default() },
        );
        // The message stays invisible for a little longer than the lease, extended every beat.
        let visibility = config.lease + Duration::from_secs(5);
        Ok(Self {
            runner: TaskRunner { client, engine, capabilities, config, known: Default::default() },
            sqs,
            queue_url,
            visibility,
        })
    }

    /// Handles a batch: records run concurrently; failures are reported per record.
    pub async fn handle(&self, event: SqsEvent, invocation: &str) -> SqsBatchResponse {
        let runs = event.records.iter().map(|record| self.record(record, invocation));
        let outcomes = futures::future::join_all(runs).await;
        let mut response = SqsBatchResponse::default();
        for (record, outcome) in event.records.iter().zip(outcomes) {
            if let Disposition::Retry(reason) = outcome {
                let id = record.message_id.clone().unwrap_or_default();
                tracing::warn!(message = %id, "record will be delivered again: {reason}");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// Handles one record.
    pub async fn record(&self, record: &SqsMessage, invocation: &str) -> Disposition {
        let message = match TaskMessage::parse(record.body.as_deref().unwrap_or_default()) {
            Ok(message) => message,
            Err(reason) => return Disposition::Retry(reason),
        };
        let owner = format!("lambda:{invocation}:{}", record.message_id.as_deref().unwrap_or("?"));
        let request = ClaimTaskRequest {
            task_id: message.task_id.to_string(),
            owner,
            lease_ms: u32::try_from(self.runner.config.lease.as_millis()).unwrap_or(u32::MAX),
        };
        let claimed = match self.runner.client.clone().claim_task(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Disposition::Retry(format!("claim failed: {}", status.message())),
        };
        let lease = match Outcome::try_from(claimed.outcome) {
            Ok(Outcome::Claimed) => match claimed.lease {
                Some(lease) => lease,
                None => return Disposition::Retry("claimed without a lease".to_owned()),
            },
            Ok(Outcome::LeasedElsewhere) => return Disposition::Retry("leased by another invocation".to_owned()),
            Ok(_) => return Disposition::Done,
            Err(_) => return Disposition::Retry(format!("unknown claim outcome {}", claimed.outcome)),
        };
        let extender = self.extend_visibility(record.receipt_handle.clone()).map(AbortOnDrop);
        // The task carries the trace of the request that started its turn.
        let attributes =
            record.message_attributes.iter().map(|(name, value)| (name.clone(), value.string_value.clone()));
        let carrier =
            everruns_aws::sqs::trace_carrier(attributes, record.attributes.get("AWSTraceHeader").map(String::as_str));
        let result = everruns_core::trace_context::scope(carrier, self.runner.run(lease)).await;
        drop(extender);
        match result {
            Ok(RunResult::Completed(_) | RunResult::LeaseLost | RunResult::Failed { will_retry: false }) => {
                Disposition::Done
            }
            Ok(RunResult::Failed { will_retry: true }) => Disposition::Retry("the attempt failed".to_owned()),
            Err(error) => Disposition::Retry(format!("run failed: {error}")),
        }
    }

    /// Keeps the message invisible while the iteration runs (the SQS side of the heartbeat).
    fn extend_visibility(&self, receipt: Option<String>) -> Option<tokio::task::JoinHandle<()>> {
        let (queue_url, receipt) = (self.queue_url.clone()?, receipt?);
        let (sqs, every) = (self.sqs.clone(), self.runner.config.heartbeat_interval);
        let seconds = i32::try_from(self.visibility.as_secs()).unwrap_or(i32::MAX);
        Some(tokio::spawn(async move {
            // The receive made the message invisible for the queue's timeout (above the lease):
            // the first extension waits one heartbeat, off the iteration's critical path.
            loop {
                tokio::time::sleep(every).await;
                let change = sqs.change_message_visibility().queue_url(&queue_url).receipt_handle(&receipt);
                if let Err(error) = change.visibility_timeout(seconds).send().await {
                    tracing::warn!("extending the message's visibility failed: {error}");
                }
            }
        }))
    }
}
