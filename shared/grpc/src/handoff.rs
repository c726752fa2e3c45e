//! `WorkerSlots`: the room subscribed workers have for tasks handed to them as they are committed.
//!
//! A worker subscribing to task notifications may declare a capacity. While it has room, a new
//! turn's first task is committed already leased to it (see
//! [`TaskDelivery::reserve`](everruns_core::ports::TaskDelivery::reserve)) and its lease travels
//! down the worker's notification stream: no wake-up, no claim. Room is counted here, in the
//! process that hosts the stream:
//! - a reservation takes a place until its task is handed (or it is dropped: the start did not
//!   apply);
//! - a handed task holds its place until its worker reports on it (completes, fails or ends its
//!   turn) or its lease lapses without a heartbeat (the worker lost it; it is reclaimable then).
//!
//! The count is a promise the worker keeps loosely: it runs a handed task at once, with a slot of
//! its own when it has one. A lease that cannot reach its worker (the stream closed between the
//! reservation and the commit, or before the stream sent it) is put back at once as a failed
//! attempt, and this instance's workers are woken for it; a lease sent to a worker that dies
//! lapses and is reclaimed like any claimed task's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use everruns_core::ids::TaskId;
use everruns_core::ports::{FailOutcome, Reservation, TaskLease, TaskStore};
use tokio::sync::{broadcast, mpsc};

/// Most tasks one worker may hold handed at once, whatever it declares.
pub const MAX_CAPACITY: usize = 256;

/// The room of this instance's subscribed workers.
pub struct WorkerSlots {
    inner: Mutex<Inner>,
    tasks: Arc<dyn TaskStore>,
    wake: broadcast::Sender<TaskId>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    slots: Vec<Slot>,
}

/// One subscription's room.
struct Slot {
    id: u64,
    owner: String,
    capacity: usize,
    lease: Duration,
    reserved: usize,
    /// Handed tasks not reported on yet, with when their lease lapses.
    held: HashMap<TaskId, Instant>,
    sender: mpsc::UnboundedSender<TaskLease>,
}

impl Slot {
    fn room(&self) -> usize {
        self.capacity.saturating_sub(self.reserved + self.held.len())
    }
}

