#![cfg(feature = "sandbox")]
//! The `bash` tool end to end over a real [`StoreWorkspace`] on the in-memory stores: listing
//! and reading seeded files, saving writes, deleting removed files, read-only files, the
//! timeout, and argument errors.

use std::time::{Duration, Instant};

use everruns_bash::{BASH_TOOL, BashCapability, VIRTUAL_BASH};
use everruns_core::capabilities::{Capability, ToolContext, ToolOutcome};
use everruns_core::ids::SessionId;
use everruns_core::ports::{PortError, PortResult, SessionFile, SessionWorkspace, StoreWorkspace, ValueSpace};
use everruns_core::time::Timestamp;
use serde_json::{Value, json};

struct Fixture {
    workspace: StoreWorkspace,
    session: SessionId,
}

impl Fixture {
    async fn new(files: &[(&str, &str, bool)]) -> Self {
        let stores = everruns_store_memory::memory_stores();
        let workspace = StoreWorkspace::new(stores.files.clone(), stores.values.clone(), None);
        let session = SessionId::new();
        for (path, content, is_readonly) in files {
            let file = SessionFile {
                path: (*path).into(),
                content: content.as_bytes().to_vec(),
                is_readonly: *is_readonly,
                updated_at: Timestamp::now(),
            };
            workspace.write_file(session, file).await.unwrap_or_else(|e| panic!("seed {path}: {e}"));
        }
        Self { workspace, session }
    }

    async fn run(&self, arguments: Value) -> ToolOutcome {
        let ctx = ToolContext::new(self.session, &self.workspace);
        BashCapability::new().execute_tool(BASH_TOOL, &arguments, &json!({}), &ctx).await
    }

    async fn bash(&self, command: &str) -> Value {
        self.run(json!({"command": command})).await.unwrap_or_else(|e| panic!("{command}: {e}"))
    }

    async fn content(&self, path: &str) -> Option<String> {
        let file = self.workspace.read_file(self.session, path).await.unwrap_or_else(|e| panic!("{e}"));
        file.map(|f| String::from_utf8_lossy(&f.content).into_owned())
    }
}

#[tokio::test]
async fn lists_and_reads_seeded_files() {
    let fx = Fixture::new(&[("README.md", "# Hello\n", false), ("src/main.rs", "fn main() {}\n", false)]).await;
    let out = fx.bash("ls /workspace && cat README.md && pwd").await;
    assert_eq!(out["exit_code"], 0, "{out}");
    let stdout = out["stdout"].as_str().unwrap_or_default();
    assert!(stdout.contains("README.md") && stdout.contains("src"), "{stdout}");
    assert!(stdout.contains("# Hello\n") && stdout.ends_with("/workspace\n"), "{stdout}");
    assert_eq!(out["files_written"], json!([]));
    assert_eq!(out["files_deleted"], json!([]));
    assert!(out.get("truncated").is_none());
}

#[tokio::test]
async fn writes_are_saved_to_the_session() {
    let fx = Fixture::new(&[("notes.txt", "old\n", false)]).await;
    let out = fx.bash("echo hi > out.txt && mkdir -p a/b && echo deep > a/b/c.txt && echo new > notes.txt").await;
    assert_eq!(out["exit_code"], 0, "{out}");
    assert_eq!(out["files_written"], json!(["a/b/c.txt", "notes.txt", "out.txt"]));
    assert_eq!(fx.content("out.txt").await.as_deref(), Some("hi\n"));
    assert_eq!(fx.content("a/b/c.txt").await.as_deref(), Some("deep\n"));
    assert_eq!(fx.content("notes.txt").await.as_deref(), Some("new\n"));
    // Unchanged files and files outside /workspace are not written.
    let out = fx.bash("cat out.txt > /tmp/copy && echo hi > out.txt").await;
    assert_eq!(out["files_written"], json!([]), "{out}");
}

