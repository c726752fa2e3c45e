//! Tests of `llmsim-tools` with the toolbox: which calls a message makes among the offered tools,
//! and that the answer after the results quotes their content.

use futures::StreamExt;
use serde_json::{Value, json};

use super::intents::{is_file_token, plan};
use super::tool_calling::{choose_calls, quoted};
use super::{LlmSimConfig, LlmSimDriver};
use crate::domain::{ContentPart, Message, MessageRole, ToolDefinition};
use crate::driver::{ChatChunk, ChatDriver, ChatRequest, ToolCall};

fn tool(name: &str) -> ToolDefinition {
    ToolDefinition::builtin(name, "", json!({"type": "object", "properties": {"path": {"type": "string"}}}))
}

fn toolbox() -> Vec<ToolDefinition> {
    ["get_current_time", "read_file", "write_file", "bash", "web_fetch", "write_todos", "kv_store"]
        .into_iter()
        .map(tool)
        .collect()
}

fn calls(text: &str, tools: &[ToolDefinition]) -> Vec<(String, Value)> {
    choose_calls(text, tools)
}

fn named(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), v.clone())).collect()
}

#[test]
fn file_paths_are_read_one_call_each() {
    let tools = toolbox();
    assert_eq!(
        calls("What does README.md say? Also look at /workspace/src/app.py and notes.txt.", &tools),
        named(&[
            ("read_file", json!({"path": "README.md"})),
            ("read_file", json!({"path": "/workspace/src/app.py"})),
            ("read_file", json!({"path": "notes.txt"})),
        ])
    );
    // At most a few, each once; quoted names count.
    let many = "Compare a.txt, b.txt, a.txt, \"c.txt\" and (d.txt).";
    let paths: Vec<Value> = calls(many, &tools).into_iter().map(|(_, args)| args["path"].clone()).collect();
    assert_eq!(paths, [json!("a.txt"), json!("b.txt"), json!("c.txt")]);
    assert_eq!(calls("Read `src/lib.rs` please", &tools), named(&[("read_file", json!({"path": "src/lib.rs"}))]));
}

#[test]
fn what_is_not_a_file() {
    for token in ["3.14", "e.g", "example.com", "v1.2", "https://x.io/a.txt", "/etc/hosts.txt", "a=b.txt", "-o.txt"] {
        assert!(!is_file_token(token), "{token}");
    }
    for token in ["README.md", "notes.txt", "src/app.py", "/workspace/Makefile", "data.tar.gz", "_config.yml"] {
        assert!(is_file_token(token), "{token}");
    }
    assert!(!is_file_token("/workspace/") && !is_file_token("/workspace"));
}

#[test]
fn commands_run_in_bash() {
    let tools = toolbox();
    assert_eq!(
        calls("Can you do `ls -la /workspace`?", &tools),
        named(&[("bash", json!({"command": "ls -la /workspace"}))])
    );
    assert_eq!(calls("bash: echo hello | wc -c", &tools), named(&[("bash", json!({"command": "echo hello | wc -c"}))]));
    assert_eq!(calls("please run grep -r TODO .", &tools), named(&[("bash", json!({"command": "grep -r TODO ."}))]));
    assert_eq!(calls("Run: cat notes.txt", &tools), named(&[("bash", json!({"command": "cat notes.txt"}))]));
    assert_eq!(
        calls("Try this:\n```sh\nmkdir out\ncp a.txt out/\n```", &tools),
        named(&[("bash", json!({"command": "mkdir out\ncp a.txt out/"}))])
    );
    // "run" as prose is not a command; a backticked tool name is not one either.
    assert!(plan("Run the tests when you can", &tools).is_empty());
    assert!(plan("What does `get_current_time` return?", &tools).is_empty());
    // Without bash, the file inside the command is still read.
    let no_bash: Vec<_> = toolbox().into_iter().filter(|t| t.name != "bash").collect();
    assert_eq!(calls("Do `cat notes.txt`", &no_bash), named(&[("read_file", json!({"path": "notes.txt"}))]));
}

