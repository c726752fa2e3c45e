//! `session_file_system`: the session's files under `/workspace` for the agent — `read_file`,
//! `write_file`, `edit_file` (hash-gated: the edit applies only to the version the model read),
//! `list_directory`, `grep_files`, `delete_file` and `stat_file`, over the session workspace port
//! (durable wherever the workspace is: the stores in-process, the control plane from a worker).
//! Read-only files (initial files marked so) are refused to every change.

mod listing;
mod text;

use everruns_core::capabilities::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use everruns_core::domain::ToolDefinition;
use everruns_core::ports::{PortError, SessionFile, normalize_file_path};
use everruns_core::time::Timestamp;
use serde_json::{Value, json};

use crate::args::{object, optional_bool, optional_count, optional_str, required_str, required_text};
pub use text::content_hash;
use text::{decode, display};

/// The capability id.
pub const ID: &str = "session_file_system";
/// The most text `read_file` returns at once.
pub const MAX_READ_BYTES: usize = 256 * 1024;
/// The default number of lines `read_file` returns.
pub const DEFAULT_READ_LINES: u64 = 2_000;

/// The session file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FileSystemCapability;

#[async_trait::async_trait]
impl Capability for FileSystemCapability {
    fn id(&self) -> &str {
        ID
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: ID.into(),
            name: "File System".into(),
            description: "Read, write, edit, search and list the session's files under /workspace.".into(),
            status: "available".into(),
            category: Some("File System".into()),
            icon: Some("folder".into()),
            dependencies: Vec::new(),
            risk_level: Some("low".into()),
        }
    }

    fn system_prompt_contribution(&self, _config: &Value) -> Option<String> {
        Some(
            "<file-system>\nThe session has a workspace at /workspace, kept for the whole session. Use \
             list_directory and grep_files to find files, read_file to read one (it returns a hash), and \
             edit_file with that hash to change part of a file; write_file replaces a whole file. Read-only \
             files cannot be changed.\n</file-system>"
                .into(),
        )
    }

    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        tool_definitions()
    }

    async fn execute_tool(&self, tool: &str, arguments: &Value, _config: &Value, ctx: &ToolContext<'_>) -> ToolOutcome {
        object(arguments)?;
        match tool {
            "read_file" => read_file(ctx, arguments).await,
            "write_file" => write_file(ctx, arguments).await,
            "edit_file" => edit_file(ctx, arguments).await,
            "list_directory" => listing::list_directory(ctx, arguments).await,
            "grep_files" => listing::grep_files(ctx, arguments).await,
            "delete_file" => delete_file(ctx, arguments).await,
            "stat_file" => listing::stat_file(ctx, arguments).await,
            other => Err(format!("unknown tool '{other}' in capability {ID}")),
        }
    }
}

/// A store failure as the model reads it.
pub(crate) fn port(error: PortError) -> String {
    match error {
        PortError::Invalid(message) | PortError::Conflict(message) => message,
        PortError::NotFound { kind, id } => format!("{kind} '{id}' not found"),
        other => format!("the workspace is unavailable ({other})"),
    }
}

/// A path argument, normalised (relative to `/workspace`).
pub(crate) fn path_arg(arguments: &Value, name: &str) -> Result<String, String> {
    normalize_file_path(required_str(arguments, name)?).map_err(port)
}

async fn existing(ctx: &ToolContext<'_>, path: &str) -> Result<SessionFile, String> {
    ctx.workspace
        .read_file(ctx.session, path)
        .await
        .map_err(port)?
        .ok_or_else(|| format!("{} does not exist", display(path)))
}

async fn read_file(ctx: &ToolContext<'_>, arguments: &Value) -> ToolOutcome {
    let path = path_arg(arguments, "path")?;
    let offset = optional_count(arguments, "offset", 1, u64::from(u32::MAX))?.unwrap_or(1);
    let limit = optional_count(arguments, "limit", 1, 100_000)?.unwrap_or(DEFAULT_READ_LINES);
    let file = existing(ctx, &path).await?;
    let hash = content_hash(&file.content);
    let Ok(content) = std::str::from_utf8(&file.content) else {
        return Ok(json!({
            "path": display(&path), "binary": true, "size": file.content.len(), "hash": hash,
            "content": "", "note": "a binary file: its bytes are not shown",
        }));
    };
    let total_lines = content.lines().count();
    let mut shown = String::new();
    let mut truncated = false;
    let mut last = offset.saturating_sub(1);
    for line in content.lines().skip(usize::try_from(offset - 1).unwrap_or(usize::MAX)).take(limit as usize) {
        if shown.len() + line.len() + 1 > MAX_READ_BYTES {
            truncated = true;
            break;
        }
        shown.push_str(line);
        shown.push('\n');
        last += 1;
    }
    if !content.ends_with('\n') && last as usize == total_lines && shown.ends_with('\n') {
        shown.pop();
    }
    let truncated = truncated || (last as usize) < total_lines;
    Ok(json!({
        "path": display(&path), "content": shown, "hash": hash, "size": file.content.len(),
        "total_lines": total_lines, "from_line": offset, "to_line": last, "truncated": truncated,
        "is_readonly": file.is_readonly,
    }))
}

