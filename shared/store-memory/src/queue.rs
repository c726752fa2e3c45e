//! `ChannelTaskQueue`: the in-process task queue, an unbounded tokio channel whose receiver the
//! in-process worker loop drains.
//! Part of the honest in-memory adapter set (DEV_MODE and the in-process runtime; one process only,
//! not for multi-instance use).

use everruns_core::ports::{IterationTask, PortError, PortResult, TaskQueue};
use tokio::sync::mpsc;

/// The in-process [`TaskQueue`]. Clones publish to the same receiver.
#[derive(Debug, Clone)]
pub struct ChannelTaskQueue {
    sender: mpsc::UnboundedSender<IterationTask>,
}

impl ChannelTaskQueue {
    /// A queue and the receiver its tasks arrive on.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<IterationTask>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }
}

#[async_trait::async_trait]
impl TaskQueue for ChannelTaskQueue {
    async fn publish(&self, task: IterationTask) -> PortResult<()> {
        self.sender
            .send(task)
            .map_err(|_| PortError::Unavailable("the task queue receiver has been dropped".to_owned()))
    }
}
