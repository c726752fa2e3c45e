//! The toolbox over a store set: the file-system tools (hash-gated edits, read-only files, listing,
//! grep, stat, paths kept under `/workspace`), the session storage tools (secrets stored sealed)
//! and the todo list, each run the way the engine runs it — so every store adapter proves that
//! the agent's tools work on it. Bad arguments are tool errors, never panics.

use std::sync::Arc;

use everruns_core::Capability;
use everruns_core::capabilities::ToolContext;
use everruns_core::ports::{SessionFile, StoreWorkspace, Stores, ValueSpace};
use everruns_core::time::Timestamp;
use everruns_secrets::AesGcmSecretCipher;
use everruns_toolbox::{FileSystemCapability, SessionStorageCapability, TodoListCapability};
use serde_json::{Value, json};

use crate::fixtures::seed_session;

async fn run(
    capability: &dyn Capability,
    ctx: &ToolContext<'_>,
    tool: &str,
    arguments: Value,
) -> Result<Value, String> {
    capability.execute_tool(tool, &arguments, &json!({}), ctx).await
}

fn ok(result: Result<Value, String>) -> Value {
    result.unwrap_or_else(|e| panic!("tool error: {e}"))
}

fn refused(result: Result<Value, String>, needle: &str) {
    match result {
        Err(message) => assert!(message.contains(needle), "expected '{needle}' in '{message}'"),
        Ok(value) => panic!("expected a tool error containing '{needle}', got {value}"),
    }
}

/// Runs the toolbox against `stores`.
pub async fn toolbox_contract(stores: &Stores) {
    let session = seed_session(stores).await.id;
    let cipher = Arc::new(AesGcmSecretCipher::ephemeral());
    let workspace = StoreWorkspace::new(stores.files.clone(), stores.values.clone(), Some(cipher));
    let ctx = ToolContext::new(session, &workspace);
    let readme = SessionFile {
        path: "README.md".into(),
        content: b"# Demo\n\nStarter files.\n".to_vec(),
        is_readonly: true,
        updated_at: Timestamp::now(),
    };
    stores.files.write_file(session, readme).await.unwrap();
    file_tools(&ctx).await;
    storage_tools(stores, &ctx).await;
    todo_tool(&ctx).await;
}

