//! Turn control across processes, on real components: a server on PostgreSQL and a worker over
//! gRPC whose task heartbeat is the default 5 s, so only the pushed `WatchTurn` signal can make
//! these pass in time.
//!
//! - a cancel 0.5 s into an `llmsim-slow` answer idles the session within 1 s; nothing of the turn
//!   but the cancellation's own events is stored after `turn.cancelled`, even after the answer
//!   would have finished;
//! - a message posted while a turn runs is stored for it (201) and answered in the same turn;
//! - a new turn's first task is handed, already leased, to a subscribed worker with room; past
//!   its room tasks are announced and claimed as before;
//! - a context leaves out the conversation the worker holds from an earlier one.
//!
//! Needs `EVERRUNS_TEST_DATABASE_URL` (scripts/test provides it).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Api, Worker, database, durable_vars, serve};

async fn status(api: &Api, session: &str) -> String {
    api.get(&format!("/v1/sessions/{session}")).await["status"].as_str().unwrap().to_owned()
}

/// A worker's gRPC client of `server`, as a worker process connects.
async fn grpc_client(server: &support::Server) -> everruns_worker::client::WorkerClient {
    let vars = std::collections::HashMap::from([
        ("WORKER_GRPC_ADDRESS", server.grpc.clone()),
        ("WORKER_GRPC_AUTH_TOKEN", support::TOKEN.to_owned()),
    ]);
    let config = everruns_worker::DurableWorkerConfig::from_lookup(|name| vars.get(name).cloned());
    everruns_worker::client::connect(&config).await.unwrap()
}

