//! The pool of [`pool_options`]: a connection used moments ago is handed out without a ping (no
//! round trip before the statement), and one idle for [`PING_AFTER_IDLE`] is pinged, so a
//! connection the database closed meanwhile is replaced before a statement meets it.

mod support;

use everruns_store_pg::{PING_AFTER_IDLE, PgPool, pool_options};
use support::with_database;

/// Backend pids of `pool`'s connections: one statement per connection, all held at once.
async fn backends(pool: &PgPool, connections: u32) -> Vec<i32> {
    let mut held = Vec::new();
    for _ in 0..connections {
        held.push(pool.acquire().await.expect("acquire"));
    }
    let mut pids = Vec::new();
    for connection in &mut held {
        pids.push(sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(&mut **connection).await.expect("pid"));
    }
    pids
}

/// When the backend `pid` last changed state: every message it answers (a ping too) sets it.
async fn state_change(admin: &PgPool, pid: i32) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("SELECT state_change FROM pg_stat_activity WHERE pid = $1")
        .bind(pid)
        .fetch_one(admin)
        .await
        .expect("state of the backend")
}

#[tokio::test]
async fn an_idle_connection_killed_by_the_database_is_replaced_before_use() {
    with_database(|_, admin| async move {
        let pool = pool_options().max_connections(2).connect_with((*admin.connect_options()).clone()).await.unwrap();
        let killed = backends(&pool, 2).await;
        let terminated: i64 = sqlx::query_scalar("SELECT count(pg_terminate_backend(pid)) FROM unnest($1::int[]) pid")
            .bind(&killed)
            .fetch_one(&admin)
            .await
            .expect("terminate the pool's connections");
        assert_eq!(terminated, 2);
        tokio::time::sleep(PING_AFTER_IDLE + std::time::Duration::from_millis(100)).await;

        let now = backends(&pool, 2).await;
        assert!(now.iter().all(|pid| !killed.contains(pid)), "killed {killed:?}, now {now:?}");
        pool.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_connection_used_moments_ago_is_handed_out_without_a_ping() {
    with_database(|_, admin| async move {
        let pool = pool_options().max_connections(1).connect_with((*admin.connect_options()).clone()).await.unwrap();
        let pid = backends(&pool, 1).await[0];
        // The backend reports itself idle as it answers the statement's Sync: let it get there.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let settled = state_change(&admin, pid).await;
        // A ping (Sync, answered by ReadyForQuery) is a state change of the backend (`idle`
        // again, at a new time). sqlx also pings a connection as it comes back to the pool, so
        // look while the connection is still held.
        let held = pool.acquire().await.expect("acquire");
        assert_eq!(state_change(&admin, pid).await, settled, "the backend saw a message");
        drop(held);
        assert_eq!(backends(&pool, 1).await, [pid]);
        pool.close().await;
    })
    .await;
}