async fn file_tools(ctx: &ToolContext<'_>) {
    let fs = &FileSystemCapability;
    let read = ok(run(fs, ctx, "read_file", json!({"path": "/workspace/README.md"})).await);
    assert_eq!(read["content"], "# Demo\n\nStarter files.\n");
    assert_eq!(read["is_readonly"], true);
    let created =
        ok(run(fs, ctx, "write_file", json!({"path": "src/app.py", "content": "def greet():\n    return 'hi'\n"}))
            .await);
    assert_eq!(created["created"], true);
    let app = ok(run(fs, ctx, "read_file", json!({"path": "/workspace/src/app.py"})).await);
    let hash = app["hash"].as_str().unwrap().to_owned();

    // Edits are gated on the hash read; read-only files refuse every change.
    let stale =
        json!({"path": "src/app.py", "old_string": "'hi'", "new_string": "'hello'", "expected_hash": "sha256:00"});
    refused(run(fs, ctx, "edit_file", stale).await, "changed since it was read");
    let edit = json!({"path": "src/app.py", "old_string": "'hi'", "new_string": "'hello'", "expected_hash": hash});
    assert_eq!(ok(run(fs, ctx, "edit_file", edit.clone()).await)["replacements"], 1);
    refused(run(fs, ctx, "edit_file", edit).await, "changed since it was read");
    let edited = ok(run(fs, ctx, "read_file", json!({"path": "src/app.py", "offset": 2, "limit": 1})).await);
    assert_eq!(edited["content"], "    return 'hello'\n");
    let readme_hash = ok(run(fs, ctx, "stat_file", json!({"path": "README.md"})).await)["hash"].clone();
    let on_readme = json!({"path": "README.md", "old_string": "Demo", "new_string": "X", "expected_hash": readme_hash});
    refused(run(fs, ctx, "edit_file", on_readme).await, "read-only");
    refused(run(fs, ctx, "write_file", json!({"path": "README.md", "content": "x"})).await, "read-only");
    refused(run(fs, ctx, "delete_file", json!({"path": "README.md"})).await, "read-only");

    // Listing, grep and stat.
    let top = ok(run(fs, ctx, "list_directory", json!({})).await);
    let names: Vec<(&str, &str)> = top["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("README.md", "file"), ("src", "directory")]);
    let all = ok(run(fs, ctx, "list_directory", json!({"path": "/workspace", "recursive": true})).await);
    assert!(all["entries"].as_array().unwrap().iter().any(|e| e["path"] == "/workspace/src/app.py"));
    let found = ok(run(fs, ctx, "grep_files", json!({"pattern": "GREET", "case_insensitive": true})).await);
    assert_eq!(found["matches"], json!([{"path": "/workspace/src/app.py", "line": 1, "text": "def greet():"}]));
    refused(run(fs, ctx, "grep_files", json!({"pattern": "("})).await, "not a valid regular expression");
    assert_eq!(ok(run(fs, ctx, "stat_file", json!({"path": "src"})).await)["type"], "directory");
    assert_eq!(ok(run(fs, ctx, "stat_file", json!({"path": "nope.txt"})).await)["exists"], false);
    refused(run(fs, ctx, "list_directory", json!({"path": "nope"})).await, "does not exist");

    // Deletes, and arguments the tools refuse.
    assert_eq!(ok(run(fs, ctx, "delete_file", json!({"path": "src/app.py"})).await)["deleted"], true);
    refused(run(fs, ctx, "delete_file", json!({"path": "src/app.py"})).await, "does not exist");
    refused(run(fs, ctx, "read_file", json!({"path": "../etc/passwd"})).await, "..");
    refused(run(fs, ctx, "read_file", json!({})).await, "'path' is required");
    refused(run(fs, ctx, "read_file", json!({"path": 5})).await, "must be a string");
    refused(run(fs, ctx, "read_file", json!({"path": "a", "limit": 0})).await, "'limit'");
    refused(
        run(fs, ctx, "write_file", json!({"path": "b.bin", "content": "***", "encoding": "base64"})).await,
        "base64",
    );
    refused(run(fs, ctx, "read_file", json!("README.md")).await, "JSON object");
}

async fn storage_tools(stores: &Stores, ctx: &ToolContext<'_>) {
    let storage = &SessionStorageCapability;
    ok(run(storage, ctx, "kv_store", json!({"action": "set", "key": "colour", "value": "teal"})).await);
    assert_eq!(ok(run(storage, ctx, "kv_store", json!({"action": "get", "key": "colour"})).await)["value"], "teal");
    assert_eq!(ok(run(storage, ctx, "kv_store", json!({"action": "list"})).await)["keys"], json!(["colour"]));
    ok(run(storage, ctx, "secret_store", json!({"action": "set", "key": "token", "value": "s3cr3t-value"})).await);
    assert_eq!(
        ok(run(storage, ctx, "secret_store", json!({"action": "get", "key": "token"})).await)["value"],
        "s3cr3t-value"
    );
    let sealed = stores.values.get_value(ctx.session, ValueSpace::Secrets, "token").await.unwrap().unwrap();
    assert!(!sealed.windows(6).any(|w| w == b"s3cr3t"), "a secret is stored sealed");
    assert_eq!(ok(run(storage, ctx, "kv_store", json!({"action": "get", "key": "token"})).await)["found"], false);
    assert_eq!(ok(run(storage, ctx, "kv_store", json!({"action": "delete", "key": "colour"})).await)["deleted"], true);
    refused(run(storage, ctx, "kv_store", json!({"action": "explode"})).await, "'action'");
    refused(run(storage, ctx, "kv_store", json!({"action": "set", "key": "k"})).await, "'value' is required");
    let huge = "x".repeat(everruns_core::ports::MAX_VALUE_BYTES + 1);
    refused(run(storage, ctx, "kv_store", json!({"action": "set", "key": "k", "value": huge})).await, "at most");
}

async fn todo_tool(ctx: &ToolContext<'_>) {
    let todos = &TodoListCapability;
    let list = json!({"todos": [
        {"content": "Read the files", "status": "completed"},
        {"content": "Fix the bug", "status": "in_progress", "activeForm": "Fixing the bug"},
        {"content": "Write tests", "status": "pending"}
    ]});
    let answer = ok(run(todos, ctx, "write_todos", list).await);
    assert_eq!(answer["summary"], json!({"total": 3, "pending": 1, "in_progress": 1, "completed": 1}));
    refused(run(todos, ctx, "write_todos", json!({"todos": [{"content": "x", "status": "done"}]})).await, "status");
    refused(run(todos, ctx, "write_todos", json!({"todos": "x"})).await, "array");
}
