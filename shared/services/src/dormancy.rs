//! `Dormancy`: a long-lived instance that lets its database sleep. With
//! `DATABASE_IDLE_RELEASE_SECS` set (the lean profile: Aurora Serverless v2 pauses at 0 ACU only
//! while no connection is open), an instance that has seen no request, no SSE connection and no
//! worker call for that long goes dormant: its background database loops (reaper, sweeper) stop
//! ticking, its `LISTEN` connections close, and its pool closes idle connections after the same
//! window — so it holds no database connection at all. The next request, stream or worker call
//! wakes it: the loops resume and the listeners reconnect (the database resumes on the first
//! query, ~15 s for a paused Aurora cluster).
//!
//! Without the variable an instance never goes dormant and nothing here costs more than an atomic
//! store per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// The dormancy of one instance (cheap to clone; every clone is the same state).
#[derive(Clone)]
pub struct Dormancy {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    window: Duration,
    started: Instant,
    /// Milliseconds since `started` of the last activity.
    last: AtomicU64,
    /// Activities in progress (open SSE connections, requests being served).
    busy: AtomicUsize,
    dormant: watch::Sender<bool>,
}

/// Holds the instance awake while alive (an SSE connection, a request in flight).
pub struct Awake {
    inner: Option<Arc<Inner>>,
}

impl Drop for Awake {
    fn drop(&mut self) {
        if let Some(inner) = &self.inner {
            inner.mark();
            inner.busy.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Inner {
    fn mark(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Release);
        if *self.dormant.borrow() {
            self.dormant.send_replace(false);
        }
    }

    fn quiet_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Acquire));
        self.started.elapsed().saturating_sub(last)
    }
}

impl Default for Dormancy {
    fn default() -> Self {
        Self::never()
    }
}

impl std::fmt::Debug for Dormancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Some(inner) => write!(f, "Dormancy(after {:?}, dormant: {})", inner.window, self.is_dormant()),
            None => f.write_str("Dormancy(never)"),
        }
    }
}

impl Dormancy {
    /// An instance that never goes dormant.
    pub fn never() -> Self {
        Self { inner: None }
    }

    /// An instance that goes dormant after `window` without activity (`None`: never). Starts the
    /// watcher task.
    pub fn after(window: Option<Duration>) -> Self {
        let Some(window) = window else { return Self::never() };
        let (dormant, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            window,
            started: Instant::now(),
            last: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
            dormant,
        });
        tokio::spawn(watch_quiet(Arc::downgrade(&inner)));
        Self { inner: Some(inner) }
    }

    /// Records activity now (waking a dormant instance).
    pub fn touch(&self) {
        if let Some(inner) = &self.inner {
            inner.mark();
        }
    }

    /// Keeps the instance awake until the returned guard is dropped.
    pub fn hold(&self) -> Awake {
        if let Some(inner) = &self.inner {
            inner.busy.fetch_add(1, Ordering::AcqRel);
            inner.mark();
        }
        Awake { inner: self.inner.clone() }
    }

    /// Whether the instance is dormant now.
    pub fn is_dormant(&self) -> bool {
        self.inner.as_ref().is_some_and(|inner| *inner.dormant.borrow())
    }

    /// Resolves at once when awake, else when the instance wakes.
    pub async fn awake(&self) {
        if let Some(inner) = &self.inner {
            let mut dormant = inner.dormant.subscribe();
            let _ = dormant.wait_for(|d| !*d).await;
        }
    }

    /// Resolves when the instance goes dormant (never, when dormancy is off).
    pub async fn dormant(&self) {
        match &self.inner {
            Some(inner) => {
                let mut dormant = inner.dormant.subscribe();
                if dormant.wait_for(|d| *d).await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            None => std::future::pending().await,
        }
    }
}

/// Puts the instance to sleep once it has been quiet (and not busy) for the whole window.
async fn watch_quiet(inner: std::sync::Weak<Inner>) {
    loop {
        let Some(strong) = inner.upgrade() else { return };
        let wait = strong.window.saturating_sub(strong.quiet_for()).max(Duration::from_millis(50));
        let mut dormant = strong.dormant.subscribe();
        drop(strong);
        tokio::time::sleep(wait).await;
        let Some(strong) = inner.upgrade() else { return };
        if strong.busy.load(Ordering::Acquire) == 0 && strong.quiet_for() >= strong.window {
            tracing::info!(
                "no activity for {:?}: releasing database connections until the next request",
                strong.window
            );
            strong.dormant.send_replace(true);
            drop(strong);
            // Sleep until woken.
            let _ = dormant.wait_for(|d| !*d).await;
            tracing::info!("activity: resuming database work");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn quiet_for_the_window_goes_dormant_and_activity_wakes() {
        let dormancy = Dormancy::after(Some(Duration::from_secs(10)));
        tokio::time::sleep(Duration::from_secs(6)).await;
        dormancy.touch();
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(!dormancy.is_dormant(), "activity 6 s ago pushed the window back");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(dormancy.is_dormant());
        dormancy.touch();
        assert!(!dormancy.is_dormant());
        let held = dormancy.hold();
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!dormancy.is_dormant(), "an open stream keeps it awake");
        drop(held);
        tokio::time::sleep(Duration::from_secs(11)).await;
        assert!(dormancy.is_dormant());
        assert!(!Dormancy::never().is_dormant());
    }
}