impl WorkerSlots {
    /// No subscribed worker yet. A lease that cannot reach its worker is failed in `tasks` (so it
    /// is claimable again) and announced on `wake`.
    pub fn new(tasks: Arc<dyn TaskStore>, wake: broadcast::Sender<TaskId>) -> Arc<Self> {
        Arc::new(Self { inner: Mutex::default(), tasks, wake })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a worker with room for `capacity` handed tasks (at most [`MAX_CAPACITY`]),
    /// leased for `lease` each; the returned subscription yields their leases and gives the room
    /// up when dropped.
    pub fn subscribe(self: &Arc<Self>, owner: String, capacity: usize, lease: Duration) -> Handed {
        let (sender, receiver) = mpsc::unbounded_channel();
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let capacity = capacity.min(MAX_CAPACITY);
        inner.slots.push(Slot { id, owner, capacity, lease, reserved: 0, held: HashMap::new(), sender });
        Handed { slots: self.clone(), id, receiver }
    }

    /// A place with the worker that has the most room, if any has room.
    pub fn reserve(self: &Arc<Self>) -> Option<Box<dyn Reservation>> {
        let now = Instant::now();
        let mut inner = self.lock();
        for slot in &mut inner.slots {
            slot.held.retain(|_, lapses| *lapses > now);
        }
        let slot = inner.slots.iter_mut().filter(|s| s.room() > 0).max_by_key(|s| s.room())?;
        slot.reserved += 1;
        Some(Box::new(SlotReservation {
            slots: self.clone(),
            slot: slot.id,
            owner: slot.owner.clone(),
            lease: slot.lease,
            open: true,
        }))
    }

    /// Its worker reported on `task` (or it was never handed): its place is free.
    pub fn finished(&self, task: TaskId) {
        for slot in &mut self.lock().slots {
            if slot.held.remove(&task).is_some() {
                return;
            }
        }
    }

    /// A heartbeat renewed `task`'s lease for `lease`.
    pub fn renewed(&self, task: TaskId, lease: Duration) {
        for slot in &mut self.lock().slots {
            if let Some(lapses) = slot.held.get_mut(&task) {
                *lapses = Instant::now() + lease;
                return;
            }
        }
    }

    /// How many tasks are handed and not reported on, across workers.
    pub fn held(&self) -> usize {
        self.lock().slots.iter().map(|s| s.held.len()).sum()
    }

    fn hand(&self, slot: u64, lease: TaskLease) {
        let undelivered = {
            let mut inner = self.lock();
            match inner.slots.iter_mut().find(|s| s.id == slot) {
                Some(slot) => {
                    slot.reserved = slot.reserved.saturating_sub(1);
                    let task = lease.task.task_id;
                    slot.held.insert(task, Instant::now() + slot.lease);
                    match slot.sender.send(lease) {
                        Ok(()) => None,
                        Err(mpsc::error::SendError(lease)) => {
                            slot.held.remove(&task);
                            Some(lease)
                        }
                    }
                }
                None => Some(lease),
            }
        };
        if let Some(lease) = undelivered {
            self.reclaim(lease);
        }
    }

    fn unreserve(&self, slot: u64) {
        if let Some(slot) = self.lock().slots.iter_mut().find(|s| s.id == slot) {
            slot.reserved = slot.reserved.saturating_sub(1);
        }
    }

    /// Puts back a task whose lease never reached its worker: a failed attempt, claimable at once.
    fn reclaim(&self, lease: TaskLease) {
        // No runtime (a process tearing down): the lease lapses and is reclaimed instead.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (tasks, wake) = (self.tasks.clone(), self.wake.clone());
        runtime.spawn(async move {
            let id = lease.task.task_id;
            let reason = "the worker it was handed to left before it received it";
            match tasks.fail(id, &lease.owner, reason, Duration::ZERO).await {
                Ok(FailOutcome::WillRetry) => {
                    let _ = wake.send(id);
                }
                Ok(FailOutcome::NotOwned) => {}
                Ok(FailOutcome::Terminal) => {
                    tracing::error!(task = %id, "a handed task was out of attempts when put back; the reaper skips it")
                }
                Err(error) => {
                    tracing::warn!(task = %id, "putting back a handed task failed (its lease lapses): {error}")
                }
            }
        });
    }
}

/// A reserved place; dropped unhanded, it is free again.
struct SlotReservation {
    slots: Arc<WorkerSlots>,
    slot: u64,
    owner: String,
    lease: Duration,
    open: bool,
}

impl Reservation for SlotReservation {
    fn owner(&self) -> &str {
        &self.owner
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    fn hand(mut self: Box<Self>, lease: TaskLease) {
        self.open = false;
        self.slots.hand(self.slot, lease);
    }
}

impl Drop for SlotReservation {
    fn drop(&mut self) {
        if self.open {
            self.slots.unreserve(self.slot);
        }
    }
}

/// One worker's subscription: the leases handed to it. Dropped (the stream closed), its room is
/// gone and leases it had not sent yet are put back.
pub struct Handed {
    slots: Arc<WorkerSlots>,
    id: u64,
    receiver: mpsc::UnboundedReceiver<TaskLease>,
}

impl Handed {
    /// The next lease handed to this worker.
    pub async fn recv(&mut self) -> Option<TaskLease> {
        self.receiver.recv().await
    }
}

impl Drop for Handed {
    fn drop(&mut self) {
        self.slots.lock().slots.retain(|s| s.id != self.id);
        self.receiver.close();
        while let Ok(lease) = self.receiver.try_recv() {
            self.slots.reclaim(lease);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use everruns_core::ids::{MessageId, OrgId, SessionId, TurnId};
    use everruns_core::ports::{IterationTask, TaskStatus};
    use everruns_store_memory::MemoryTaskStore;

    fn task() -> IterationTask {
        IterationTask {
            task_id: TaskId::new(),
            org_id: OrgId::DEFAULT,
            session_id: SessionId::new(),
            turn_id: TurnId::new(),
            input_message_id: MessageId::new(),
            iteration: 1,
        }
    }

    /// A task queued and leased to `owner`, as a handed start commits it.
    async fn leased(tasks: &MemoryTaskStore, owner: &str) -> TaskLease {
        let task = task();
        tasks.enqueue(&task, 3).await.unwrap();
        match tasks.claim(task.task_id, owner, Duration::from_secs(30)).await.unwrap() {
            everruns_core::ports::ClaimOutcome::Claimed(lease) => lease,
            other => panic!("not claimed: {other:?}"),
        }
    }

    fn slots() -> (Arc<WorkerSlots>, Arc<MemoryTaskStore>, broadcast::Receiver<TaskId>) {
        let tasks = Arc::new(MemoryTaskStore::new());
        let (wake, woken) = broadcast::channel(8);
        (WorkerSlots::new(tasks.clone(), wake), tasks, woken)
    }

    #[tokio::test]
    async fn room_is_taken_by_reservations_and_held_tasks_and_freed_by_reports() {
        let (slots, tasks, _woken) = slots();
        assert!(slots.reserve().is_none(), "no worker subscribed");
        let mut handed = slots.subscribe("w".into(), 2, Duration::from_secs(30));
        let first = slots.reserve().expect("room for two");
        let second = slots.reserve().expect("room for two");
        assert!(slots.reserve().is_none(), "both places reserved");
        drop(second);
        let second = slots.reserve().expect("a dropped reservation frees its place");
        assert_eq!((first.owner(), first.lease()), ("w", Duration::from_secs(30)));
        let lease = leased(&tasks, "w").await;
        first.hand(lease.clone());
        assert_eq!(handed.recv().await, Some(lease.clone()), "the lease reaches the worker");
        assert_eq!(slots.held(), 1);
        drop(second);
        assert!(slots.reserve().is_some(), "one place left");
        slots.finished(lease.task.task_id);
        assert_eq!(slots.held(), 0, "a report frees the place");
    }

    #[tokio::test]
    async fn a_held_task_whose_lease_lapses_frees_its_place_unless_renewed() {
        let (slots, tasks, _woken) = slots();
        let _handed = slots.subscribe("w".into(), 1, Duration::from_millis(40));
        let reserved = slots.reserve().expect("room");
        let lease = leased(&tasks, "w").await;
        reserved.hand(lease.clone());
        assert!(slots.reserve().is_none(), "held");
        slots.renewed(lease.task.task_id, Duration::from_millis(200));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(slots.reserve().is_none(), "renewed past the first lease");
        tokio::time::sleep(Duration::from_millis(160)).await;
        assert!(slots.reserve().is_some(), "lapsed: the place is free");
    }

    #[tokio::test]
    async fn a_lease_that_cannot_reach_its_worker_is_put_back_and_announced() {
        let (slots, tasks, mut woken) = slots();
        let handed = slots.subscribe("w".into(), 1, Duration::from_secs(30));
        let reserved = slots.reserve().expect("room");
        drop(handed);
        let lease = leased(&tasks, "w").await;
        reserved.hand(lease.clone());
        let id = tokio::time::timeout(Duration::from_secs(5), woken.recv()).await.unwrap().unwrap();
        assert_eq!(id, lease.task.task_id);
        assert_eq!(tasks.status(id).await.unwrap(), Some(TaskStatus::Pending), "claimable again");
        let again = tasks.claim_next("other", Duration::from_secs(30), 5).await.unwrap();
        assert_eq!(again.iter().map(|l| l.task.task_id).collect::<Vec<_>>(), vec![id]);
        assert!(slots.reserve().is_none(), "the closed subscription has no room");
    }

    #[tokio::test]
    async fn leases_not_sent_when_the_stream_closes_are_put_back() {
        let (slots, tasks, mut woken) = slots();
        let handed = slots.subscribe("w".into(), 4, Duration::from_secs(30));
        let lease = leased(&tasks, "w").await;
        slots.reserve().expect("room").hand(lease.clone());
        drop(handed);
        let id = tokio::time::timeout(Duration::from_secs(5), woken.recv()).await.unwrap().unwrap();
        assert_eq!(id, lease.task.task_id);
        assert_eq!(tasks.status(id).await.unwrap(), Some(TaskStatus::Pending));
    }

    #[tokio::test]
    async fn the_worker_with_the_most_room_is_chosen_and_capacity_is_bounded() {
        let (slots, _tasks, _woken) = slots();
        let _a = slots.subscribe("a".into(), 1, Duration::from_secs(30));
        let _b = slots.subscribe("b".into(), 3, Duration::from_secs(30));
        let first = slots.reserve().unwrap();
        assert_eq!(first.owner(), "b");
        let _huge = slots.subscribe("c".into(), 1_000_000, Duration::from_secs(30));
        let mut count = 0;
        let mut kept = Vec::new();
        while let Some(r) = slots.reserve() {
            kept.push(r);
            count += 1;
            assert!(count <= MAX_CAPACITY + 4, "capacity is bounded");
        }
        assert_eq!(count, MAX_CAPACITY + 1 + 2, "c's bounded room, a's one, b's two left");
    }
}
