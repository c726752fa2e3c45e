//! The serverless split on real components: PostgreSQL, moto's SQS (queue + dead-letter queue
//! with a redrive policy), the bridge (SSE + worker gRPC + sweeper + dead-letter drain + event
//! relay), the API composition serving REST, and the worker Lambda's handler fed by a poller that
//! plays the SQS event source mapping (batches, partial batch failures, deletes).
//!
//! Needs `EVERRUNS_TEST_DATABASE_URL` and `AWS_ENDPOINT_URL` (scripts/test starts PostgreSQL and
//! moto_server on 127.0.0.1); fails loudly without them.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::QueueAttributeName;
use everruns_server::{ServerAppBuilder, ServerConfig};
use everruns_testkit::db::fresh_database as database;
use everruns_testkit::env::required;
use everruns_worker::DurableWorkerConfig;
use everruns_worker_function::SqsWorker;
use serde_json::{Value, json};
use tokio::net::TcpListener;

const TOKEN: &str = "split-test-token";

struct Split {
    api: String,
    bridge: String,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    dlq: String,
    grpc: String,
    http: reqwest::Client,
}

async fn queues(sqs: &aws_sdk_sqs::Client) -> (String, String) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dlq = sqs.create_queue().queue_name(format!("tasks-dlq-{id}")).send().await.unwrap().queue_url.unwrap();
    let attrs =
        sqs.get_queue_attributes().queue_url(&dlq).attribute_names(QueueAttributeName::QueueArn).send().await.unwrap();
    let arn = attrs.attributes.unwrap()[&QueueAttributeName::QueueArn].clone();
    let redrive = json!({"deadLetterTargetArn": arn, "maxReceiveCount": "3"}).to_string();
    let queue = sqs
        .create_queue()
        .queue_name(format!("tasks-{id}"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, "4")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

fn config(vars: &HashMap<&str, String>) -> ServerConfig {
    ServerConfig::from_lookup(|name| vars.get(name).cloned())
}

async fn start() -> Split {
    start_traced(None).await
}

/// The split with the bridge's events observed by `listener` (which also continues each turn's
/// trace from the context its worker brings).
async fn start_traced(listener: Option<everruns_telemetry::OtelEventListener>) -> Split {
    required("AWS_ENDPOINT_URL");
    let sqs = aws_sdk_sqs::Client::new(&everruns_aws::sdk_config().await);
    let (queue, dlq) = queues(&sqs).await;
    let database_url = database().await;
    let http_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = grpc_listener.local_addr().unwrap().to_string();
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("DATABASE_URL", database_url);
    vars.insert("SECRETS_ENCRYPTION_KEY", "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into());
    vars.insert("WORKER_GRPC_AUTH_TOKEN", TOKEN.into());
    vars.insert("DEPLOYMENT_GRADE", "dev".into());
    vars.insert("RATE_LIMIT_API_REQUESTS_PER_MINUTE", "0".into());
    vars.insert("TASK_QUEUE_URL", queue.clone());
    vars.insert("TASK_DLQ_URL", dlq.clone());
    let mut bridge_builder = ServerAppBuilder::new(config(&vars));
    if let Some(listener) = listener {
        bridge_builder = bridge_builder
            .observe(std::sync::Arc::new(listener.clone()))
            .continue_traces(std::sync::Arc::new(listener));
    }
    let bridge_app = bridge_builder.build().await.unwrap();
    let bridge = format!("http://{}/api", http_listener.local_addr().unwrap());
    tokio::spawn(bridge_app.serve_all(http_listener, Some(grpc_listener), std::future::pending()));

    let api_app = ServerAppBuilder::new(config(&vars)).api_function().build().await.unwrap();
    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/api", api_listener.local_addr().unwrap());
    tokio::spawn(async move { axum_serve(api_listener, api_app.router).await });
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Split { api, bridge, sqs, queue, dlq, grpc, http }
}

async fn axum_serve(listener: TcpListener, router: axum::Router) {
    axum::serve(listener, router).await.unwrap();
}

impl Split {
    fn worker_config(&self, address: &str) -> DurableWorkerConfig {
        let vars: HashMap<&str, String> = HashMap::from([
            ("WORKER_GRPC_ADDRESS", address.to_owned()),
            ("WORKER_GRPC_AUTH_TOKEN", TOKEN.to_owned()),
            ("DEPLOYMENT_GRADE", "dev".to_owned()),
            ("WORKER_TASK_LEASE_SECS", "3".to_owned()),
            ("WORKER_HEARTBEAT_INTERVAL_MS", "500".to_owned()),
            ("WORKER_GRPC_CONNECT_TIMEOUT", "2".to_owned()),
        ]);
        DurableWorkerConfig::from_lookup(|name| vars.get(name).cloned())
    }

    fn worker(&self, address: &str) -> SqsWorker {
        SqsWorker::new(self.worker_config(address), self.sqs.clone(), Some(self.queue.clone())).unwrap()
    }

    /// One receive from the queue, as the event source mapping would batch it.
    async fn receive(&self, max: i32) -> Vec<SqsMessage> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue)
            .max_number_of_messages(max)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        out.messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id;
                record.receipt_handle = m.receipt_handle;
                record.body = m.body;
                // As the event source mapping delivers them: message attributes and system
                // attributes (AWSTraceHeader) by name.
                for (name, value) in m.message_attributes.unwrap_or_default() {
                    let mut attribute = aws_lambda_events::event::sqs::SqsMessageAttribute::default();
                    attribute.string_value = value.string_value;
                    attribute.data_type = Some(value.data_type);
                    record.message_attributes.insert(name, attribute);
                }
                for (name, value) in m.attributes.unwrap_or_default() {
                    record.attributes.insert(name.as_str().to_owned(), value);
                }
                record
            })
            .collect()
    }

    /// Invokes the handler with `records` and deletes the records it did not report as failed.
    async fn invoke(&self, worker: &SqsWorker, records: Vec<SqsMessage>) -> Vec<String> {
        let mut event = SqsEvent::default();
        event.records = records.clone();
        let response = worker.handle(event, "test-invocation").await;
        let failed: Vec<String> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        for record in records {
            if !failed.contains(record.message_id.as_ref().unwrap()) {
                let receipt = record.receipt_handle.unwrap();
                self.sqs.delete_message().queue_url(&self.queue).receipt_handle(receipt).send().await.unwrap();
            }
        }
        failed
    }

    /// Plays the event source mapping until `done` or the deadline.
    async fn pump_until(&self, worker: &SqsWorker, mut done: impl AsyncFnMut() -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(40);
        while !done().await {
            assert!(Instant::now() < deadline, "timed out: {what}");
            let records = self.receive(10).await;
            if !records.is_empty() {
                self.invoke(worker, records).await;
            }
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self.http.post(format!("{}{path}", self.api)).json(&body).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn events(&self, session: &str) -> Vec<Value> {
        let url = format!("{}/v1/sessions/{session}/events", self.api);
        let body: Value = self.http.get(url).send().await.unwrap().json().await.unwrap();
        body["data"].as_array().unwrap().clone()
    }

    /// Messages in `queue`, visible or in flight.
    async fn queue_depth(&self, queue: &str) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        attributes.values().map(|count| count.parse::<usize>().unwrap_or(0)).sum()
    }

    async fn status(&self, session: &str) -> String {
        let body: Value =
            self.http.get(format!("{}/v1/sessions/{session}", self.api)).send().await.unwrap().json().await.unwrap();
        body["status"].as_str().unwrap_or_default().to_owned()
    }

    async fn count(&self, session: &str, kind: &str) -> usize {
        self.events(session).await.iter().filter(|e| e["type"] == kind).count()
    }

    async fn session(&self, model: &str) -> String {
        let models: Value =
            self.http.get(format!("{}/v1/models", self.api)).send().await.unwrap().json().await.unwrap();
        let id = models["data"].as_array().unwrap().iter().find(|m| m["model_id"] == model).unwrap()["id"].clone();
        self.post("/v1/sessions", json!({"model_id": id})).await["id"].as_str().unwrap().to_owned()
    }

    async fn say(&self, session: &str, text: &str) {
        let body = json!({"message": {"role": "user", "content": [{"type": "text", "text": text}]}});
        self.post(&format!("/v1/sessions/{session}/messages"), body).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_turn_through_the_split_streams_on_the_bridge_and_survives_redelivery() {
    let split = start().await;
    let worker = split.worker(&split.grpc);
    let session = split.session("llmsim-echo").await;

    // SSE on the bridge, opened before the message is posted through the API.
    let sse = split.http.get(format!("{}/v1/sessions/{session}/sse", split.bridge)).send().await.unwrap();
    assert_eq!(sse.status(), 200);
    let mut sse = sse.bytes_stream();
    split.say(&session, "hello split").await;

    // The same message delivered twice at once: one runs, the other is told to come back.
    let records = split.receive(1).await;
    assert_eq!(records.len(), 1, "one task message per turn start");
    let (a, b) = tokio::join!(split.invoke(&worker, records.clone()), split.invoke(&worker, records.clone()));
    assert_eq!(a.len() + b.len(), 1, "exactly one duplicate delivery is retried: {a:?} {b:?}");
    split.pump_until(&worker, async || split.count(&session, "turn.completed").await == 1, "turn completed").await;

    // The SSE client on the bridge saw the API's event (relayed through PostgreSQL) and the
    // worker's, deltas included.
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    use futures::StreamExt;
    while !seen.contains("turn.completed") {
        let chunk =
            tokio::time::timeout_at(deadline.into(), sse.next()).await.expect("SSE timed out").unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    for kind in
        ["input.message", "session.activated", "output.message.delta", "output.message.completed", "turn.completed"]
    {
        assert!(seen.contains(&format!("event: {kind}")), "SSE lacks {kind}: {seen}");
    }
    let events = split.events(&session).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "output.message.completed").count(), 1);
    let sequences: Vec<i64> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>(), "gap-free, no duplicates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_record_fails_alone_and_a_killed_invocation_is_redelivered_once() {
    let split = start().await;
    let worker = split.worker(&split.grpc);
    let session = split.session("llmsim-slow").await;
    split.say(&session, "tell me a long story").await;
    split.sqs.send_message().queue_url(&split.queue).message_body("{not a task").send().await.unwrap();

    // Both messages in one batch: only the malformed one is reported.
    let mut records = Vec::new();
    while records.len() < 2 {
        records.extend(split.receive(10).await);
    }
    let malformed = records.iter().find(|r| r.body.as_deref() == Some("{not a task")).unwrap().clone();
    let task = records.iter().find(|r| r.body.as_deref() != Some("{not a task")).unwrap().clone();

    // The invocation running the task is killed mid-iteration (its future dropped: no ack, no
    // completion); the malformed record is reported as this batch's only failure.
    let failed = split.invoke(&worker, vec![malformed.clone()]).await;
    assert_eq!(failed, vec![malformed.message_id.clone().unwrap()]);
    let killed = tokio::spawn({
        let worker = worker.clone();
        let record = task.clone();
        async move {
            let mut event = SqsEvent::default();
            event.records = vec![record];
            worker.handle(event, "doomed").await
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while split.count(&session, "output.message.started").await == 0 {
        assert!(Instant::now() < deadline, "the iteration never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    killed.abort();

    // SQS redelivers after the visibility timeout; the lapsed lease is reclaimed and the turn
    // completes once, with no duplicate persisted event. The malformed message keeps failing
    // until the redrive policy moves it to the dead-letter queue (the drain drops it).
    split
        .pump_until(
            &worker,
            async || split.count(&session, "turn.completed").await == 1,
            "the turn completes after the kill",
        )
        .await;
    let events = split.events(&session).await;
    for kind in ["turn.started", "output.message.started", "output.message.completed", "turn.completed"] {
        assert_eq!(events.iter().filter(|e| e["type"] == kind).count(), 1, "{kind} once: {events:?}");
    }
    let sequences: Vec<i64> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, (1..=sequences.len() as i64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_reaches_the_dead_letter_queue_and_fails_its_turn_once() {
    let split = start().await;
    // A worker that cannot reach the bridge: every delivery of the task fails.
    let broken = split.worker("127.0.0.1:9");
    let session = split.session("llmsim-echo").await;
    split.say(&session, "nobody will answer").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while split.count(&session, "turn.failed").await == 0 {
        assert!(Instant::now() < deadline, "the dead-lettered task did not fail its turn");
        let records = split.receive(10).await;
        if !records.is_empty() {
            let failed = split.invoke(&broken, records.clone()).await;
            assert_eq!(failed.len(), records.len(), "every delivery fails");
        }
    }
    // The drain has handled every dead letter (so nothing can terminalise the turn again) and the
    // session is idle: then exactly once, with the friendly message.
    let settled = everruns_testkit::wait::until(Duration::from_secs(20), || async {
        split.queue_depth(&split.dlq).await == 0 && split.status(&session).await == "idle"
    })
    .await;
    assert!(settled, "the dead-letter queue was not drained");
    let events = split.events(&session).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "turn.failed").count(), 1);
    let friendly = events.iter().filter(|e| e["type"] == "output.message.completed").count();
    assert_eq!(friendly, 1, "the friendly message is the turn's output");
    let text = events.iter().find(|e| e["type"] == "output.message.completed").unwrap().to_string();
    assert!(text.contains("Please try again later"), "{text}");
    assert_eq!(split.status(&session).await, "idle");
    assert_eq!(split.queue_depth(&split.dlq).await, 0, "the drain deletes what it handled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_turn_context_larger_than_four_mib_crosses_the_worker_boundary() {
    let split = start().await;
    let worker = split.worker(&split.grpc);
    let session = split.session("llmsim-echo").await;
    // One 5 MiB word: the context the worker loads (and the echoed output) exceed tonic's
    // default 4 MiB message limit.
    let big = "a".repeat(5 * 1024 * 1024);
    split.say(&session, &big).await;
    split.pump_until(&worker, async || split.count(&session, "session.idled").await == 1, "the big turn ends").await;
    let events = split.events(&session).await;
    assert_eq!(events.iter().filter(|e| e["type"] == "turn.completed").count(), 1, "the turn completed");
    let output = events.iter().find(|e| e["type"] == "output.message.completed").unwrap().to_string();
    assert!(output.len() > 5 * 1024 * 1024, "the echo carries the whole text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_message_stays_invisible_while_its_iteration_runs() {
    let split = start().await;
    // A visibility timeout shorter than the iteration (llmsim-slow streams for ~2.6 s).
    let short = QueueAttributeName::VisibilityTimeout;
    split.sqs.set_queue_attributes().queue_url(&split.queue).attributes(short, "1").send().await.unwrap();
    let worker = split.worker(&split.grpc);
    let session = split.session("llmsim-slow").await;
    split.say(&session, "a long story, please").await;
    let records = split.receive(1).await;
    assert_eq!(records.len(), 1);
    let started = Instant::now();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move {
            let mut event = SqsEvent::default();
            event.records = records;
            worker.handle(event, "long").await
        }
    });
    // The heartbeat extends the message's visibility: no receive sees it while it runs.
    while !running.is_finished() {
        let again = split.receive(10).await;
        assert!(again.is_empty(), "redelivered after {:?} while its iteration ran", started.elapsed());
    }
    let response = running.await.unwrap();
    assert!(started.elapsed() > Duration::from_secs(2), "the iteration outlived the visibility timeout");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(split.count(&session, "output.message.completed").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_events_are_stored_in_order_and_a_refusal_surfaces_at_flush() {
    use everruns_core::engine::IterationHost;
    use everruns_core::events::{EventContext, EventPayload, NewEvent, OutputMessageDeltaData, SessionActivatedData};
    use everruns_core::ids::{MessageId, OrgId, SessionId, TurnId};
    use everruns_worker::host::GrpcIterationHost;

    let split = start().await;
    let session = SessionId::parse(&split.session("llmsim-echo").await).unwrap();
    let client = everruns_worker::client::connect_lazy(&split.worker_config(&split.grpc)).unwrap();
    let host = GrpcIterationHost::new(client, OrgId::DEFAULT);
    let turn = TurnId::new();
    let activated = |session| {
        let data = SessionActivatedData { turn_id: turn, input_message_id: MessageId::new() };
        NewEvent::new(session, EventContext::for_turn(turn, None), EventPayload::SessionActivated(data))
    };
    let mut sent = Vec::new();
    for i in 0..30 {
        if i % 3 == 0 {
            let delta = OutputMessageDeltaData {
                turn_id: turn,
                message_id: None,
                delta: "x".into(),
                accumulated: "x".into(),
                phase: None,
            };
            let ephemeral =
                NewEvent::new(session, EventContext::for_turn(turn, None), EventPayload::OutputMessageDelta(delta));
            assert_eq!(host.emit(ephemeral).await.unwrap(), None, "ephemeral events are not stored");
        }
        sent.push(host.emit(activated(session).with_key(format!("pipelined/{i}"))).await.unwrap().unwrap().id);
    }
    host.flush().await.unwrap();
    let stored: Vec<String> = split
        .events(&session.to_string())
        .await
        .iter()
        .filter(|e| e["type"] == "session.activated")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, sent.iter().map(ToString::to_string).collect::<Vec<_>>(), "all stored, in emission order");

    // An event the control plane refuses (no such session) fails the flush, not silently.
    host.emit(activated(SessionId::new())).await.unwrap();
    let refused = host.flush().await;
    assert!(matches!(refused, Err(everruns_core::ports::PortError::NotFound { .. })), "{refused:?}");
    // The next events open a new stream.
    host.emit(activated(session).with_key("after")).await.unwrap();
    host.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_runs_from_the_api_request_through_the_worker_to_the_bridge() {
    use everruns_telemetry::opentelemetry::trace::TracerProvider as _;
    let receiver = everruns_telemetry::testing::Receiver::start().await;
    let config =
        everruns_telemetry::TelemetryConfig::new("everruns-bridge").with_endpoint(receiver.endpoint()).unwrap();
    let provider = everruns_telemetry::build_tracer_provider(&config).unwrap().unwrap();
    let listener = everruns_telemetry::OtelEventListener::spawn(
        provider.tracer(everruns_telemetry::TRACER_NAME),
        everruns_telemetry::ListenerOptions::default(),
    )
    .unwrap();
    let split = start_traced(Some(listener.clone())).await;
    let worker = split.worker(&split.grpc);
    let session = split.session("llmsim-echo").await;

    // The caller's trace (as an API Gateway or a client would send it) on the API request.
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let body = json!({"message": {"role": "user", "content": [{"type": "text", "text": "trace me"}]}});
    let response = split
        .http
        .post(format!("{}/v1/sessions/{session}/messages", split.api))
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    split.pump_until(&worker, async || split.count(&session, "session.idled").await == 1, "turn finished").await;

    listener.flush().await.unwrap();
    tokio::task::spawn_blocking(move || provider.force_flush()).await.unwrap().unwrap();
    let spans = receiver.take();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let root = spans.iter().find(|s| s.name.starts_with("invoke_agent ")).expect("the turn's root span");
    assert_eq!(hex(&root.trace_id), trace, "the bridge's turn continues the API request's trace");
    assert_eq!(hex(&root.parent_span_id), parent, "under the caller's span");
    assert!(spans.iter().filter(|s| s.name.starts_with("chat ")).all(|s| hex(&s.trace_id) == trace));
}