#[tokio::test]
async fn removed_files_are_deleted() {
    let fx = Fixture::new(&[("gone.txt", "x", false), ("dir/also.txt", "y", false), ("kept.txt", "z", false)]).await;
    let out = fx.bash("rm gone.txt && rm -r dir && mv kept.txt moved.txt").await;
    assert_eq!(out["exit_code"], 0, "{out}");
    assert_eq!(out["files_deleted"], json!(["dir/also.txt", "gone.txt", "kept.txt"]));
    assert_eq!(out["files_written"], json!(["moved.txt"]));
    assert_eq!(fx.content("gone.txt").await, None);
    assert_eq!(fx.content("moved.txt").await.as_deref(), Some("z"));
}

#[tokio::test]
async fn read_only_files_stay_unchanged() {
    let fx = Fixture::new(&[("locked.txt", "original\n", true), ("frozen.txt", "ice\n", true)]).await;
    let out = fx.bash("cat locked.txt; echo changed > locked.txt; rm -f frozen.txt; true").await;
    assert!(out["stdout"].as_str().is_some_and(|s| s.contains("original")), "{out}");
    assert_eq!(out["files_written"], json!([]), "{out}");
    assert_eq!(out["files_deleted"], json!([]), "{out}");
    assert_eq!(fx.content("locked.txt").await.as_deref(), Some("original\n"));
    assert_eq!(fx.content("frozen.txt").await.as_deref(), Some("ice\n"));
    let skipped = out["files_skipped"].as_array().cloned().unwrap_or_default();
    let paths: Vec<_> = skipped.iter().filter_map(|s| s["path"].as_str()).collect();
    assert_eq!(paths, ["frozen.txt", "locked.txt"], "{out}");
}

#[tokio::test]
async fn files_the_sandbox_cannot_hold_are_reported_and_kept() {
    // `a` is a file, so `a/b` cannot be placed under it in the sandbox.
    let fx = Fixture::new(&[("a", "file\n", false), ("a/b", "nested\n", false)]).await;
    let out = fx.bash("cat a").await;
    assert_eq!(out["stdout"], "file\n", "{out}");
    assert_eq!(out["files_skipped"][0]["path"], "a/b", "{out}");
    assert_eq!(out["files_deleted"], json!([]), "{out}");
    assert_eq!(fx.content("a/b").await.as_deref(), Some("nested\n"));
}

#[tokio::test]
async fn a_command_past_its_timeout_ends() {
    let fx = Fixture::new(&[]).await;
    let started = Instant::now();
    let out = fx.bash_timeout("echo start > started.txt; sleep 30; echo never", 1).await;
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    assert_ne!(out["exit_code"], 0, "{out}");
    assert!(out["stderr"].as_str().is_some_and(|s| s.contains("timed out")), "{out}");
    assert_eq!(fx.content("started.txt").await.as_deref(), Some("start\n"), "writes before the timeout persist");
    // A busy loop hits the loop budget (or the timeout) rather than hanging.
    let started = Instant::now();
    let out = fx.bash_timeout("while true; do :; done", 5).await;
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert_ne!(out["exit_code"], 0, "{out}");
}

#[tokio::test]
async fn failing_commands_report_their_exit_code() {
    let fx = Fixture::new(&[]).await;
    let out = fx.bash("echo oops >&2; exit 3").await;
    assert_eq!(out["exit_code"], 3);
    assert_eq!(out["stderr"], "oops\n");
    let out = fx.bash("if then fi (").await;
    assert_ne!(out["exit_code"], 0, "{out}");
}

#[tokio::test]
async fn large_output_is_truncated() {
    let fx = Fixture::new(&[]).await;
    let out = fx.bash("for i in $(seq 1 20000); do echo line-$i-padding-padding; done").await;
    assert_eq!(out["truncated"], true, "{}", out["stderr"]);
    let stdout = out["stdout"].as_str().unwrap_or_default();
    assert!(stdout.len() <= 65 * 1024 && stdout.contains("truncated"), "{}", stdout.len());
}

#[tokio::test]
async fn bad_arguments_are_tool_errors() {
    let fx = Fixture::new(&[]).await;
    for bad in [
        json!({}),
        json!({"command": ""}),
        json!({"command": 42}),
        json!({"command": "ls", "timeout_seconds": 0}),
        json!({"command": "ls", "timeout_seconds": 500}),
        json!({"command": "ls", "timeout_seconds": "5"}),
    ] {
        assert!(fx.run(bad.clone()).await.is_err(), "{bad}");
    }
    let ctx = ToolContext::new(fx.session, &fx.workspace);
    let wrong = BashCapability::new().execute_tool("sh", &json!({"command": "ls"}), &json!({}), &ctx).await;
    assert!(wrong.is_err());
}

