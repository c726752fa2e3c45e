//! What `llmsim-tools` reads in a user message when the toolbox's tools are offered — only where
//! it is obvious, and only for tools in the request's tool list:
//!
//! - a command in backticks (`` `ls -la` ``, or a fenced block), or after `bash:` / `run:` / `$ `,
//!   or a line starting with `run ` → `bash {command}`;
//! - an `http(s)://` URL → `web_fetch {url}`;
//! - `remember <key>=<value>` (or `: `, ` is `; to a comma) → `kv_store set`; `recall <key>` → `get`;
//!   `forget <key>` → `delete`; "what do you remember" → `list`;
//! - "todo" (or "to-do") → `write_todos`, one pending item per listed line (`- buy milk`,
//!   `1. ...`; `[x]` marks a completed one), else the text after `todo:`, else the message;
//! - a file path (a `/workspace/...` path, or a token with a file extension such as `README.md`
//!   or `src/app.py`) → `read_file {path}`, one call per file.
//!
//! Each kind makes at most [`MAX_PER_KIND`] calls. Text one rule used (a command, a remembered
//! value, a URL, a listed todo item) is not read again by a later one.

use std::ops::Range;

use serde_json::{Value, json};

use crate::domain::ToolDefinition;

/// `read_file {path}`.
pub(super) const READ_FILE: &str = "read_file";
/// `bash {command}`.
pub(super) const BASH: &str = "bash";
/// `web_fetch {url}`.
pub(super) const WEB_FETCH: &str = "web_fetch";
/// `write_todos {todos: [{content, status}]}`.
pub(super) const WRITE_TODOS: &str = "write_todos";
/// `kv_store {action, key?, value?}`.
pub(super) const KV_STORE: &str = "kv_store";

/// The tools whose intents are read from the message (and whose results are quoted as text).
pub(super) const TOOLBOX: [&str; 5] = [READ_FILE, BASH, WEB_FETCH, WRITE_TODOS, KV_STORE];

/// The most calls of one kind a message produces.
pub(super) const MAX_PER_KIND: usize = 3;

/// The most todo items taken from a message.
const MAX_TODOS: usize = 20;

/// Characters trimmed around a token (quotes, brackets, sentence punctuation).
const LEADING: &[char] = &['(', '[', '{', '<', '"', '\'', '`'];
const TRAILING: &[char] = &['.', ',', ';', ':', '!', '?', ')', ']', '}', '>', '"', '\'', '`'];

/// Domain endings that are not file extensions (`example.com`).
const DOMAIN_ENDINGS: [&str; 5] = ["com", "org", "net", "edu", "gov"];

/// The toolbox calls `text` asks for among `tools`, as (tool name, arguments), in the order
/// read_file, bash, web_fetch, kv_store, write_todos. Empty when nothing obvious is asked.
pub(super) fn plan(text: &str, tools: &[ToolDefinition]) -> Vec<(&'static str, Value)> {
    let offered = |name: &str| tools.iter().any(|t| t.name == name);
    let mut rest = text.to_owned();
    let mut files = Vec::new();
    let mut commands = Vec::new();

    for (range, content) in code_spans(text) {
        let content = content.trim();
        if content.is_empty() || tools.iter().any(|t| t.name == content) || is_url(content) {
            continue;
        }
        if is_file_token(content) {
            files.push(content.to_owned());
            blank(&mut rest, range);
        } else if offered(BASH) {
            commands.push(content.to_owned());
            blank(&mut rest, range);
        }
    }
    if offered(BASH) {
        for (range, command) in command_lines(&rest) {
            commands.push(command);
            blank(&mut rest, range);
        }
    }
    let kv = if offered(KV_STORE) { kv_calls(&mut rest) } else { Vec::new() };
    let found: Vec<(Range<usize>, String)> =
        tokens(&rest).into_iter().filter(|(_, t)| is_url(t)).map(|(r, t)| (r, t.to_owned())).collect();
    let mut urls = Vec::new();
    for (range, url) in found {
        urls.push(url);
        blank(&mut rest, range);
    }
    let todos = if offered(WRITE_TODOS) { todo_items(&mut rest) } else { Vec::new() };
    if offered(READ_FILE) {
        files.extend(tokens(&rest).into_iter().map(|(_, t)| t).filter(|t| is_file_token(t)).map(str::to_owned));
    }

    let mut calls = Vec::new();
    if offered(READ_FILE) {
        calls.extend(unique(files).into_iter().map(|path| (READ_FILE, json!({"path": path}))));
    }
    calls.extend(unique(commands).into_iter().map(|command| (BASH, json!({"command": command}))));
    if offered(WEB_FETCH) {
        calls.extend(unique(urls).into_iter().map(|url| (WEB_FETCH, json!({"url": url}))));
    }
    calls.extend(kv.into_iter().take(MAX_PER_KIND).map(|args| (KV_STORE, args)));
    if !todos.is_empty() {
        let todos: Vec<Value> =
            todos.into_iter().map(|(content, status)| json!({"content": content, "status": status})).collect();
        calls.push((WRITE_TODOS, json!({"todos": todos})));
    }
    calls
}

