//! The API function's composition (the serverless split): the REST router only, on PostgreSQL
//! connected lazily (the bridge migrates and seeds), tasks delivered to SQS, appended events
//! announced to the bridge through PostgreSQL, its live bus local to the invocation, and nothing
//! running in the background.

use std::sync::Arc;

use everruns_core::ports::TaskStore;
use everruns_services::dormancy::Dormancy;
use everruns_store_memory::MemoryEventBus;

use super::{Base, Composed, observed, turn_service};

pub(super) async fn compose(base: Base<'_>) -> anyhow::Result<Composed> {
    if base.config.task_queue_url.is_none() {
        anyhow::bail!("the API function needs TASK_QUEUE_URL (the SQS queue of iteration tasks)");
    }
    let url = base.config.database_url.clone().unwrap_or_default();
    let pool = everruns_store_pg::connect_lazy(&url)?;
    let tasks: Arc<dyn TaskStore> = Arc::new(everruns_store_pg::PgTaskStore::new(pool.clone()));
    // Appended events are announced to the bridge through PostgreSQL.
    let stores = everruns_store_pg::pg_stores_notifying(pool);
    // The bridge seeds and registers the bootstrap key.
    let default_model =
        everruns_services::seed::default_model(base.platform, base.config.grade, base.config.llmsim_pacing);
    let sqs = crate::split::sqs_client().await;
    let delivery = crate::split::sqs_delivery(base.config, &sqs, tasks.clone())?;
    let turns = turn_service(&base, &stores, observed(Arc::new(MemoryEventBus::new()), &base), default_model)
        .with_delivery(delivery);
    Ok(Composed {
        stores,
        tasks: Some(tasks),
        turns,
        dormancy: Dormancy::after(None),
        background: Vec::new(),
        #[cfg(feature = "long-lived")]
        grpc: None,
    })
}
