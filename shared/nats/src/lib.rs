//! NATS JetStream adapters (`NATS_URL`): push-based delivery between control-plane instances.
//!
//! - [`NatsEventBus`]: live events of every session through JetStream; deltas and
//!   `llm.generation` skip PostgreSQL; SSE subscribers on any instance see a turn run through
//!   another.
//! - [`NatsTaskAnnouncer`] and [`task_wakeups`]: `task.available.{activity_type}` replaces
//!   PostgreSQL NOTIFY for waking workers.
//! - [`NatsLink::connect`] fails fast so startup can fall back (PG NOTIFY + in-memory delivery).

mod bus;
mod link;
mod tasks;

pub use bus::{LIVE_ONLY_WITH_NATS, NatsEventBus, OUTBOX_CAPACITY, event_subject};
pub use link::{EVENT_RETENTION, EVENT_STREAM, EVENT_SUBJECT_PREFIX, NatsError, NatsLink, parse_nats_urls};
pub use tasks::{ITERATION_ACTIVITY, NatsTaskAnnouncer, task_subject, task_wakeups};