/// The first [`MAX_PER_KIND`] distinct values, in order.
fn unique(values: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        if out.len() < MAX_PER_KIND && !out.contains(&value) {
            out.push(value);
        }
    }
    out
}

/// Replaces a byte range with spaces (same length, so later ranges stay valid).
fn blank(text: &mut String, range: Range<usize>) {
    if text.get(range.clone()).is_some() {
        let spaces = " ".repeat(range.len());
        text.replace_range(range, &spaces);
    }
}

/// Fenced (```` ``` ````) and inline (`` ` ``) code spans: (whole span, content). A fence's
/// first line is dropped when it is a bare language tag.
fn code_spans(text: &str) -> Vec<(Range<usize>, String)> {
    let mut spans = Vec::new();
    let mut at = 0;
    while let Some(offset) = text.get(at..).and_then(|t| t.find('`')) {
        let start = at + offset;
        let fence = text.get(start..).is_some_and(|t| t.starts_with("```"));
        let (open, close) = if fence { (3, "```") } else { (1, "`") };
        let inner_start = start + open;
        let Some(len) = text.get(inner_start..).and_then(|t| t.find(close)) else { break };
        let end = inner_start + len + close.len();
        let mut content = text.get(inner_start..inner_start + len).unwrap_or_default();
        if fence && let Some((first, body)) = content.split_once('\n') {
            let first = first.trim();
            if !first.is_empty() && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '+') {
                content = body;
            }
        }
        spans.push((start..end, content.to_owned()));
        at = end;
    }
    spans
}

/// Commands after `bash:` / `run:` / `shell:` / `$ ` (to the end of the line), or on a line that
/// starts with `run ` (optionally after "please"), unless "run" reads as prose ("run the tests").
fn command_lines(text: &str) -> Vec<(Range<usize>, String)> {
    let mut found = Vec::new();
    let mut line_start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let lower = body.to_ascii_lowercase();
        let marker = ["bash:", "run:", "shell:"]
            .iter()
            .filter_map(|m| lower.find(m).map(|i| i + m.len()))
            .min()
            .or_else(|| {
                let trimmed = lower.trim_start();
                let indent = lower.len() - trimmed.len();
                trimmed.starts_with("$ ").then_some(indent + 2)
            })
            .or_else(|| {
                let trimmed = lower.trim_start();
                let indent = lower.len() - trimmed.len();
                let (skip, after) = match trimmed.strip_prefix("please ") {
                    Some(after) => (7, after),
                    None => (0, trimmed),
                };
                let command = after.strip_prefix("run ")?;
                let first = command.split_whitespace().next().unwrap_or_default();
                let prose = [
                    "the", "a", "an", "this", "that", "these", "those", "it", "them", "my", "your", "some", "all",
                    "tests",
                ];
                (!prose.contains(&first)).then_some(indent + skip + 4)
            });
        if let Some(at) = marker
            && let Some(command) = body.get(at..).map(str::trim).filter(|c| !c.is_empty())
        {
            found.push((line_start..line_start + body.len(), command.to_owned()));
        }
        line_start += line.len();
    }
    found
}