#[test]
fn urls_are_fetched() {
    let tools = toolbox();
    assert_eq!(
        calls("Summarise https://example.com/docs/page.html, then (http://127.0.0.1:8080/x).", &tools),
        named(&[
            ("web_fetch", json!({"url": "https://example.com/docs/page.html"})),
            ("web_fetch", json!({"url": "http://127.0.0.1:8080/x"})),
        ])
    );
}

#[test]
fn todos_and_remembered_values() {
    let tools = toolbox();
    assert_eq!(
        calls("Make a todo list:\n- write the spec\n- [x] read notes\n2. ship it.", &tools),
        named(&[(
            "write_todos",
            json!({"todos": [
                {"content": "write the spec", "status": "pending"},
                {"content": "read notes", "status": "completed"},
                {"content": "ship it", "status": "pending"},
            ]})
        )])
    );
    assert_eq!(
        calls("TODO: buy milk, call Bob", &tools),
        named(&[(
            "write_todos",
            json!({"todos": [{"content": "buy milk", "status": "pending"}, {"content": "call Bob", "status": "pending"}]})
        )])
    );
    let one = calls("Add a todo to review README.md", &tools);
    assert_eq!(one[0], ("read_file".to_owned(), json!({"path": "README.md"})), "the named file is read too");
    assert_eq!(one[1].1["todos"][0]["content"], json!("Add a todo to review README.md"));

    assert_eq!(
        calls("Remember color=blue.", &tools),
        named(&[("kv_store", json!({"action": "set", "key": "color", "value": "blue"}))])
    );
    assert_eq!(
        calls("please remember that deploy_target is staging.example.com", &tools),
        named(&[("kv_store", json!({"action": "set", "key": "deploy_target", "value": "staging.example.com"}))])
    );
    assert_eq!(calls("recall color", &tools), named(&[("kv_store", json!({"action": "get", "key": "color"}))]));
    assert_eq!(calls("Forget 'color'.", &tools), named(&[("kv_store", json!({"action": "delete", "key": "color"}))]));
    assert_eq!(calls("What do you remember?", &tools), named(&[("kv_store", json!({"action": "list"}))]));
    assert!(plan("I remember the old days", &tools).is_empty());
}

#[test]
fn only_offered_tools_are_called() {
    let only_time = vec![tool("get_current_time")];
    let text = "Read README.md, run `ls`, fetch https://example.com, remember a=b, todo: x";
    assert!(plan(text, &only_time).is_empty());
    // Today's behaviour then: the named tool, else the first one with generated arguments.
    assert_eq!(calls(text, &only_time)[0].0, "get_current_time");
    let files_only = vec![tool("read_file")];
    assert_eq!(calls(text, &files_only), named(&[("read_file", json!({"path": "README.md"}))]));
    let all = calls(text, &toolbox());
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["read_file", "bash", "web_fetch", "kv_store", "write_todos"]);
}

#[test]
fn an_explicitly_named_tool_wins() {
    let tools = toolbox();
    assert_eq!(calls("Use get_current_time, not README.md", &tools)[0].0, "get_current_time");
    // A named toolbox tool does not stop the reading of its arguments.
    assert_eq!(calls("Call read_file on notes.txt", &tools), named(&[("read_file", json!({"path": "notes.txt"}))]));
    // Nothing obvious: today's first tool.
    assert_eq!(calls("do something", &tools)[0].0, "get_current_time");
}