async fn write_file(ctx: &ToolContext<'_>, arguments: &Value) -> ToolOutcome {
    let path = path_arg(arguments, "path")?;
    let content = decode(required_text(arguments, "content")?, optional_str(arguments, "encoding")?)?;
    let size = content.len();
    let hash = content_hash(&content);
    let file = SessionFile { path: path.clone(), content, is_readonly: false, updated_at: Timestamp::now() };
    let created = ctx.workspace.write_file(ctx.session, file).await.map_err(port)?;
    Ok(json!({"path": display(&path), "created": created, "size": size, "hash": hash}))
}

async fn edit_file(ctx: &ToolContext<'_>, arguments: &Value) -> ToolOutcome {
    let path = path_arg(arguments, "path")?;
    let old = required_text(arguments, "old_string")?;
    let new = required_text(arguments, "new_string")?;
    let expected = required_str(arguments, "expected_hash")?;
    let replace_all = optional_bool(arguments, "replace_all")?.unwrap_or(false);
    if old.is_empty() {
        return Err("'old_string' must not be empty (use write_file to replace a whole file)".into());
    }
    let file = existing(ctx, &path).await?;
    if file.is_readonly {
        return Err(format!("{} is read-only", display(&path)));
    }
    let current = content_hash(&file.content);
    if current != expected.trim() {
        return Err(format!(
            "{} changed since it was read (its hash is now {current}): read it again and retry",
            display(&path)
        ));
    }
    let text = std::str::from_utf8(&file.content).map_err(|_| format!("{} is a binary file", display(&path)))?;
    let count = text.matches(old).count();
    let edited = match (count, replace_all) {
        (0, _) => return Err(format!("'old_string' was not found in {}", display(&path))),
        (1, _) | (_, true) => text.replace(old, new),
        (n, false) => {
            return Err(format!(
                "'old_string' occurs {n} times in {}: give more context or set replace_all",
                display(&path)
            ));
        }
    };
    let hash = content_hash(edited.as_bytes());
    let size = edited.len();
    let file = SessionFile {
        path: path.clone(),
        content: edited.into_bytes(),
        is_readonly: false,
        updated_at: Timestamp::now(),
    };
    ctx.workspace.write_file(ctx.session, file).await.map_err(port)?;
    Ok(json!({"path": display(&path), "replacements": count, "size": size, "hash": hash}))
}

async fn delete_file(ctx: &ToolContext<'_>, arguments: &Value) -> ToolOutcome {
    let path = path_arg(arguments, "path")?;
    let deleted = ctx.workspace.delete_file(ctx.session, &path).await.map_err(port)?;
    if !deleted {
        return Err(format!("{} does not exist", display(&path)));
    }
    Ok(json!({"path": display(&path), "deleted": true}))
}

fn tool_definitions() -> Vec<ToolDefinition> {
    let path = json!({"type": "string", "description": "A path under /workspace (absolute or relative to it)."});
    vec![
        ToolDefinition::builtin(
            "read_file",
            "Read a file of the workspace. Returns its text (a range of lines) and its hash for edit_file.",
            json!({"type": "object", "properties": {
                "path": path,
                "offset": {"type": "integer", "minimum": 1, "description": "First line to return (1-based)."},
                "limit": {"type": "integer", "minimum": 1, "description": "How many lines to return (default 2000)."}
            }, "required": ["path"]}),
        ),
        ToolDefinition::builtin(
            "write_file",
            "Create or replace a whole file of the workspace.",
            json!({"type": "object", "properties": {
                "path": path,
                "content": {"type": "string"},
                "encoding": {"type": "string", "enum": ["text", "base64"], "description": "Default text."}
            }, "required": ["path", "content"]}),
        ),
        ToolDefinition::builtin(
            "edit_file",
            "Replace text in a file. expected_hash is the hash read_file returned: the edit applies only if \
             the file is unchanged since.",
            json!({"type": "object", "properties": {
                "path": path,
                "old_string": {"type": "string", "description": "Exact text to replace (unique unless replace_all)."},
                "new_string": {"type": "string"},
                "expected_hash": {"type": "string"},
                "replace_all": {"type": "boolean"}
            }, "required": ["path", "old_string", "new_string", "expected_hash"]}),
        ),
        ToolDefinition::builtin(
            "list_directory",
            "List the files and directories under a directory of the workspace.",
            json!({"type": "object", "properties": {
                "path": {"type": "string", "description": "Default /workspace."},
                "recursive": {"type": "boolean", "description": "List everything below (default false)."}
            }}),
        ),
        ToolDefinition::builtin(
            "grep_files",
            "Search the workspace's text files for a regular expression; returns matching lines.",
            json!({"type": "object", "properties": {
                "pattern": {"type": "string", "description": "A regular expression (Rust syntax)."},
                "path": {"type": "string", "description": "Only under this directory (default /workspace)."},
                "case_insensitive": {"type": "boolean"},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 1000}
            }, "required": ["pattern"]}),
        ),
        ToolDefinition::builtin(
            "delete_file",
            "Delete a file of the workspace.",
            json!({"type": "object", "properties": {"path": path}, "required": ["path"]}),
        ),
        ToolDefinition::builtin(
            "stat_file",
            "Whether a path exists, and its type, size, hash and last change.",
            json!({"type": "object", "properties": {"path": path}, "required": ["path"]}),
        ),
    ]
}
