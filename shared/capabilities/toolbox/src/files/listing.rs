//! The file system's read-only views: `list_directory` (files and the directories their paths
//! imply), `grep_files` (a regular expression over the text files) and `stat_file`.

use std::collections::BTreeMap;

use everruns_core::capabilities::{ToolContext, ToolOutcome};
use everruns_core::ports::{SessionFile, normalize_file_path, workspace_relative};
use serde_json::{Value, json};

use super::text::{content_hash, display};
use super::{path_arg, port};
use crate::args::{optional_bool, optional_count, optional_str, required_str};

/// The most entries `list_directory` returns.
const MAX_ENTRIES: usize = 1_000;
/// The longest matched line `grep_files` shows.
const MAX_LINE_CHARS: usize = 300;

/// A directory argument, normalised; the workspace root is `""`.
fn directory_arg(arguments: &Value) -> Result<String, String> {
    match optional_str(arguments, "path")? {
        None => Ok(String::new()),
        Some(path) if workspace_relative(path).trim_matches('/').is_empty() => Ok(String::new()),
        Some(path) => normalize_file_path(path).map_err(port),
    }
}

async fn files_under(ctx: &ToolContext<'_>, directory: &str) -> Result<Vec<SessionFile>, String> {
    let prefix = if directory.is_empty() { String::new() } else { format!("{directory}/") };
    ctx.workspace.list_files(ctx.session, &prefix).await.map_err(port)
}

pub(super) async fn list_directory(ctx: &ToolContext<'_>, arguments: &Value) -> ToolOutcome {
    let directory = directory_arg(arguments)?;
    let recursive = optional_bool(arguments, "recursive")?.unwrap_or(false);
    let files = files_under(ctx, &directory).await?;
    if files.is_empty() && !directory.is_empty() {
        if ctx.workspace.read_file(ctx.session, &directory).await.map_err(port)?.is_some() {
            return Err(format!("{} is a file, not a directory", display(&directory)));
        }
        return Err(format!("{} does not exist", display(&directory)));
    }
    let skip = if directory.is_empty() { 0 } else { directory.len() + 1 };
    // Name below the directory -> (is a directory, size).
    let mut entries: BTreeMap<String, (bool, usize)> = BTreeMap::new();
    for file in &files {
        let rest = &file.path[skip..];
        match rest.split_once('/') {
            Some((dir, _)) if !recursive => {
                entries.entry(dir.to_owned()).or_insert((true, 0));
            }
            _ => {
                if recursive {
                    let mut parent = String::new();
                    for part in rest.split('/').rev().skip(1).collect::<Vec<_>>().into_iter().rev() {
                        parent = if parent.is_empty() { part.to_owned() } else { format!("{parent}/{part}") };
                        entries.entry(parent.clone()).or_insert((true, 0));
                    }
                }
                entries.insert(rest.to_owned(), (false, file.content.len()));
            }
        }
    }
    let total = entries.len();
    let listed: Vec<Value> = entries
        .into_iter()
        .take(MAX_ENTRIES)
        .map(|(name, (is_dir, size))| {
            let full = if directory.is_empty() { name.clone() } else { format!("{directory}/{name}") };
            if is_dir {
                json!({"name": name, "path": display(&full), "type": "directory"})
            } else {
                json!({"name": name, "path": display(&full), "type": "file", "size": size})
            }
        })
        .collect();
    Ok(json!({"path": display(&directory), "entries": listed, "total": total, "truncated": total > MAX_ENTRIES}))
}

pub(super) async fn grep_files(ctx: &ToolContext<'_>, arguments: &Value) -> ToolOutcome {
    let pattern = required_str(arguments, "pattern")?;
    let insensitive = optional_bool(arguments, "case_insensitive")?.unwrap_or(false);
    let max = optional_count(arguments, "max_results", 1, 1_000)?.unwrap_or(100) as usize;
    let directory = directory_arg(arguments)?;
    let regex = regex::RegexBuilder::new(pattern)
        .case_insensitive(insensitive)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| format!("'pattern' is not a valid regular expression: {e}"))?;
    let mut matches = Vec::new();
    let mut truncated = false;
    let mut searched = 0;
    'files: for file in files_under(ctx, &directory).await? {
        let Ok(text) = std::str::from_utf8(&file.content) else { continue };
        searched += 1;
        for (number, line) in text.lines().enumerate() {
            if regex.is_match(line) {
                if matches.len() == max {
                    truncated = true;
                    break 'files;
                }
                let shown: String = line.chars().take(MAX_LINE_CHARS).collect();
                matches.push(json!({"path": display(&file.path), "line": number + 1, "text": shown}));
            }
        }
    }
    Ok(json!({"pattern": pattern, "matches": matches, "files_searched": searched, "truncated": truncated}))
}

pub(super) async fn stat_file(ctx: &ToolContext<'_>, arguments: &Value) -> ToolOutcome {
    let path = path_arg(arguments, "path")?;
    if let Some(file) = ctx.workspace.read_file(ctx.session, &path).await.map_err(port)? {
        return Ok(json!({
            "path": display(&path), "exists": true, "type": "file", "size": file.content.len(),
            "hash": content_hash(&file.content), "is_readonly": file.is_readonly,
            "updated_at": file.updated_at.as_datetime().to_rfc3339(),
        }));
    }
    let inside = files_under(ctx, &path).await?;
    if inside.is_empty() {
        return Ok(json!({"path": display(&path), "exists": false}));
    }
    Ok(json!({"path": display(&path), "exists": true, "type": "directory", "files": inside.len()}))
}