#[tokio::test]
async fn no_workspace_is_a_tool_error() {
    let ctx = ToolContext::new(SessionId::new(), &everruns_core::ports::NoWorkspace);
    let out = BashCapability::new().execute_tool(BASH_TOOL, &json!({"command": "ls"}), &json!({}), &ctx).await;
    assert!(out.is_err_and(|e| e.contains("session files")));
}

#[test]
fn describes_itself() {
    let cap = BashCapability::new();
    let info = cap.info();
    assert_eq!((cap.id(), info.id.as_str()), (VIRTUAL_BASH, VIRTUAL_BASH));
    assert_eq!(info.dependencies, ["session_file_system"]);
    assert_eq!(info.icon.as_deref(), Some("terminal"));
    let prompt = cap.system_prompt_contribution(&json!({})).unwrap_or_default();
    assert!(prompt.starts_with("<virtual-bash>") && prompt.trim_end().ends_with("</virtual-bash>"));
    let tools = cap.tools(&json!({}));
    assert_eq!(tools.len(), 1);
}

impl Fixture {
    async fn bash_timeout(&self, command: &str, seconds: u64) -> Value {
        let arguments = json!({"command": command, "timeout_seconds": seconds});
        self.run(arguments).await.unwrap_or_else(|e| panic!("{command}: {e}"))
    }
}

#[tokio::test]
async fn an_oversized_workspace_is_refused() {
    let big = "x".repeat(2 * 1024 * 1024);
    let seeds: Vec<(String, &str, bool)> = (0..26).map(|i| (format!("big/{i}.bin"), big.as_str(), false)).collect();
    let seeds: Vec<(&str, &str, bool)> = seeds.iter().map(|(p, c, r)| (p.as_str(), *c, *r)).collect();
    let fx = Fixture::new(&seeds).await;
    let out = fx.run(json!({"command": "ls"})).await;
    assert!(out.as_ref().is_err_and(|e| e.contains("at most")), "{out:?}");
}

/// A workspace whose writes fail, reads and lists pass through.
struct FailingWrites(StoreWorkspace);

#[async_trait::async_trait]
impl SessionWorkspace for FailingWrites {
    async fn read_file(&self, s: SessionId, p: &str) -> PortResult<Option<SessionFile>> {
        self.0.read_file(s, p).await
    }
    async fn write_file(&self, _: SessionId, _: SessionFile) -> PortResult<bool> {
        Err(PortError::Unavailable("disk on fire".into()))
    }
    async fn list_files(&self, s: SessionId, p: &str) -> PortResult<Vec<SessionFile>> {
        self.0.list_files(s, p).await
    }
    async fn delete_file(&self, s: SessionId, p: &str) -> PortResult<bool> {
        self.0.delete_file(s, p).await
    }
    async fn put_value(&self, s: SessionId, sp: ValueSpace, k: &str, v: &str) -> PortResult<()> {
        self.0.put_value(s, sp, k, v).await
    }
    async fn get_value(&self, s: SessionId, sp: ValueSpace, k: &str) -> PortResult<Option<String>> {
        self.0.get_value(s, sp, k).await
    }
    async fn delete_value(&self, s: SessionId, sp: ValueSpace, k: &str) -> PortResult<bool> {
        self.0.delete_value(s, sp, k).await
    }
    async fn list_keys(&self, s: SessionId, sp: ValueSpace) -> PortResult<Vec<String>> {
        self.0.list_keys(s, sp).await
    }
}

#[tokio::test]
async fn a_store_failure_is_a_tool_error() {
    let fx = Fixture::new(&[]).await;
    let failing = FailingWrites(fx.workspace.clone());
    let ctx = ToolContext::new(fx.session, &failing);
    let out = BashCapability::new().execute_tool(BASH_TOOL, &json!({"command": "echo x > f"}), &json!({}), &ctx).await;
    assert!(out.as_ref().is_err_and(|e| e.contains("'f'") && e.contains("disk on fire")), "{out:?}");
}
