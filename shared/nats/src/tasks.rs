//! Task notifications over NATS: `task.available.{activity_type}` subjects replace PostgreSQL
//! NOTIFY. The instance that dispatches a task announces it ([`NatsTaskAnnouncer`]); every
//! instance listens ([`task_wakeups`]) and wakes the workers connected to it. A hint, like NOTIFY:
//! workers still poll, so an announcement lost while NATS is down only delays a claim.

use everruns_core::ids::TaskId;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::link::{NatsError, NatsLink};

/// How long [`task_wakeups`] waits for the server to confirm its subscription before going on.
const SUBSCRIBED_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// The activity type of an iteration task.
pub const ITERATION_ACTIVITY: &str = "iteration";

/// The subject tasks of `activity` are announced on.
pub fn task_subject(activity: &str) -> String {
    format!("task.available.{activity}")
}

/// Announces tasks on `task.available.iteration` as `<instance> <task id>`.
#[derive(Debug, Clone)]
pub struct NatsTaskAnnouncer {
    link: NatsLink,
    subject: String,
}

impl NatsTaskAnnouncer {
    /// An announcer of iteration tasks over `link`.
    pub fn new(link: NatsLink) -> Self {
        Self { link, subject: task_subject(ITERATION_ACTIVITY) }
    }

    /// Tells the other instances that `task` can be claimed (sent in the background; a failure
    /// is logged, the workers' polling covers it).
    pub fn announce(&self, task: TaskId) {
        let (client, subject) = (self.link.client.clone(), self.subject.clone());
        let payload = format!("{} {task}", self.link.instance);
        tokio::spawn(async move {
            if let Err(error) = client.publish(subject, payload.into()).await {
                tracing::warn!(%task, "task announcement not sent over NATS: {error}");
            }
        });
    }
}

/// Tasks announced by the other instances, for any activity type. The subscription survives
/// reconnections (announcements sent meanwhile are lost; workers poll). It is in effect at the
/// server when this returns: a task another instance announces afterwards reaches it.
pub async fn task_wakeups(link: &NatsLink) -> Result<BoxStream<'static, TaskId>, NatsError> {
    let subscriber = link.client.subscribe(task_subject("*")).await.map_err(|e| NatsError::Connect(e.to_string()))?;
    // `subscribe` only queues the SUB. The server handles a connection's operations in order, so
    // once it answers a request sent after the SUB (a request nobody serves: "no responders"
    // comes back at once), the subscription is registered. Without this, an announcement from
    // another connection right after startup could pass before it.
    let probe = format!("_everruns.sync.{}", link.instance);
    let _ = tokio::time::timeout(SUBSCRIBED_WITHIN, link.client.request(probe, bytes::Bytes::new())).await;
    let own = link.instance.clone();
    Ok(subscriber
        .filter_map(move |message| {
            let own = own.clone();
            async move {
                let text = std::str::from_utf8(&message.payload).ok()?;
                let (instance, task) = text.split_once(' ')?;
                (instance != &*own).then(|| TaskId::parse(task).ok()).flatten()
            }
        })
        .boxed())
}