/// Whitespace-separated tokens with their surrounding punctuation trimmed: (range, token).
fn tokens(text: &str) -> Vec<(Range<usize>, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                let raw = text.get(s..i).unwrap_or_default();
                let token = raw.trim_start_matches(LEADING).trim_end_matches(TRAILING);
                if !token.is_empty() {
                    let lead = raw.len() - raw.trim_start_matches(LEADING).len();
                    out.push((s + lead..s + lead + token.len(), token));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

fn is_url(token: &str) -> bool {
    let lower = token.to_ascii_lowercase();
    ["http://", "https://"].iter().any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
        && !token.contains(char::is_whitespace)
}

/// A `/workspace/...` path, or a token whose last segment is `name.ext` (a lowercase extension
/// with a letter, a name with a letter): `README.md`, `src/app.py`, `notes.txt` — not `3.14`,
/// `e.g`, `example.com` or a URL.
pub(super) fn is_file_token(token: &str) -> bool {
    if token.is_empty() || token.len() > 256 || token.contains(char::is_whitespace) || token.contains("://") {
        return false;
    }
    if token.starts_with('-') || token.contains('@') || token.contains('=') {
        return false;
    }
    if let Some(rest) = token.strip_prefix("/workspace/") {
        return !rest.is_empty() && !rest.ends_with('/');
    }
    let path_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '~');
    if !token.chars().all(path_chars) || token.starts_with('/') {
        return false;
    }
    let last = token.rsplit('/').next().unwrap_or(token);
    let Some((stem, ext)) = last.rsplit_once('.') else { return false };
    let ext_ok = (1..=10).contains(&ext.len())
        && ext.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && ext.chars().any(|c| c.is_ascii_lowercase());
    let stem_ok = stem.chars().any(|c| c.is_ascii_alphabetic() || c == '_');
    let abbreviation = stem.len() == 1 && ext.len() == 1 && !token.contains('/');
    let domain = !token.contains('/') && DOMAIN_ENDINGS.contains(&ext);
    ext_ok && stem_ok && !abbreviation && !domain
}

/// Whether `key` can name a stored value.
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `kv_store` arguments for `remember k=v` (the value ends at a comma, a semicolon or the line's
/// end), `recall k`, `forget k` and "what do you remember", blanking the text they used.
fn kv_calls(rest: &mut String) -> Vec<Value> {
    let mut calls = Vec::new();
    let mut used = Vec::new();
    let mut line_start = 0;
    for line in rest.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let lower = body.to_ascii_lowercase();
        let base = line_start;
        line_start += line.len();
        if let Some(at) = lower.find("what do you remember") {
            calls.push(json!({"action": "list"}));
            used.push(base + at..base + at + "what do you remember".len());
            continue;
        }
        if let Some(at) = word_at(&lower, "remember") {
            let from = at + "remember".len();
            let clause_end = body.get(from..).and_then(|t| t.find([',', ';'])).map_or(body.len(), |i| from + i);
            let clause = body.get(from..clause_end).unwrap_or_default();
            let after = clause.trim_start();
            let after = after.strip_prefix("that ").unwrap_or(after);
            let split =
                [" = ", "=", ": ", " is "].iter().filter_map(|sep| after.find(sep).map(|i| (i, sep.len()))).min();
            if let Some((i, len)) = split {
                let key = after.get(..i).unwrap_or_default().trim();
                let value = after.get(i + len..).unwrap_or_default().trim();
                let value = value.strip_suffix('.').unwrap_or(value).trim_matches(['"', '\'']);
                if is_key(key) && !value.is_empty() {
                    calls.push(json!({"action": "set", "key": key, "value": value}));
                    used.push(base + at..base + clause_end);
                    continue;
                }
            }
        }
        for (verb, action) in [("recall", "get"), ("forget", "delete")] {
            if let Some(at) = word_at(&lower, verb) {
                let from = at + verb.len();
                let after = body.get(from..).unwrap_or_default();
                let raw = after.split_whitespace().next().unwrap_or_default();
                let key = raw.trim_start_matches(LEADING).trim_end_matches(TRAILING);
                if is_key(key) {
                    calls.push(json!({"action": action, "key": key}));
                    let end = after.find(raw).map_or(from, |i| from + i + raw.len());
                    used.push(base + at..base + end);
                }
            }
        }
    }
    for range in used {
        blank(rest, range);
    }
    calls
}

/// The byte offset of `word` as a whole word in (lowercase) `text`.
fn word_at(text: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = text.get(from..)?.find(word) {
        let at = from + offset;
        let before = text.get(..at)?.chars().next_back();
        let after = text.get(at + word.len()..)?.chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Todo items (content, status) when the text mentions a todo, blanking the text they used.
fn todo_items(rest: &mut String) -> Vec<(String, &'static str)> {
    let lower = rest.to_ascii_lowercase();
    if word_at(&lower, "todo").or_else(|| word_at(&lower, "todos")).or_else(|| lower.find("to-do")).is_none() {
        return Vec::new();
    }
    let mut items = Vec::new();
    let mut used = Vec::new();
    let mut line_start = 0;
    for line in rest.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let range = line_start..line_start + body.len();
        line_start += line.len();
        let trimmed = body.trim_start();
        let item = ["- ", "* ", "• "].iter().find_map(|bullet| trimmed.strip_prefix(bullet)).or_else(|| {
            let digits = trimmed.find(|c: char| !c.is_ascii_digit())?;
            let rest = trimmed.get(digits..)?;
            (digits > 0).then(|| rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")))?
        });
        if let Some(item) = item {
            items.push(todo(item));
            used.push(range);
        }
    }
    if items.is_empty() {
        let marker = ["todos:", "todo:", "to-do:"].iter().find_map(|m| lower.find(m).map(|i| i + m.len()));
        match marker {
            Some(start) => {
                let end = rest.get(start..).and_then(|t| t.find('\n')).map_or(rest.len(), |n| start + n);
                items.extend(rest.get(start..end).unwrap_or_default().split([',', ';']).map(todo));
                used.push(start..end);
            }
            // The whole message is the item; what it names stays readable by the later rules.
            None => items.push(todo(
                &rest.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(200).collect::<String>(),
            )),
        }
    }
    for range in used {
        blank(rest, range);
    }
    items.retain(|(content, _)| !content.is_empty());
    items.truncate(MAX_TODOS);
    items
}

/// One todo item: `[x] done` is completed, `[ ] open` (or anything else) pending.
fn todo(text: &str) -> (String, &'static str) {
    let text = text.trim();
    let (text, status) = if let Some(done) = text.strip_prefix("[x]").or_else(|| text.strip_prefix("[X]")) {
        (done, "completed")
    } else {
        (text.strip_prefix("[ ]").unwrap_or(text), "pending")
    };
    (text.trim().trim_end_matches('.').trim().to_owned(), status)
}