#[test]
fn results_are_quoted_as_text() {
    let file = json!({"path": "notes.txt", "content": "line one\n\"two\"", "hash": "h"});
    assert_eq!(quoted(&file), "line one\n\"two\"");
    assert_eq!(quoted(&json!({"stdout": "out\n", "stderr": "", "exit_code": 0})), "out\n");
    assert_eq!(quoted(&json!({"stdout": "", "stderr": "boom", "exit_code": 1})), "boom");
    assert_eq!(quoted(&json!({"key": "k", "found": true, "value": "v"})), "v");
    assert_eq!(quoted(&json!({"key": "k", "stored": true})), r#"{"key":"k","stored":true}"#);
    assert_eq!(quoted(&json!("plain")), "plain");
    let long = quoted(&json!("é".repeat(5000)));
    assert!(long.ends_with("… (truncated)") && long.chars().count() == 4000 + "… (truncated)".chars().count());
}

fn call_part(call: &ToolCall) -> ContentPart {
    ContentPart::ToolCall { id: call.id.clone(), name: call.name.clone(), arguments: call.arguments.clone() }
}

async fn text_and_calls(driver: &LlmSimDriver, request: ChatRequest) -> (String, Vec<ToolCall>) {
    let stream = driver.chat_stream(request).await.expect("the call succeeds");
    let chunks: Vec<ChatChunk> = stream.map(|c| c.expect("no stream error")).collect().await;
    let mut text = String::new();
    let mut calls = Vec::new();
    for chunk in chunks {
        match chunk {
            ChatChunk::TextDelta(delta) => text.push_str(&delta),
            ChatChunk::ToolCall(call) => calls.push(call),
            _ => {}
        }
    }
    (text, calls)
}

#[tokio::test]
async fn the_answer_contains_the_files_content() {
    let driver = LlmSimDriver::new(LlmSimConfig::tool_calling(), "llmsim-tools");
    let user = Message::user_text("Please summarise README.md and run `wc -l notes.txt`");
    let request = ChatRequest { messages: vec![user.clone()].into(), tools: toolbox().into(), ..Default::default() };
    let (text, calls) = text_and_calls(&driver, request).await;
    assert_eq!(text, "Let me use the read_file and bash tools.");
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].name.as_str(), &calls[0].arguments), ("read_file", &json!({"path": "README.md"})));
    assert_eq!((calls[1].name.as_str(), &calls[1].arguments), ("bash", &json!({"command": "wc -l notes.txt"})));

    let readme = "# Everruns\n\nThe durable \"agent\" platform.";
    let results = vec![
        ContentPart::ToolResult {
            tool_call_id: calls[0].id.clone(),
            result: Some(json!({"path": "README.md", "content": readme, "hash": "x"})),
            error: None,
        },
        ContentPart::ToolResult { tool_call_id: calls[1].id.clone(), result: None, error: Some("no such file".into()) },
    ];
    let messages = vec![
        user,
        Message::new(MessageRole::Agent, calls.iter().map(call_part).collect()),
        Message::new(MessageRole::ToolResult, results),
    ];
    let request = ChatRequest { messages: messages.into(), tools: toolbox().into(), ..Default::default() };
    let (text, calls) = text_and_calls(&driver, request).await;
    assert!(calls.is_empty());
    assert_eq!(text, format!("Here is what I found: {readme}\n\nThe tool failed: no such file"));
}

#[tokio::test]
async fn results_spread_over_several_messages_are_all_answered() {
    let driver = LlmSimDriver::new(LlmSimConfig::tool_calling(), "llmsim-tools");
    let call = ToolCall { id: "call_a".into(), name: "kv_store".into(), arguments: json!({"action": "get"}) };
    let other = ToolCall { id: "call_b".into(), name: "lookup".into(), arguments: json!({}) };
    let result = |id: &str, value: Value| {
        Message::new(
            MessageRole::ToolResult,
            vec![ContentPart::ToolResult { tool_call_id: id.into(), result: Some(value), error: None }],
        )
    };
    let messages = vec![
        Message::new(MessageRole::Agent, vec![call_part(&call), call_part(&other)]),
        result("call_a", json!({"key": "color", "found": true, "value": "blue"})),
        result("call_b", json!({"status": "shipped"})),
    ];
    let request = ChatRequest { messages: messages.into(), tools: toolbox().into(), ..Default::default() };
    let (text, _) = text_and_calls(&driver, request).await;
    assert_eq!(text, "Here is what I found: blue\n\nThe tool returned: {\"status\":\"shipped\"}");
}
