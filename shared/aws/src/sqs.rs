//! SQS as the task queue of the serverless split. One message per iteration task, sent after the
//! task row is committed; the message only names the task (the task store stays the source of
//! truth, so a duplicate or stale delivery is harmless: the claim answers "finished" or "leased").

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use everruns_core::ids::{SessionId, TaskId, TurnId};
use everruns_core::ports::{DEFAULT_MAX_ATTEMPTS, IterationTask, PortError, PortResult, TaskDelivery, TaskStore};
use serde::{Deserialize, Serialize};

/// The body of a task message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskMessage {
    /// The task to claim.
    pub task_id: TaskId,
    /// Its turn (for logs).
    pub turn_id: TurnId,
    /// Its session (for logs).
    pub session_id: SessionId,
    /// Its iteration (for logs).
    pub iteration: u32,
}

impl TaskMessage {
    /// The message of a task.
    pub fn of(task: &IterationTask) -> Self {
        Self { task_id: task.task_id, turn_id: task.turn_id, session_id: task.session_id, iteration: task.iteration }
    }

    /// Parses a message body; the error names what is wrong.
    pub fn parse(body: &str) -> Result<Self, String> {
        serde_json::from_str(body).map_err(|e| format!("not a task message: {e}"))
    }
}

/// The serverless split's [`TaskDelivery`]: a task is committed to the task store, then sent to
/// `TASK_QUEUE_URL` and marked published. A crash between the two leaves it unpublished;
/// [`SqsTaskDelivery::publish_stranded`] (the bridge's sweeper) sends it later.
#[derive(Clone)]
pub struct SqsTaskDelivery {
    client: Client,
    queue_url: String,
    store: Arc<dyn TaskStore>,
}

impl SqsTaskDelivery {
    /// A delivery committing to `store` and sending to `queue_url`.
    pub fn new(client: Client, queue_url: impl Into<String>, store: Arc<dyn TaskStore>) -> Self {
        Self { client, queue_url: queue_url.into(), store }
    }

    /// Sends one committed task and marks it published.
    async fn publish(&self, task: &IterationTask) -> PortResult<()> {
        let body = serde_json::to_string(&TaskMessage::of(task)).map_err(|e| PortError::Internal(e.to_string()))?;
        let mut send = self.client.send_message().queue_url(&self.queue_url).message_body(body);
        for (name, value) in everruns_core::trace_context::current().unwrap_or_default() {
            send = with_trace_field(send, &name, value);
        }
        send.send().await.map_err(|error| {
            let detail = error.as_service_error().map(|e| e.to_string()).unwrap_or_else(|| error.to_string());
            PortError::Unavailable(format!("the task queue cannot be reached: {detail}"))
        })?;
        self.store.mark_published(task.task_id).await
    }

    /// Sends the tasks committed more than `grace` ago and never published (a crash between
    /// commit and publish). Returns how many were sent.
    pub async fn publish_stranded(&self, grace: Duration) -> PortResult<usize> {
        let stranded = self.store.unpublished(grace).await?;
        let mut sent = 0;
        for task in stranded {
            tracing::warn!(task = %task.task_id, "re-publishing a task stranded between commit and publish");
            match self.publish(&task).await {
                Ok(()) => sent += 1,
                Err(error) => tracing::warn!(task = %task.task_id, "the sweeper could not publish: {error}"),
            }
        }
        Ok(sent)
    }
}

#[async_trait::async_trait]
impl TaskDelivery for SqsTaskDelivery {
    async fn deliver(&self, task: IterationTask) -> PortResult<()> {
        self.store.enqueue(&task, DEFAULT_MAX_ATTEMPTS).await?;
        self.publish(&task).await
    }

    async fn complete(&self, task_id: TaskId, owner: &str, next: Option<&IterationTask>) -> PortResult<bool> {
        let completed = self.store.complete(task_id, owner, next).await?;
        if completed && let Some(next) = next {
            // Committed with the completion; a failure to send leaves it to the sweeper.
            if let Err(error) = self.publish(next).await {
                tracing::warn!(task = %next.task_id, "publishing the next iteration failed (the sweeper retries): {error}");
            }
        }
        Ok(completed)
    }

