//! The agent's toolbox end to end, driven over REST the way a client drives it: `llmsim-tools`
//! reads an initial file through `read_file` and its content reaches the answer; `bash` runs over
//! the session's files; a tool refusing its arguments is a result the model reads and the turn
//! still completes. Both where the engine runs beside the stores (DEV_MODE) and in a remote
//! worker over gRPC, whose tools reach the workspace through the control plane (containers).
//!
//! Needs `EVERRUNS_TEST_DATABASE_URL` (scripts/test provides it).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use everruns_testkit::DeploymentKind;
use everruns_testkit::server::embedded_vars;
use serde_json::{Value, json};
use support::{Api, Server, Worker, database, durable_vars, serve};

const README: &str = "# Demo Project\n\nThis workspace contains starter files.\n";

/// A session on `llmsim-tools` with two initial files (README.md read-only) and `extra` capabilities.
async fn session(api: &Api, capabilities: Value) -> String {
    let models = api.get("/v1/models").await;
    let model =
        models["data"].as_array().unwrap().iter().find(|m| m["model_id"] == "llmsim-tools").unwrap()["id"].clone();
    let body = json!({
        "model_id": model,
        "capabilities": capabilities,
        "initial_files": [
            {"path": "/workspace/README.md", "content": README, "encoding": "text", "is_readonly": true},
            {"path": "/workspace/src/app.py", "content": "def greet(name):\n    return f'hello, {name}'\n"}
        ]
    });
    api.post("/v1/sessions", body).await["id"].as_str().unwrap().to_owned()
}

/// Says `text`, waits for the turn's end and returns the turn's events.
async fn turn(api: &Api, session: &str, text: &str) -> Vec<Value> {
    let before = api.events(session).await.len();
    api.say(session, text).await;
    let ended = everruns_testkit::wait::until(Duration::from_secs(20), || async {
        api.events(session).await[before..].iter().any(|e| e["type"] == "session.idled")
    })
    .await;
    assert!(ended, "the turn did not end");
    api.events(session).await[before..].to_vec()
}

fn answer(events: &[Value]) -> String {
    let last = events.iter().rev().find(|e| e["type"] == "output.message.completed").unwrap();
    last["data"]["message"]["content"].as_array().unwrap().iter().filter_map(|p| p["text"].as_str()).collect()
}

fn tool_results<'a>(events: &'a [Value], tool: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "tool.completed" && e["data"]["tool_name"] == tool)
        .map(|e| &e["data"])
        .collect()
}

/// `GET /v1/capabilities` lists the toolbox with categories, icons and tools.
async fn the_toolbox_is_listed(api: &Api) {
    let listed = api.get("/v1/capabilities?limit=100").await;
    let find = |id: &str| listed["data"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap();
    for (id, tools) in [
        (
            "session_file_system",
            &["read_file", "write_file", "edit_file", "list_directory", "grep_files", "delete_file", "stat_file"][..],
        ),
        ("virtual_bash", &["bash"][..]),
        ("web_fetch", &["web_fetch"][..]),
        ("session_storage", &["kv_store", "secret_store"][..]),
        ("stateless_todo_list", &["write_todos"][..]),
        ("test_weather", &["get_weather", "get_forecast"][..]),
    ] {
        let capability = find(id);
        let names: Vec<&str> =
            capability["tool_definitions"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, tools, "{id}");
        assert!(capability["category"].is_string() && capability["icon"].is_string(), "{capability}");
    }
    assert_eq!(find("virtual_bash")["dependencies"], json!(["session_file_system"]));
    let generic = api.get("/v1/harnesses?search=generic").await;
    let refs: Vec<&str> =
        generic["data"][0]["capabilities"].as_array().unwrap().iter().map(|c| c["ref"].as_str().unwrap()).collect();
    assert_eq!(refs, ["current_time", "session_file_system", "web_fetch"]);
}

async fn the_toolbox_works(api: &Api) {
    the_toolbox_is_listed(api).await;
    // read_file on an initial file (the generic harness carries the file system).
    let plain = session(api, json!([])).await;
    let events = turn(api, &plain, "Please read README.md").await;
    let reads = tool_results(&events, "read_file");
    assert_eq!(reads.len(), 1, "{events:#?}");
    assert_eq!(reads[0]["success"], true, "{:?}", reads[0]);
    assert!(answer(&events).contains("This workspace contains starter files."), "{}", answer(&events));
    assert!(events.iter().any(|e| e["type"] == "turn.completed"));

    // A file that is not there: a tool error the model reads, and the turn completes.
    let events = turn(api, &plain, "Now read missing.txt").await;
    let reads = tool_results(&events, "read_file");
    assert_eq!(reads[0]["success"], false);
    assert!(reads[0]["error"].as_str().unwrap().contains("does not exist"), "{:?}", reads[0]);
    assert!(events.iter().any(|e| e["type"] == "turn.completed"), "{events:#?}");

    // bash over the session's files, its writes kept in the workspace.
    let shell = session(api, json!([{"ref": "virtual_bash"}])).await;
    let events = turn(api, &shell, "run `ls /workspace && cat README.md && echo done > out.txt`").await;
    let runs = tool_results(&events, "bash");
    assert_eq!(runs.len(), 1, "{events:#?}");
    let said = answer(&events);
    assert!(said.contains("src") && said.contains("This workspace contains starter files."), "{said}");
    let events = turn(api, &shell, "Please read out.txt").await;
    assert!(answer(&events).contains("done"), "{}", answer(&events));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_toolbox_in_dev_mode() {
    let server = Server::start(DeploymentKind::Embedded, &embedded_vars()).await;
    the_toolbox_works(&Api::new(&server.api)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_toolbox_in_a_remote_worker() {
    let server = serve(&durable_vars(&database().await)).await;
    let _worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    the_toolbox_works(&Api::new(&server.api)).await;
}
