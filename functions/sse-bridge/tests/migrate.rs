//! `everruns-server migrate`: applies the migrations to an empty database and exits; refuses
//! unknown commands and a missing database URL with a clear error. Needs
//! `EVERRUNS_TEST_DATABASE_URL` (scripts/test starts PostgreSQL and sets it).

use std::process::{Command, Output};

use sqlx::{Connection, PgConnection};

fn server(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_everruns-server"));
    command.args(args).env_clear().env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("everruns-server runs")
}

#[test]
fn unknown_commands_are_refused() {
    let output = server(&["frobnicate"], &[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown command 'frobnicate'"));
}

#[test]
fn migrate_needs_a_database_url() {
    let output = server(&["migrate"], &[]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL"), "{output:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_applies_the_schema_and_exits() {
    let url = everruns_testkit::db::fresh_database().await;

    let output = server(&["migrate"], &[("DATABASE_URL", &url)]);
    let mut db = PgConnection::connect(&url).await.expect("migrated database");
    let applied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success").fetch_one(&mut db).await.unwrap();
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    // Idempotent: a second run finds nothing to do.
    let again = server(&["migrate"], &[("DATABASE_URL", &url)]);
    db.close().await.unwrap();
    everruns_testkit::db::drop_database(&url).await;

    assert!(output.status.success(), "{output:?}");
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations")).unwrap().count();
    assert_eq!(applied as usize, migrations);
    assert_eq!(tables, 1);
    assert!(again.status.success(), "{again:?}");
}