    fn retry_later(&self, _task_id: TaskId, _delay: Duration) {
        // The worker reports the record as failed: SQS redelivers it after its visibility timeout.
    }

    fn queues_with_turn(&self) -> bool {
        true
    }

    /// Sends a task committed with its turn's start (a failure leaves it to the sweeper, like
    /// a completion's next task: the turn has started either way).
    async fn announce(&self, task: IterationTask) -> PortResult<()> {
        if let Err(error) = self.publish(&task).await {
            tracing::warn!(task = %task.task_id, "publishing a turn's first task failed (the sweeper retries): {error}");
        }
        Ok(())
    }
}

/// Carries one trace field: `x-amzn-trace-id` as the `AWSTraceHeader` system attribute (what
/// X-Ray and Lambda read), the W3C fields as string message attributes of the same name.
fn with_trace_field(
    send: aws_sdk_sqs::operation::send_message::builders::SendMessageFluentBuilder,
    name: &str,
    value: String,
) -> aws_sdk_sqs::operation::send_message::builders::SendMessageFluentBuilder {
    use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeNameForSends, MessageSystemAttributeValue};
    if name == "x-amzn-trace-id" {
        match MessageSystemAttributeValue::builder().data_type("String").string_value(value).build() {
            Ok(attribute) => {
                send.message_system_attributes(MessageSystemAttributeNameForSends::AwsTraceHeader, attribute)
            }
            Err(_) => send,
        }
    } else {
        match MessageAttributeValue::builder().data_type("String").string_value(value).build() {
            Ok(attribute) => send.message_attributes(name, attribute),
            Err(_) => send,
        }
    }
}

/// The trace context of a received task message (see [`SqsTaskDelivery`]).
pub fn trace_carrier(
    message_attributes: impl IntoIterator<Item = (String, Option<String>)>,
    aws_trace_header: Option<&str>,
) -> everruns_core::trace_context::Carrier {
    let mut pairs: Vec<(String, String)> =
        message_attributes.into_iter().filter_map(|(name, value)| Some((name, value?))).collect();
    if let Some(header) = aws_trace_header {
        pairs.push(("x-amzn-trace-id".to_owned(), header.to_owned()));
    }
    everruns_core::trace_context::from_pairs(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// Long-polls the dead-letter queue forever: each task message there is a task whose deliveries
/// ran out; it is abandoned in the store (exactly once) and `on_dead` terminalises its turn. The
/// message is deleted once handled; a malformed one is logged and deleted.
pub async fn drain_dead_letters<F, Fut>(client: Client, dlq_url: String, store: Arc<dyn TaskStore>, on_dead: F)
where
    F: Fn(IterationTask) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    loop {
        let received =
            client.receive_message().queue_url(&dlq_url).max_number_of_messages(10).wait_time_seconds(5).send().await;
        let messages = match received {
            Ok(output) => output.messages.unwrap_or_default(),
            Err(error) => {
                let detail = error.as_service_error().map(|e| e.to_string()).unwrap_or_else(|| error.to_string());
                tracing::warn!("dead-letter queue unreachable: {detail}");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        for message in messages {
            let handled = match TaskMessage::parse(message.body().unwrap_or_default()) {
                Err(reason) => {
                    tracing::warn!(
                        message = message.message_id().unwrap_or_default(),
                        "dropping a dead letter: {reason}"
                    );
                    true
                }
                Ok(parsed) => match store.abandon(parsed.task_id).await {
                    Ok(Some(task)) => {
                        tracing::warn!(task = %task.task_id, turn = %task.turn_id, "task dead-lettered; failing its turn");
                        match on_dead(task).await {
                            Ok(()) => true,
                            Err(error) => {
                                tracing::error!("terminalising a dead-lettered task failed: {error}");
                                false
                            }
                        }
                    }
                    Ok(None) => true,
                    Err(error) => {
                        tracing::warn!("abandoning a dead-lettered task failed: {error}");
                        false
                    }
                },
            };
            if handled && let Some(receipt) = message.receipt_handle() {
                let _ = client.delete_message().queue_url(&dlq_url).receipt_handle(receipt).send().await;
            }
        }
    }
}
