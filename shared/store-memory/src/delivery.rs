//! `ChannelTaskDelivery`: the in-process task delivery, an unbounded tokio channel whose receiver
//! the in-process worker loop drains. Nothing is durable, so there is nothing to commit first: a
//! task is sent as it is delivered, and a completion only sends the next iteration.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use std::time::Duration;

use everruns_core::ids::TaskId;
use everruns_core::ports::{IterationTask, PortError, PortResult, TaskDelivery};
use tokio::sync::mpsc;

/// The in-process [`TaskDelivery`]. Clones send to the same receiver.
#[derive(Debug, Clone)]
pub struct ChannelTaskDelivery {
    sender: mpsc::UnboundedSender<IterationTask>,
}

impl ChannelTaskDelivery {
    /// A delivery and the receiver its tasks arrive on.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<IterationTask>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }
}

#[async_trait::async_trait]
impl TaskDelivery for ChannelTaskDelivery {
    async fn deliver(&self, task: IterationTask) -> PortResult<()> {
        self.sender
            .send(task)
            .map_err(|_| PortError::Unavailable("the task channel's receiver has been dropped".to_owned()))
    }

    async fn complete(&self, _task_id: TaskId, _owner: &str, next: Option<&IterationTask>) -> PortResult<bool> {
        if let Some(next) = next {
            self.deliver(next.clone()).await?;
        }
        Ok(true)
    }

    fn retry_later(&self, _task_id: TaskId, _delay: Duration) {
        // The in-process worker does not retry: a failed iteration ends its turn.
    }
}