/// A session whose first three turns ("question 0" to "question 2") a worker answered, and that
/// worker.
async fn three_answered_turns(server: &support::Server, api: &Api) -> (String, Worker) {
    let session = api.session("llmsim-echo").await;
    let worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    let mut sse = api.sse(&session, None).await;
    for turn in 0..3 {
        api.say(&session, &format!("question {turn}")).await;
        while sse.next(Duration::from_secs(10)).await.unwrap().event != "session.idled" {}
    }
    (session, worker)
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_reaches_the_remote_worker_at_once() {
    let server = serve(&durable_vars(&database().await)).await;
    let _worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    let api = Api::new(&server.api);
    let session = api.session("llmsim-slow").await;
    let mut sse = api.sse(&session, None).await;
    api.say(&session, "a long story").await;
    while sse.next(Duration::from_secs(10)).await.unwrap().event != "output.message.delta" {}
    tokio::time::sleep(Duration::from_millis(300)).await;

    let answer = api.post(&format!("/v1/sessions/{session}/cancel"), json!({})).await;
    let answered = Instant::now();
    assert_eq!(answer["status"], "cancelled");
    while status(&api, &session).await != "idle" {
        assert!(answered.elapsed() < Duration::from_secs(1), "not idle 1 s after the cancel");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let idle_after = answered.elapsed();
    // llmsim-slow streams for ~2.6 s: an unstopped worker would store its answer by now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let events = api.events(&session).await;
    let kinds = types(&events);
    let cancelled = kinds.iter().position(|t| *t == "turn.cancelled").unwrap();
    assert_eq!(kinds[cancelled + 1..], ["output.message.completed", "session.idled"], "{kinds:?}");
    assert_eq!(events[cancelled + 1]["data"]["message"]["content"][0]["text"], "Work was cancelled by user.");
    assert!(!kinds.contains(&"turn.completed") && !kinds.contains(&"llm.generation"), "{kinds:?}");
    eprintln!("idle {idle_after:?} after the cancel answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_message_during_a_turn_steers_the_remote_worker() {
    let server = serve(&durable_vars(&database().await)).await;
    let _worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    let api = Api::new(&server.api);
    let providers = api.get("/v1/providers").await;
    let llmsim = providers["data"].as_array().unwrap().iter().find(|p| p["provider_type"] == "llmsim").unwrap();
    let model = api
        .post(
            &format!("/v1/providers/{}/models", llmsim["id"].as_str().unwrap()),
            json!({"model_id": "llmsim-echo-ttft-1000", "display_name": "echo after 1 s"}),
        )
        .await;
    let session = api.post("/v1/sessions", json!({"model_id": model["id"]})).await["id"].as_str().unwrap().to_owned();
    let mut sse = api.sse(&session, None).await;
    api.say(&session, "first").await;
    while sse.next(Duration::from_secs(10)).await.unwrap().event != "reason.started" {}
    api.say(&session, "second, while the first runs").await;
    loop {
        let record = sse.next(Duration::from_secs(15)).await.expect("the turn ends");
        if record.event == "session.idled" {
            break;
        }
    }
    let events = api.events(&session).await;
    let kinds = types(&events);
    assert_eq!(kinds.iter().filter(|t| **t == "turn.started").count(), 1, "one turn: {kinds:?}");
    let completed = events.iter().find(|e| e["type"] == "turn.completed").unwrap();
    assert_eq!(completed["data"]["iterations"], 2, "{kinds:?}");
    let answers: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "output.message.completed")
        .map(|e| e["data"]["message"]["content"][0]["text"].as_str().unwrap())
        .collect();
    assert_eq!(answers, ["Echo: first", "Echo: second, while the first runs"]);
    assert_eq!(kinds.last(), Some(&"session.idled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_turn_refuses_malformed_turn_references() {
    use everruns_internal_protocol::v1::TurnRef;
    let server = serve(&durable_vars(&database().await)).await;
    let mut client = grpc_client(&server).await;
    let bad = TurnRef { org_id: "org_nope".into(), session_id: "session_nope".into(), turn_id: "turn_nope".into() };
    let status = client.watch_turn(bad).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_turn_context_refuses_a_malformed_task() {
    use everruns_internal_protocol::v1::GetTurnContextRequest;
    let server = serve(&durable_vars(&database().await)).await;
    let mut client = grpc_client(&server).await;
    for task_json in ["", "{", r#"{"task_id":"task_nope"}"#] {
        for watch in [false, true] {
            let status = client
                .stream_turn_context(GetTurnContextRequest { task_json: task_json.into(), watch, ..Default::default() })
                .await
                .unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{task_json}: {status:?}");
        }
    }
}

/// A worker that subscribes with room gets a new turn's first task on its subscription, already
/// leased to it (no other worker can claim it); while its room is taken, turns are announced and
/// claimed as before; its report frees the room. A subscription with room needs a worker id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_turn_is_handed_to_a_subscribed_worker_with_room() {
    use everruns_internal_protocol::v1::task_notification::Kind;
    use everruns_internal_protocol::v1::{
        ClaimNextTasksRequest, CompleteTaskRequest, SubscribeTaskNotificationsRequest, TaskNotification,
    };
    let server = serve(&durable_vars(&database().await)).await;
    let api = Api::new(&server.api);
    let mut client = grpc_client(&server).await;
    let subscribe =
        |owner: &str, capacity| SubscribeTaskNotificationsRequest { owner: owner.into(), capacity, lease_ms: 30_000 };
    let refused = client.subscribe_task_notifications(subscribe("", 1)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    let mut notifications = client.subscribe_task_notifications(subscribe("handed", 1)).await.unwrap().into_inner();
    let mut next = async || -> TaskNotification {
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), notifications.message()).await.unwrap().unwrap();
            if let Some(n) = n.filter(|n| n.kind() != Kind::Heartbeat) {
                return n;
            }
        }
    };
    let claim = |owner: &str| ClaimNextTasksRequest { owner: owner.into(), lease_ms: 30_000, max: 5 };

    let first = api.session("llmsim-echo").await;
    api.say(&first, "hello").await;
    let handed = next().await;
    assert_eq!(handed.kind(), Kind::TaskHanded);
    let lease = handed.lease.expect("a handed task carries its lease");
    let task: Value = serde_json::from_str(&lease.task.as_ref().unwrap().task_json).unwrap();
    assert_eq!((task["session_id"].as_str(), lease.owner.as_str(), lease.attempt), (Some(first.as_str()), "handed", 1));
    assert_eq!(task["task_id"].as_str(), Some(handed.task_id.as_str()));
    let others = client.claim_next_tasks(claim("other")).await.unwrap().into_inner().leases;
    assert!(others.is_empty(), "the handed task is leased: {others:?}");

    // Room taken: the next turn is announced and claimable.
    let second = api.session("llmsim-echo").await;
    api.say(&second, "hello").await;
    assert_eq!(next().await.kind(), Kind::TaskAvailable);
    let claimed = client.claim_next_tasks(claim("other")).await.unwrap().into_inner().leases;
    assert_eq!(claimed.len(), 1, "{claimed:?}");

    // The report frees the room: the next turn is handed again.
    let done = CompleteTaskRequest {
        task_id: handed.task_id.clone(),
        owner: "handed".into(),
        outcome: "completed".into(),
        task: lease.task.clone(),
    };
    assert!(client.complete_task(done).await.unwrap().into_inner().success);
    let third = api.session("llmsim-echo").await;
    api.say(&third, "hello").await;
    // (The second turn's task may be announced twice: by this server and by its NOTIFY.)
    let second_task: Value = serde_json::from_str(&claimed[0].task.as_ref().unwrap().task_json).unwrap();
    let again = loop {
        let n = next().await;
        if n.kind() != Kind::TaskAvailable || second_task["task_id"].as_str() != Some(n.task_id.as_str()) {
            break n;
        }
    };
    assert_eq!((again.kind(), again.lease.map(|l| l.attempt)), (Kind::TaskHanded, Some(1)));
}

/// A watched context stream: the context (its last part marked), then the turn's signals on the
/// same stream — a cancel stored after the context was read arrives as `Cancelled`, and a stream
/// opened after it shows the cancel in the context's turn events instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_context_stream_carries_the_turns_signals() {
    use everruns_internal_protocol::v1::turn_signal::Kind;
    use everruns_internal_protocol::v1::{ClaimNextTasksRequest, GetTurnContextRequest};
    let server = serve(&durable_vars(&database().await)).await;
    let api = Api::new(&server.api);
    let session = api.session("llmsim-slow").await;
    api.say(&session, "a long story").await;
    let mut client = grpc_client(&server).await;
    let claim = ClaimNextTasksRequest { owner: "test-worker".into(), lease_ms: 30_000, max: 1 };
    let leases = client.claim_next_tasks(claim).await.unwrap().into_inner().leases;
    let task_json = leases[0].task.as_ref().unwrap().task_json.clone();
    let watched = GetTurnContextRequest { task_json: task_json.clone(), watch: true, ..Default::default() };
    let mut stream = client.stream_turn_context(watched.clone()).await.unwrap().into_inner();
    let mut parts = Vec::new();
    while parts.last().is_none_or(|p: &everruns_internal_protocol::v1::GetTurnContextResponse| !p.last_part) {
        parts.push(stream.message().await.unwrap().expect("the context's parts"));
    }
    let context = everruns_internal_protocol::wire::join_context(parts).unwrap();
    assert!(context.turn_events_json.contains("turn.started"), "{}", context.turn_events_json);
    assert!(!context.turn_events_json.contains("turn.cancelled"));

    assert_eq!(api.post(&format!("/v1/sessions/{session}/cancel"), json!({})).await["status"], "cancelled");
    let signal = tokio::time::timeout(Duration::from_secs(2), stream.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(signal.signal.map(|s| s.kind()), Some(Kind::Cancelled));
    assert!(signal.session_json.is_empty() && signal.history_json.is_empty() && !signal.last_part);

    let mut late = client.stream_turn_context(watched).await.unwrap().into_inner();
    let first = late.message().await.unwrap().unwrap();
    assert!(first.last_part && first.turn_events_json.contains("turn.cancelled"), "{}", first.turn_events_json);
}

/// The worker ends a turn on its event stream: the turn's last events are published only once the
/// session is idle, so a client that reads `turn.completed` and posts at once never finds the
/// turn still running (it used to settle the turn a second time beside the worker).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_has_read_turn_completed_finds_the_session_idle() {
    let server = serve(&durable_vars(&database().await)).await;
    let _worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    let api = Api::new(&server.api);
    let session = api.session("llmsim-echo").await;
    let mut sse = api.sse(&session, None).await;
    for turn in 0..10 {
        api.say(&session, &format!("turn {turn}")).await;
        while sse.next(Duration::from_secs(10)).await.expect("the turn ends").event != "turn.completed" {}
        assert_eq!(status(&api, &session).await, "idle", "turn {turn}: still running after turn.completed");
        assert_eq!(sse.next(Duration::from_secs(5)).await.unwrap().event, "session.idled");
    }
    let events = api.events(&session).await;
    let kinds = types(&events);
    assert_eq!(kinds.iter().filter(|t| **t == "session.idled").count(), 10, "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"session.idled"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_stream_refuses_a_turn_end_before_its_last_message() {
    use everruns_internal_protocol::v1::{EmitEventRequest, EndTurnRequest, TurnRef};
    let server = serve(&durable_vars(&database().await)).await;
    let mut client = grpc_client(&server).await;
    let end = EndTurnRequest {
        turn: Some(TurnRef {
            org_id: "org_nope".into(),
            session_id: "session_nope".into(),
            turn_id: "turn_nope".into(),
        }),
        ..EndTurnRequest::default()
    };
    let ended = EmitEventRequest { end_turn: Some(end.clone()), ..EmitEventRequest::default() };
    // An end followed by more, and a malformed end alone: both refused as invalid.
    let batch = vec![ended.clone(), EmitEventRequest { event_json: "{}".into(), ..EmitEventRequest::default() }];
    let status = client.emit_event_stream(futures::stream::iter(batch)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let status = client.emit_event_stream(futures::stream::iter(vec![ended.clone()])).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    // The unary call takes events only.
    let status = client.emit_event(ended).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
}

/// A worker leaves a generation's conversation out when it is the session's fold, and the control
/// plane puts it back: the stored and streamed `llm.generation` of a second turn still carries the
/// whole conversation (the first turn's question and answer, then the new question). A generation
/// whose left-out count does not match the session is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generation_sent_without_its_conversation_is_stored_with_it() {
    use everruns_internal_protocol::v1::EmitEventRequest;
    let server = serve(&durable_vars(&database().await)).await;
    let _worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    let api = Api::new(&server.api);
    let session = api.session("llmsim-echo").await;
    let mut sse = api.sse(&session, None).await;
    for text in ["first question", "second question"] {
        api.say(&session, text).await;
        while sse.next(Duration::from_secs(10)).await.unwrap().event != "session.idled" {}
    }
    let events = api.events(&session).await;
    let generations: Vec<&Value> = events.iter().filter(|e| e["type"] == "llm.generation").collect();
    assert_eq!(generations.len(), 2);
    let texts = |generation: &Value| -> Vec<String> {
        generation["data"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] != "system")
            .map(|m| m["content"][0]["text"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(texts(generations[0]), ["first question"]);
    assert_eq!(texts(generations[1]), ["first question", "Echo: first question", "second question"]);

    // The same generation again, its conversation left out but counted wrong: refused, not stored.
    let mut client = grpc_client(&server).await;
    let mut event = generations[1].clone();
    event["id"] = json!(format!("event_{}", uuid::Uuid::now_v7().simple()));
    event["data"]["messages"] = json!([]);
    let request = EmitEventRequest {
        event_json: event.to_string(),
        conversation_through: 1,
        conversation_messages: 7,
        conversation_omitted: true,
        ..EmitEventRequest::default()
    };
    let status = client.emit_event(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert_eq!(api.events(&session).await.len(), events.len(), "nothing stored");
}

/// A fast iteration reaches the control plane as one burst (the worker holds its events a moment):
/// everything the turn stores after its start, from `reason.started` to `session.idled`, is one
/// write, while the SSE stream still shows every event in the order emitted, the output deltas
/// between the message's start and its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fast_iteration_and_its_end_are_stored_as_one_write() {
    let database = database().await;
    let server = serve(&durable_vars(&database)).await;
    let _worker = Worker::spawn(&server.grpc, Duration::from_secs(60));
    let api = Api::new(&server.api);
    let session = api.session("llmsim-echo-instant").await;
    let mut sse = api.sse(&session, None).await;
    api.say(&session, "one burst please").await;
    let mut streamed = Vec::new();
    loop {
        let record = sse.next(Duration::from_secs(10)).await.expect("the turn ends");
        streamed.push(record.event.clone());
        if record.event == "session.idled" {
            break;
        }
    }
    let at = |kind: &str| streamed.iter().position(|e| e == kind).unwrap_or_else(|| panic!("{kind}: {streamed:?}"));
    let first_delta = at("output.message.delta");
    assert!(at("output.message.started") < first_delta, "{streamed:?}");
    assert!(first_delta < at("output.message.completed"), "{streamed:?}");
    assert!(at("reason.started") < at("turn.completed"), "{streamed:?}");

    let pool = sqlx::PgPool::connect(&database).await.unwrap();
    let writes: Vec<(String, String)> =
        sqlx::query_as("SELECT event_type, xmin::text FROM events ORDER BY sequence").fetch_all(&pool).await.unwrap();
    let after_start: Vec<&(String, String)> = writes.iter().skip_while(|(kind, _)| kind != "reason.started").collect();
    assert_eq!(after_start.last().map(|(kind, _)| kind.as_str()), Some("session.idled"), "{writes:?}");
    let transactions: std::collections::HashSet<&str> = after_start.iter().map(|(_, xmin)| xmin.as_str()).collect();
    assert_eq!(transactions.len(), 1, "one write from reason.started on: {writes:?}");
}

/// A worker that holds a session's stable messages from an earlier context is sent only the rest:
/// the context leaves out what the request names (never more than the fold calls stable), and
/// what the worker puts back together is the whole conversation. A worker that names a fold the
/// control plane has not reached, or none, gets the whole conversation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_context_leaves_out_the_messages_the_worker_holds() {
    use everruns_core::domain::Conversation;
    use everruns_internal_protocol::v1::{ClaimNextTasksRequest, GetTurnContextRequest};
    use everruns_internal_protocol::wire;
    use futures::StreamExt;
    let server = serve(&durable_vars(&database().await)).await;
    let api = Api::new(&server.api);
    let (session, worker) = three_answered_turns(&server, &api).await;
    drop(worker);
    api.say(&session, "question 3").await;
    let mut client = grpc_client(&server).await;
    let claim = ClaimNextTasksRequest { owner: "test-worker".into(), lease_ms: 30_000, max: 1 };
    // (Handed to the stopped worker as its subscription closed, the task is put back at once.)
    let started = Instant::now();
    let lease = loop {
        let leases = client.claim_next_tasks(claim.clone()).await.unwrap().into_inner().leases;
        if let Some(lease) = leases.into_iter().next() {
            break lease;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the fourth turn's task is never claimable");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let task_json = lease.task.as_ref().unwrap().task_json.clone();
    let context = async |client: &mut everruns_worker::client::WorkerClient, known_through, known_messages| {
        let request =
            GetTurnContextRequest { task_json: task_json.clone(), watch: false, known_through, known_messages };
        let parts: Vec<_> = client.stream_turn_context(request).await.unwrap().into_inner().collect().await;
        wire::join_context(parts.into_iter().map(Result::unwrap).collect()).unwrap()
    };

    let whole = context(&mut client, 0, 0).await;
    assert_eq!(whole.history_offset, 0);
    let full = wire::parse_context(&whole, &Conversation::default()).unwrap().history;
    let texts: Vec<String> = full.iter().map(|m| m.text()).collect();
    assert_eq!(texts[..2], ["question 0", "Echo: question 0"]);
    assert_eq!(texts.last().map(String::as_str), Some("question 3"));
    let (through, stable) = (full.through().unwrap(), full.stable());
    assert!(stable >= 6 && stable < full.len(), "stable {stable} of {}", full.len());

    // Holding the first `stable` messages of the fold through an earlier sequence: only the rest.
    let held = full.take(stable);
    let rest = context(&mut client, through - 1, stable as u64).await;
    assert_eq!(rest.history_offset, stable as u64);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&rest.history_json).unwrap().len(), full.len() - stable);
    let joined = wire::parse_context(&rest, &held).unwrap().history;
    assert_eq!(joined, full);
    assert_eq!((joined.through(), joined.stable()), (Some(through), stable));
    // Naming more than is stable leaves out only what is.
    assert_eq!(context(&mut client, through, 10_000).await.history_offset, stable as u64);
    // A fold the control plane has not reached: the whole conversation.
    assert_eq!(context(&mut client, through + 1, stable as u64).await.history_offset, 0);
}

/// A handed task's first context is made from its turn's start, not read: the start subscribed to
/// the session before it wrote, so a cancel stored between the start and the worker's context
/// request reaches the worker as a signal right after the context (whose turn events, as of the
/// start, do not show it). That holds for a fresh session's first turn and for a turn after
/// others in a row, whose conversation is the whole session's. A context another instance reads
/// from the store later shows the cancel and the same conversation, message for message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handed_turns_context_is_made_from_its_start_and_misses_nothing_after_it() {
    use everruns_core::domain::Conversation;
    use everruns_internal_protocol::v1::task_notification::Kind;
    use everruns_internal_protocol::v1::turn_signal::Kind as Signal;
    use everruns_internal_protocol::v1::{
        GetTurnContextRequest, GetTurnContextResponse, SubscribeTaskNotificationsRequest,
    };
    use everruns_internal_protocol::wire;
    let database = database().await;
    let server = serve(&durable_vars(&database)).await;
    // Another instance on the same database: its folds come from the store alone.
    let elsewhere = serve(&durable_vars(&database)).await;
    let api = Api::new(&server.api);
    let (session, worker) = three_answered_turns(&server, &api).await;
    // More room than the worker (50): the next new turns are handed to this client.
    let mut client = grpc_client(&server).await;
    let subscribe = SubscribeTaskNotificationsRequest { owner: "primed".into(), capacity: 256, lease_ms: 30_000 };
    let mut notifications = client.subscribe_task_notifications(subscribe).await.unwrap().into_inner();

    let fresh = api.session("llmsim-echo").await;
    let whole = ["question 0", "Echo: question 0", "question 1", "Echo: question 1", "question 2", "Echo: question 2"];
    for (session, earlier) in [(&session, &whole[..]), (&fresh, &[][..])] {
        api.say(session, "question 3").await;
        let lease = loop {
            let n = tokio::time::timeout(Duration::from_secs(5), notifications.message()).await.unwrap().unwrap();
            if let Some(lease) = n.filter(|n| n.kind() == Kind::TaskHanded).and_then(|n| n.lease) {
                break lease;
            }
        };
        let task_json = lease.task.unwrap().task_json;
        assert!(task_json.contains(session.as_str()), "{task_json}");
        assert_eq!(api.post(&format!("/v1/sessions/{session}/cancel"), json!({})).await["status"], "cancelled");

        let watched = GetTurnContextRequest { task_json: task_json.clone(), watch: true, ..Default::default() };
        let mut stream = client.stream_turn_context(watched).await.unwrap().into_inner();
        let mut parts = Vec::new();
        while parts.last().is_none_or(|p: &GetTurnContextResponse| !p.last_part) {
            parts.push(stream.message().await.unwrap().expect("the context's parts"));
        }
        let context = wire::join_context(parts).unwrap();
        assert!(context.turn_events_json.contains("turn.started"), "{}", context.turn_events_json);
        assert!(
            !context.turn_events_json.contains("turn.cancelled"),
            "made from the start: {}",
            context.turn_events_json
        );
        let signal = tokio::time::timeout(Duration::from_secs(2), stream.message()).await.unwrap().unwrap().unwrap();
        assert_eq!(signal.signal.map(|s| s.kind()), Some(Signal::Cancelled), "the cancel after the start reaches it");
        let primed = wire::parse_context(&context, &Conversation::default()).unwrap().history;
        let got: Vec<String> = primed.iter().map(|m| m.text()).collect();
        let expected: Vec<&str> = earlier.iter().copied().chain(["question 3"]).collect();
        assert_eq!(got, expected, "the whole conversation through the start");

        let read = GetTurnContextRequest { task_json, watch: false, ..Default::default() };
        let mut other = grpc_client(&elsewhere).await;
        let parts: Vec<_> =
            futures::StreamExt::collect::<Vec<_>>(other.stream_turn_context(read).await.unwrap().into_inner()).await;
        let again = wire::join_context(parts.into_iter().map(Result::unwrap).collect()).unwrap();
        assert!(again.turn_events_json.contains("turn.cancelled"), "{}", again.turn_events_json);
        let read_history = wire::parse_context(&again, &Conversation::default()).unwrap().history;
        let read_texts: Vec<String> = read_history.iter().map(|m| m.text()).collect();
        assert_eq!(read_texts, got, "the primed conversation is the stored one");
        let json = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        assert_eq!(json(&again.history_json), json(&context.history_json), "message for message, as sent");
    }
    drop(worker);
}
