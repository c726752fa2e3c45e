//! Braintrust through the real server: a DEV_MODE server observed by `BraintrustLogger` logs
//! each `llm.generation` to a local fake Braintrust API (project looked up by name, rows
//! inserted to its id); with the fake down, turns are unaffected.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::routing::post;
use axum::{Json, Router};
use everruns_braintrust::{BraintrustConfig, BraintrustLogger, FlushOutcome, LoggerOptions};
use everruns_server::{ServerAppBuilder, ServerConfig};
use serde_json::{Value, json};
use support::{Api, closed_port};
use tokio::net::TcpListener;

const PROJECT: &str = "0f0e0d0c-0b0a-4909-8807-060504030201";

/// A fake Braintrust: `POST /v1/project` and `POST /v1/project_logs/{id}/insert`, recorded.
async fn fake() -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let (projects, inserts) = (seen.clone(), seen.clone());
    let app = Router::new()
        .route(
            "/v1/project",
            post(move |Json(body): Json<Value>| async move {
                projects.lock().unwrap().push(("project".into(), body.clone()));
                Json(json!({"id": PROJECT, "name": body["name"]}))
            }),
        )
        .route(
            "/v1/project_logs/{id}/insert",
            post(move |Path(id): Path<String>, Json(body): Json<Value>| async move {
                inserts.lock().unwrap().push((format!("insert {id}"), body));
                Json(json!({"row_ids": []}))
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

async fn server(logger: &BraintrustLogger) -> Api {
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 0;
    let app = ServerAppBuilder::new(config).observe(Arc::new(logger.clone())).build().await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = Api::new(&format!("http://{}/api", http.local_addr().unwrap()));
    tokio::spawn(app.serve(http, std::future::pending()));
    api
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generation_of_a_turn_is_logged_to_the_project() {
    let (url, seen) = fake().await;
    let config = BraintrustConfig::new("bt-test-key").with_api_url(url).unwrap();
    let logger = BraintrustLogger::spawn(config, LoggerOptions::default()).unwrap();
    let api = server(&logger).await;
    let session = api.session("llmsim-tools").await;
    api.say(&session, "What time is it? Please use get_current_time.").await;
    api.wait_for(&session, "session.idled", Duration::from_secs(15)).await;
    assert!(matches!(logger.flush().await, FlushOutcome::Done));

    let generations: Vec<Value> =
        api.events(&session).await.into_iter().filter(|e| e["type"] == "llm.generation").collect();
    assert!(generations.len() >= 2, "a tool-using turn reasons twice");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], ("project".to_owned(), json!({"name": "My Project"})), "looked up by the default name");
    let rows: Vec<Value> = seen
        .iter()
        .filter(|(kind, _)| *kind == format!("insert {PROJECT}"))
        .flat_map(|(_, body)| body["events"].as_array().unwrap().clone())
        .collect();
    let logged: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    let stored: Vec<&str> = generations.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(logged, stored, "each generation once, by its event id");
    assert_eq!(rows[0]["metadata"]["model"], generations[0]["data"]["metadata"]["model"]);
    assert!(rows[0]["metrics"]["tokens"].as_u64().is_some(), "{}", rows[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turns_are_unaffected_when_braintrust_is_down() {
    let config =
        BraintrustConfig::new("bt-test-key").with_api_url(format!("http://127.0.0.1:{}", closed_port())).unwrap();
    let logger = BraintrustLogger::spawn(config, LoggerOptions::default()).unwrap();
    let api = server(&logger).await;
    let started = Instant::now();
    for round in 0..3 {
        let session = api.session("llmsim-echo").await;
        api.say(&session, &format!("round {round}")).await;
        api.wait_for(&session, "session.idled", Duration::from_secs(10)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5), "turns took {:?}", started.elapsed());
    assert!(matches!(logger.flush().await, FlushOutcome::Held(3)), "kept for later, never blocking");
}
