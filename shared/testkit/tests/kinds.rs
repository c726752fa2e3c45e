//! The testkit against the real composition: a server starts as the kind asked for, a worker
//! signals readiness once subscribed, and a turn runs through both.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use everruns_testkit::db::with_fresh_database;
use everruns_testkit::server::{durable_vars, embedded_vars};
use everruns_testkit::{Api, DeploymentKind, Server, Worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_server_runs_a_turn_in_process() {
    let server = Server::start(DeploymentKind::Embedded, &embedded_vars()).await;
    assert!(server.grpc.is_empty(), "DEV_MODE serves no worker gRPC");
    let api = Api::new(&server.api);
    let session = api.session("llmsim-echo").await;
    api.say(&session, "hello").await;
    api.wait_for(&session, "turn.completed", Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_containers_server_and_a_ready_worker_run_a_turn() {
    with_fresh_database(|database| async move {
        let server = Server::start(DeploymentKind::Containers, &durable_vars(&database)).await;
        // A worker that would poll only once a minute: once ready, the wake-up alone brings it.
        let mut worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
        worker.ready().await;
        let api = Api::new(&server.api);
        let session = api.session("llmsim-echo").await;
        let started = std::time::Instant::now();
        api.say(&session, "hello").await;
        api.wait_for(&session, "turn.completed", Duration::from_secs(10)).await;
        assert!(started.elapsed() < Duration::from_secs(5), "woken, not polled");
        drop((worker, server));
    })
    .await;
}

#[tokio::test]
#[should_panic(expected = "the variables describe a Embedded server")]
async fn a_kind_the_variables_do_not_describe_is_refused() {
    Server::start(DeploymentKind::Containers, &embedded_vars()).await;
}
