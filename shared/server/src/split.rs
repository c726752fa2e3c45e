//! The serverless split's parts of the control plane: the SQS task delivery (API function and
//! bridge), and the bridge's background work — the sweeper that re-publishes tasks stranded
//! between commit and publish, the dead-letter drain that fails turns whose task ran out of
//! deliveries (exactly once), and the relay that brings events appended by API functions to the
//! bridge's SSE subscribers (PostgreSQL `NOTIFY` on append; push, no polling).

use std::sync::Arc;
use std::time::Duration;

use everruns_aws::sqs::{SqsTaskDelivery, drain_dead_letters};
use everruns_core::ports::{EventBus, EventFilter, Stores, TaskStore};
use everruns_core::turns::TurnService;
use everruns_store_pg::{Appended, PgEventListener, PgPool};
use tokio::task::JoinHandle;

use everruns_services::config::ServerConfig;
use everruns_services::dormancy::Dormancy;

/// How often the sweeper looks, and how old an unpublished task must be to count as stranded.
pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// See [`SWEEP_EVERY`].
pub const SWEEP_GRACE: Duration = Duration::from_secs(5);

/// The process's SQS client (built once, shared by the delivery and the dead-letter drain).
pub async fn sqs_client() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&everruns_aws::sdk_config().await)
}

/// The task delivery to `TASK_QUEUE_URL`, committing to `tasks`.
pub fn sqs_delivery(
    config: &ServerConfig,
    client: &aws_sdk_sqs::Client,
    tasks: Arc<dyn TaskStore>,
) -> anyhow::Result<Arc<SqsTaskDelivery>> {
    let url = config.task_queue_url.clone().ok_or_else(|| anyhow::anyhow!("TASK_QUEUE_URL is not set"))?;
    Ok(Arc::new(SqsTaskDelivery::new(client.clone(), url, tasks)))
}

/// Starts the bridge's background work of the split.
pub fn bridge_tasks(
    config: &ServerConfig,
    client: &aws_sdk_sqs::Client,
    pool: &PgPool,
    tasks: &Arc<dyn TaskStore>,
    delivery: &Arc<SqsTaskDelivery>,
    turns: &TurnService,
    dormancy: &Dormancy,
) -> Vec<JoinHandle<()>> {
    let mut handles = vec![
        tokio::spawn(sweep_stranded(delivery.clone(), dormancy.clone())),
        tokio::spawn(relay_events(pool.clone(), turns.stores().clone(), turns.bus().clone(), dormancy.clone())),
    ];
    if let Some(dlq) = config.task_dlq_url.clone() {
        let (client, store, turns) = (client.clone(), tasks.clone(), turns.clone());
        handles.push(tokio::spawn(async move {
            drain_dead_letters(client, dlq, store, move |task| {
                let turns = turns.clone();
                async move { turns.terminalise(&task).await.map_err(|e| e.to_string()) }
            })
            .await;
        }));
    }
    handles
}

/// Every [`SWEEP_EVERY`]: sends the tasks committed but never published (a crash between commit
/// and publish) that are older than [`SWEEP_GRACE`].
async fn sweep_stranded(delivery: Arc<SqsTaskDelivery>, dormancy: Dormancy) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    loop {
        ticks.tick().await;
        dormancy.awake().await;
        if let Err(error) = delivery.publish_stranded(SWEEP_GRACE).await {
            tracing::warn!("sweeper: {error}");
        }
    }
}

/// Relays events appended by other processes (API functions) to this process's live bus.
async fn relay_events(pool: PgPool, stores: Stores, bus: Arc<dyn EventBus>, dormancy: Dormancy) {
    loop {
        dormancy.awake().await;
        match PgEventListener::listen(&pool).await {
            Ok(mut listener) => loop {
                // Dormant: close the LISTEN connection (reopened on the next activity).
                let received = tokio::select! {
                    received = listener.recv() => received,
                    _ = dormancy.dormant() => break,
                };
                match received {
                    Ok(Some((session, Appended::Event(id)))) => match stores.events.get_event(session, id).await {
                        Ok(Some(event)) => bus.emit(Arc::new(event)),
                        Ok(None) => {}
                        Err(error) => tracing::warn!("relaying event {id}: {error}"),
                    },
                    Ok(Some((session, Appended::Sequences(first, last)))) => {
                        let run = EventFilter {
                            after_sequence: Some(first - 1),
                            before_sequence: Some(last.saturating_add(1)),
                            ..EventFilter::default()
                        };
                        match stores.events.list_events(session, &run).await {
                            Ok(events) => events.into_iter().for_each(|event| bus.emit(Arc::new(event))),
                            Err(error) => tracing::warn!("relaying events {first}..{last} of {session}: {error}"),
                        }
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!("event notifications interrupted: {error}");
                        break;
                    }
                }
            },
            Err(error) => tracing::warn!("cannot listen for appended events: {error}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
