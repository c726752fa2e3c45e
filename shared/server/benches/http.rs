//! Benchmarks of the HTTP + SSE surface in DEV_MODE (0-latency llmsim), against a real server
//! process (this binary re-executed with `--serve`) over loopback TCP:
//!
//! 1. `turn`: one turn through HTTP + SSE — POST the message, read the session's SSE stream until
//!    `turn.completed` (session created and stream opened outside the timed region). p50/p99.
//! 2. `subscribers`: 10,000 concurrent SSE subscribers on one server: server RSS per subscriber,
//!    and whether every heartbeat arrived on time.
//! 3. `fanout`: output deltas fanned out to 100 subscribers of one session (in-process server,
//!    deltas published on its bus): delivered deltas per second.
//!
//! 4. `durable`, `long-session`, `throughput`: the same on PostgreSQL with one `everruns-worker`
//!    over gRPC (needs `EVERRUNS_TEST_DATABASE_URL` and `EVERRUNS_WORKER_BIN`); `throughput` runs
//!    8 sessions' turns concurrently and reads the CPU that server, worker and PostgreSQL spent
//!    from `/proc`.
//!
//! `cargo bench -p everruns-server --bench http [-- turn|durable|long-session|throughput|subscribers|fanout]`

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use everruns_core::events::{EventContext, EventPayload, NewEvent, OutputMessageDeltaData};
use everruns_core::ids::{SessionId, TurnId};
use everruns_server::{ServerAppBuilder, ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Conn = BufReader<TcpStream>;

async fn connect(port: u16) -> Conn {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    BufReader::new(stream)
}

/// Sends a request on a keep-alive connection and reads the whole response body.
async fn request(conn: &mut Conn, method: &str, path: &str, body: &str) -> (u16, String) {
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nAuthorization: bench\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(head.as_bytes()).await.expect("write");
    let (status, length) = read_head(conn).await;
    let mut buf = vec![0; length];
    conn.read_exact(&mut buf).await.expect("body");
    (status, String::from_utf8_lossy(&buf).into_owned())
}

async fn read_head(conn: &mut Conn) -> (u16, usize) {
    let mut status = 0;
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await.expect("head");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(rest) = l.strip_prefix("HTTP/1.1 ") {
            status = rest[..3].parse().unwrap_or(0);
        } else if let Some((name, value)) = l.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    (status, length)
}

/// Opens an SSE stream and waits for `connected`.
async fn open_sse(port: u16, session: &str) -> Conn {
    open_sse_query(port, session, "").await
}

/// Opens an SSE stream with a query (`?exclude=...`) and waits for `connected`.
async fn open_sse_query(port: u16, session: &str, query: &str) -> Conn {
    let mut conn = connect(port).await;
    let head = format!(
        "GET /api/v1/sessions/{session}/sse{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
    );
    conn.get_mut().write_all(head.as_bytes()).await.expect("write");
    let (status, _) = read_head(&mut conn).await;
    assert_eq!(status, 200, "SSE refused");
    wait_for(&mut conn, "event: connected").await;
    conn
}

async fn wait_for(conn: &mut Conn, needle: &str) {
    let mut line = String::new();
    // The last few records' first lines, to say why a stream ended early.
    let mut recent = std::collections::VecDeque::with_capacity(4);
    loop {
        line.clear();
        if conn.read_line(&mut line).await.expect("read") == 0 {
            panic!("stream closed before {needle}; last lines: {recent:?}");
        }
        if line.trim_end() == needle {
            return;
        }
        if line.starts_with("event:") || line.starts_with("data: {\"reason") {
            if recent.len() == 4 {
                recent.pop_front();
            }
            recent.push_back(line.trim_end().to_owned());
        }
    }
}

fn field(json: &str, name: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).expect("json");
    value[name].as_str().expect("field").to_owned()
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes' log filter: `EVERRUNS_BENCH_LOG` (their logs then go to this process's
/// output), else errors only.
fn bench_log() -> String {
    std::env::var("EVERRUNS_BENCH_LOG").unwrap_or_else(|_| "error".into())
}

fn bench_output() -> Stdio {
    if std::env::var_os("EVERRUNS_BENCH_LOG").is_some() { Stdio::inherit() } else { Stdio::null() }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

async fn spawn_server(extra: &[(&str, &str)]) -> Server {
    spawn_server_mode(extra, true).await
}

async fn spawn_server_mode(extra: &[(&str, &str)], dev: bool) -> Server {
    let port = free_port();
    let mut command = Command::new(std::env::current_exe().expect("exe"));
    command.arg("--serve").env("DEV_MODE", if dev { "true" } else { "false" });
    command
        .env("HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("RATE_LIMIT_API_REQUESTS_PER_MINUTE", "0")
        .env("LLMSIM_TTFT_MS", "0") // the simulator answers at once
        .env("LLMSIM_TOKEN_MS", "0")
        .env("RUST_LOG", bench_log())
        .stdout(bench_output());
    for (k, v) in extra {
        command.env(k, v);
    }
    let child = command.spawn().expect("spawn server");
    let server = Server { child, port };
    for _ in 0..200 {
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await {
            let mut conn = BufReader::new(stream);
            if request(&mut conn, "GET", "/health", "").await.0 == 200 {
                return server;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("server did not start");
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1e3
}

async fn bench_turn() {
    let server = spawn_server(&[]).await;
    let samples = turns(server.port, 200, 2_000).await;
    println!("turn through HTTP + SSE, DEV_MODE, 0-latency llmsim ({} turns):", samples.len());
    println!(
        "  p50 {:.3} ms | p99 {:.3} ms | max {:.3} ms",
        pct(&samples, 0.5),
        pct(&samples, 0.99),
        pct(&samples, 1.0)
    );
}

/// A server on a fresh PostgreSQL database with one worker process over gRPC; dropping it stops
/// both and drops the database. `None` (and a note) without the variables it needs.
struct Durable {
    server: Option<Server>,
    worker: Option<Server>,
    admin: String,
    database: String,
}

impl Drop for Durable {
    fn drop(&mut self) {
        drop((self.worker.take(), self.server.take()));
        // `EVERRUNS_BENCH_KEEP_DB=1` keeps the database for a look afterwards (its name is printed).
        if std::env::var_os("EVERRUNS_BENCH_KEEP_DB").is_some() {
            println!("kept database {}", self.database);
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.database);
        let _ = Command::new("psql").args([self.admin.as_str(), "-q", "-c", &sql]).status();
    }
}

async fn durable(what: &str) -> Option<Durable> {
    let (Ok(admin), Ok(worker_bin)) =
        (std::env::var("EVERRUNS_TEST_DATABASE_URL"), std::env::var("EVERRUNS_WORKER_BIN"))
    else {
        println!("{what}: skipped (set EVERRUNS_TEST_DATABASE_URL and EVERRUNS_WORKER_BIN)");
        return None;
    };
    let database_url = everruns_testkit::db::fresh_database().await;
    let name = database_url.rsplit_once('/').map(|(_, name)| name.to_owned()).unwrap_or_default();
    let grpc_addr = format!("127.0.0.1:{}", free_port());
    let key = "kek-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let server = spawn_server_mode(
        &[
            ("DEPLOYMENT_GRADE", "dev"),
            ("DATABASE_URL", &database_url),
            ("SECRETS_ENCRYPTION_KEY", key),
            ("WORKER_GRPC_AUTH_TOKEN", "bench"),
            ("WORKER_GRPC_ADDR", &grpc_addr),
        ],
        false,
    )
    .await;
    let worker = Server {
        child: Command::new(worker_bin)
            .env("WORKER_GRPC_ADDRESS", &grpc_addr)
            .env("WORKER_GRPC_AUTH_TOKEN", "bench")
            .env("DEPLOYMENT_GRADE", "dev")
            .env("RUST_LOG", bench_log())
            .stdout(bench_output())
            .spawn()
            .expect("worker"),
        port: 0,
    };
    Some(Durable { server: Some(server), worker: Some(worker), admin, database: name })
}

/// The same turn with the server on PostgreSQL and one worker process over gRPC.
async fn bench_durable() {
    let Some(durable) = durable("durable").await else { return };
    let samples = turns(durable.server.as_ref().expect("server").port, 50, 500).await;
    println!("turn through HTTP + SSE, PostgreSQL + 1 gRPC worker, 0-latency llmsim ({} turns):", samples.len());
    println!(
        "  p50 {:.3} ms | p99 {:.3} ms | max {:.3} ms",
        pct(&samples, 0.5),
        pct(&samples, 0.99),
        pct(&samples, 1.0)
    );
}

/// Turns of one session, one after another with its stream open throughout: each turn's time
/// from posting to `turn.completed`, in order (not sorted).
async fn session_turns(port: u16, count: usize, query: &str) -> Vec<Duration> {
    let mut api = connect(port).await;
    let (status, session) = request(&mut api, "POST", "/api/v1/sessions", "{}").await;
    assert_eq!(status, 201);
    let session = field(&session, "id");
    let mut sse = open_sse_query(port, &session, query).await;
    let mut times = Vec::with_capacity(count);
    for i in 0..count {
        let body = format!(
            r#"{{"message":{{"role":"user","content":[{{"type":"text","text":"Turn {i}: hello, simulator!"}}]}}}}"#
        );
        let started = Instant::now();
        let (status, text) = request(&mut api, "POST", &format!("/api/v1/sessions/{session}/messages"), &body).await;
        assert_eq!(status, 201, "{text}");
        wait_for(&mut sse, "event: turn.completed").await;
        times.push(started.elapsed());
    }
    times
}

/// Whether a turn's cost stays flat as its session grows: 200 turns in one session, p50 of
/// turns 1–20 against turns 181–200, in DEV_MODE and (with the variables) on PostgreSQL with a
/// gRPC worker.
async fn bench_long_session() {
    const TURNS: usize = 200;
    // Several sessions one after another, their turns pooled by position: a window of 20 turns of
    // one session lasts a few milliseconds in DEV_MODE, so one hiccup of the machine would decide
    // its p50; pooled, the windows span the whole run.
    async fn pooled(port: u16, sessions: usize, query: &str) -> (Vec<Duration>, Vec<Duration>) {
        let (mut first, mut last) = (Vec::new(), Vec::new());
        for _ in 0..sessions {
            let times = session_turns(port, TURNS, query).await;
            first.extend_from_slice(&times[..20]);
            last.extend_from_slice(&times[TURNS - 20..]);
        }
        (first, last)
    }
    let report = |mode: &str, sessions: usize, (mut first, mut last): (Vec<Duration>, Vec<Duration>)| {
        first.sort_unstable();
        last.sort_unstable();
        let (first, last) = (pct(&first, 0.5), pct(&last, 0.5));
        println!(
            "{sessions} sessions of {TURNS} turns, {mode}: p50 turns 1-20 {first:.3} ms | turns 181-200 {last:.3} ms | ratio {:.2}",
            last / first
        );
    };
    // The stream as the SDK opens it (every event: each turn's `llm.generation` carries the whole
    // conversation sent to the model, so it grows with the session by contract), and without it.
    const LEAN: &str = "?exclude=llm.generation";
    let server = spawn_server(&[]).await;
    report("DEV_MODE", 10, pooled(server.port, 10, "").await);
    report("DEV_MODE, stream without llm.generation", 10, pooled(server.port, 10, LEAN).await);
    drop(server);
    if let Some(durable) = durable("long-session").await {
        let server = durable.server.as_ref().expect("server");
        report("PostgreSQL + 1 gRPC worker", 3, pooled(server.port, 3, "").await);
        report("PostgreSQL + 1 gRPC worker, stream without llm.generation", 3, pooled(server.port, 3, LEAN).await);
    }
}

/// CPU time (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command (which may hold spaces) start past the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 11 and 12 after the command.
    let clock_ticks = 100; // USER_HZ on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / clock_ticks)
}

/// CPU time of every PostgreSQL process on the machine (postmaster, its helpers, its backends).
fn postgres_cpu() -> Duration {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            total += cpu_time(pid);
        }
    }
    total
}

/// Turns per second with 8 sessions' turns in flight at once (each turn a fresh session, as the
/// reference was measured), and the CPU server, worker and PostgreSQL spent per turn.
async fn bench_throughput() {
    const SESSIONS: usize = 8;
    const TURNS_EACH: usize = 200;
    let Some(durable) = durable("throughput").await else { return };
    let server = durable.server.as_ref().expect("server");
    let worker_pid = durable.worker.as_ref().expect("worker").child.id();
    let port = server.port;
    // Warm the pools and the worker's connections.
    let _ = turns(port, 20, 1).await;
    // CPU from /proc has 10 ms ticks: enough turns make it exact to a few microseconds per turn.
    let cpu = || (cpu_time(server.child.id()), cpu_time(worker_pid), postgres_cpu());
    for fresh in [true, false] {
        let before = cpu();
        let started = Instant::now();
        let tasks: Vec<_> = (0..SESSIONS)
            .map(|_| {
                tokio::spawn(async move {
                    if fresh { turns(port, 0, TURNS_EACH).await } else { session_turns(port, TURNS_EACH, "").await }
                })
            })
            .collect();
        let mut samples = Vec::new();
        for task in tasks {
            samples.extend(task.await.expect("client"));
        }
        let wall = started.elapsed();
        let after = cpu();
        samples.sort_unstable();
        let n = samples.len() as f64;
        let per_turn = |a: Duration, b: Duration| (a - b).as_secs_f64() * 1e3 / n;
        let (server_ms, worker_ms, pg_ms) =
            (per_turn(after.0, before.0), per_turn(after.1, before.1), per_turn(after.2, before.2));
        let shape =
            if fresh { "a fresh session each (created, streamed, deleted)" } else { "each session's turns in a row" };
        println!(
            "{SESSIONS} sessions, {} turns, {shape}, PostgreSQL + 1 gRPC worker: {:.1} turns/s | p50 {:.2} ms | p99 {:.2} ms",
            samples.len(),
            n / wall.as_secs_f64(),
            pct(&samples, 0.5),
            pct(&samples, 0.99)
        );
        println!(
            "  CPU per turn: server {server_ms:.2} ms + worker {worker_ms:.2} ms + PostgreSQL {pg_ms:.2} ms = {:.2} ms",
            server_ms + worker_ms + pg_ms
        );
    }
}

/// Runs `warmup + samples` turns, each in a fresh session with its stream open before posting;
/// returns the timed ones, sorted.
async fn turns(port: u16, warmup: usize, samples_wanted: usize) -> Vec<Duration> {
    let samples_len = samples_wanted;
    let mut api = connect(port).await;
    let mut samples = Vec::with_capacity(samples_len);
    for i in 0..warmup + samples_len {
        let (status, session) = request(&mut api, "POST", "/api/v1/sessions", "{}").await;
        assert_eq!(status, 201);
        let session = field(&session, "id");
        let mut sse = open_sse(port, &session).await;
        let body = r#"{"message":{"role":"user","content":[{"type":"text","text":"Hello, simulator!"}]}}"#;
        let started = Instant::now();
        let (status, _) = request(&mut api, "POST", &format!("/api/v1/sessions/{session}/messages"), body).await;
        assert_eq!(status, 201);
        wait_for(&mut sse, "event: turn.completed").await;
        let elapsed = started.elapsed();
        if i >= warmup {
            samples.push(elapsed);
        }
        drop(sse);
        let (status, _) = request(&mut api, "DELETE", &format!("/api/v1/sessions/{session}"), "").await;
        assert_eq!(status, 204);
    }
    samples.sort_unstable();
    samples
}

async fn bench_subscribers() {
    const SUBSCRIBERS: usize = 10_000;
    const HEARTBEAT_SECS: u64 = 5;
    const OBSERVE_SECS: u64 = 16;
    let server = spawn_server(&[
        ("SSE_HEARTBEAT_INTERVAL_SECS", "5"),
        ("SSE_PER_ORG_MAX", "20000"),
        ("SSE_PER_SESSION_MAX", "20000"),
        ("SSE_GLOBAL_MAX", "20000"),
    ])
    .await;
    let pid = server.child.id();
    let mut api = connect(server.port).await;
    let sessions: Vec<String> = {
        let mut out = Vec::new();
        for _ in 0..100 {
            out.push(field(&request(&mut api, "POST", "/api/v1/sessions", "{}").await.1, "id"));
        }
        out
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    let late = Arc::new(AtomicU64::new(0));
    let beats = Arc::new(AtomicU64::new(0));
    let opened = Instant::now();
    let mut tasks = Vec::with_capacity(SUBSCRIBERS);
    for i in 0..SUBSCRIBERS {
        let session = sessions[i % sessions.len()].clone();
        let port = server.port;
        let (late, beats) = (late.clone(), beats.clone());
        tasks.push(tokio::spawn(async move {
            let mut sse = open_sse(port, &session).await;
            let mut last = Instant::now();
            let mut line = String::new();
            let deadline = opened + Duration::from_secs(OBSERVE_SECS + 20);
            while Instant::now() < deadline {
                line.clear();
                match tokio::time::timeout_at(deadline.into(), sse.read_line(&mut line)).await {
                    Ok(Ok(n)) if n > 0 => {}
                    _ => break,
                }
                if line.trim_end() == ": heartbeat" {
                    beats.fetch_add(1, Ordering::Relaxed);
                    // On time: within one interval plus 1 s of slack since the previous one.
                    if last.elapsed() > Duration::from_secs(HEARTBEAT_SECS + 1) {
                        late.fetch_add(1, Ordering::Relaxed);
                    }
                    last = Instant::now();
                }
            }
        }));
        if i % 500 == 499 {
            tokio::task::yield_now().await;
        }
    }
    let open_time = opened.elapsed();
    tokio::time::sleep(Duration::from_secs(OBSERVE_SECS)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 / SUBSCRIBERS as f64;
    println!(
        "{SUBSCRIBERS} concurrent SSE subscribers (100 sessions, heartbeat every {HEARTBEAT_SECS} s, observed {OBSERVE_SECS} s):"
    );
    println!(
        "  server RSS {before} KiB idle -> {after} KiB: {per:.2} KiB per subscriber | heartbeats received {} | late {} | connect phase {:.1} s",
        beats.load(Ordering::Relaxed),
        late.load(Ordering::Relaxed),
        open_time.as_secs_f64()
    );
    drop(server);
    for task in tasks {
        task.abort();
    }
}

async fn bench_fanout() {
    const SUBSCRIBERS: usize = 100;
    const DELTAS: u64 = 20_000;
    const BATCH: u64 = 200;
    let mut config = ServerConfig::dev(([127, 0, 0, 1], 0).into());
    config.rate_limit_per_minute = 0;
    config.sse.per_session_max = 1_000;
    let app = ServerAppBuilder::new(config).build().await.expect("app");
    let state = app.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(app.serve(listener, std::future::pending()));
    let mut api = connect(port).await;
    let session = field(&request(&mut api, "POST", "/api/v1/sessions", "{}").await.1, "id");
    let received = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut sse = open_sse(port, &session).await;
        let received = received.clone();
        clients.push(tokio::spawn(async move {
            let mut line = String::new();
            loop {
                line.clear();
                match sse.read_line(&mut line).await {
                    Ok(n) if n > 0 => {}
                    _ => break,
                }
                if line.starts_with("event: output.message.delta") {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let session_id = SessionId::parse(&session).expect("id");
    let turn = TurnId::new();
    let bus = state.turns.bus().clone();
    let started = Instant::now();
    let mut accumulated = String::new();
    for sent in 0..DELTAS {
        accumulated.push_str("word ");
        let data = OutputMessageDeltaData {
            turn_id: turn,
            message_id: None,
            delta: "word ".into(),
            accumulated: String::new(),
            phase: None,
        };
        let event =
            NewEvent::new(session_id, EventContext::for_turn(turn, None), EventPayload::OutputMessageDelta(data)).event;
        bus.emit(Arc::new(event));
        if (sent + 1) % BATCH == 0 {
            // Flow control: let subscribers drain before the broadcast buffer could lag.
            let target = (sent + 1) * SUBSCRIBERS as u64;
            while received.load(Ordering::Relaxed) < target && started.elapsed() < Duration::from_secs(120) {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
    }
    let target = DELTAS * SUBSCRIBERS as u64;
    while received.load(Ordering::Relaxed) < target && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    let elapsed = started.elapsed();
    let got = received.load(Ordering::Relaxed);
    println!("delta fan-out: {DELTAS} deltas x {SUBSCRIBERS} SSE subscribers over loopback:");
    println!(
        "  delivered {got}/{target} in {:.2} s = {:.0} deltas/s delivered",
        elapsed.as_secs_f64(),
        got as f64 / elapsed.as_secs_f64()
    );
    for client in clients {
        client.abort();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--serve") {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
        rt.block_on(async { ServerAppBuilder::new(ServerConfig::from_env()).run().await }).expect("server");
        return;
    }
    let only: Vec<&str> = args.iter().skip(1).map(String::as_str).filter(|a| !a.starts_with('-')).collect();
    let wants = |name: &str| only.is_empty() || only.contains(&name);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    rt.block_on(async {
        if wants("turn") {
            bench_turn().await;
        }
        if wants("durable") {
            bench_durable().await;
        }
        if wants("long-session") {
            bench_long_session().await;
        }
        if wants("throughput") {
            bench_throughput().await;
        }
        if wants("fanout") {
            Box::pin(bench_fanout()).await;
        }
        if wants("subscribers") {
            bench_subscribers().await;
        }
    });
}
