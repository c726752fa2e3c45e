//! One `bash` run: load the session's files into a fresh bashkit in-memory file system under
//! `/workspace`, run the command with bounded time, work and output, then save the changes back
//! (see [`crate::sync`]) and answer `{stdout, stderr, exit_code, files_written, files_deleted}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bashkit::{Bash, ExecResult, ExecutionLimits, FileSystem, FsLimits, InMemoryFs, LimitExceeded};
use everruns_core::capabilities::ToolContext;
use everruns_core::ports::{PortError, SessionFile};
use serde_json::{Value, json};

use crate::args::BashArgs;
use crate::sync;
use crate::{MAX_OUTPUT_BYTES, MAX_WORKSPACE_BYTES};

/// The sandbox file system's size: the loaded files plus room for what the command writes.
const SANDBOX_FS_BYTES: u64 = 80 * 1024 * 1024;
/// The sandbox's view of the session files, and its working directory.
pub(crate) const WORKSPACE_DIR: &str = "/workspace";
/// Extra time past the sandbox's own timeout before the run is abandoned from outside.
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);
/// The exit code of a run that hit its timeout (as `timeout(1)` reports it).
const TIMEOUT_EXIT_CODE: i32 = 124;
/// The exit code of a script bash could not parse.
const SYNTAX_EXIT_CODE: i32 = 2;

/// Why a run could not be carried out (the model reads the message).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The session's files could not be listed.
    #[error("could not read the session files: {0}")]
    List(PortError),
    /// The session's files are too big to load.
    #[error("the session files total {total} bytes; the bash sandbox loads at most {MAX_WORKSPACE_BYTES} bytes")]
    TooLarge {
        /// Their total size.
        total: usize,
    },
    /// A changed file could not be saved.
    #[error("could not save '{path}' to the session files: {source}")]
    Save {
        /// The file.
        path: String,
        /// The store's error.
        source: PortError,
    },
    /// A removed file could not be deleted.
    #[error("could not delete '{path}' from the session files: {source}")]
    Delete {
        /// The file.
        path: String,
        /// The store's error.
        source: PortError,
    },
}

/// A session file as it was loaded, to tell what the command changed.
#[derive(Debug)]
pub(crate) struct Original {
    pub(crate) content: Vec<u8>,
    pub(crate) is_readonly: bool,
}

/// What was loaded into the sandbox: files by relative path, and paths that could not be loaded
/// (never written or deleted afterwards), each with the reason.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub(crate) originals: BTreeMap<String, Original>,
    pub(crate) unloaded: BTreeMap<String, String>,
}

/// Runs one checked `bash` call against the session in `ctx`.
pub(crate) async fn run(args: &BashArgs, ctx: &ToolContext<'_>) -> Result<Value, SandboxError> {
    let files = ctx.workspace.list_files(ctx.session, "").await.map_err(SandboxError::List)?;
    let total = files.iter().fold(0usize, |sum, f| sum.saturating_add(f.content.len()));
    if total > MAX_WORKSPACE_BYTES {
        return Err(SandboxError::TooLarge { total });
    }
    let fs = Arc::new(InMemoryFs::with_limits(FsLimits::new().max_total_bytes(SANDBOX_FS_BYTES)));
    fs.add_dir(WORKSPACE_DIR, 0o755);
    let loaded = load(&fs, files).await;

    let mut bash = Bash::builder()
        .fs(fs.clone())
        .cwd(WORKSPACE_DIR)
        .username("user")
        .hostname("sandbox")
        .limits(limits(args.timeout))
        .build();
    let outcome = match tokio::time::timeout(args.timeout + TIMEOUT_GRACE, bash.exec(&args.command)).await {
        Ok(Ok(result)) => Outcome::finished(result),
        Ok(Err(error)) => Outcome::failed(&error, args.timeout),
        Err(_) => Outcome::failed(&bashkit::Error::ResourceLimit(LimitExceeded::Timeout(args.timeout)), args.timeout),
    };
    drop(bash);

    let report = sync::save_changes(&fs, &loaded, ctx).await?;
    let mut answer = json!({
        "stdout": outcome.stdout,
        "stderr": outcome.stderr,
        "exit_code": outcome.exit_code,
        "files_written": report.written,
        "files_deleted": report.deleted,
    });
    if outcome.truncated {
        answer["truncated"] = Value::Bool(true);
    }
    if !report.skipped.is_empty() {
        answer["files_skipped"] =
            report.skipped.iter().map(|(path, reason)| json!({"path": path, "reason": reason})).collect();
    }
    Ok(answer)
}

/// The sandbox's limits for a run of at most `timeout`.
fn limits(timeout: Duration) -> ExecutionLimits {
    ExecutionLimits::new()
        .timeout(timeout)
        .max_commands(100_000)
        .max_loop_iterations(100_000)
        .max_total_loop_iterations(1_000_000)
        .max_input_bytes(crate::args::MAX_COMMAND_BYTES)
        .max_stdout_bytes(MAX_OUTPUT_BYTES)
        .max_stderr_bytes(MAX_OUTPUT_BYTES)
}

/// Loads the session files under `/workspace` (read-only ones with mode 0444). A file the
/// sandbox refuses (a path clash, a limit) is left out and remembered, never touched later.
async fn load(fs: &InMemoryFs, files: Vec<SessionFile>) -> Loaded {
    let mut loaded = Loaded::default();
    let mut dirs = BTreeSet::new();
    for file in files {
        let path = sandbox_path(&file.path);
        match load_one(fs, &path, &file, &mut dirs).await {
            Ok(()) => {
                let original = Original { content: file.content, is_readonly: file.is_readonly };
                loaded.originals.insert(file.path, original);
            }
            Err(error) => {
                loaded.unloaded.insert(file.path, format!("not loaded into the sandbox: {error}"));
            }
        }
    }
    loaded
}

async fn load_one(
    fs: &InMemoryFs,
    path: &Path,
    file: &SessionFile,
    dirs: &mut BTreeSet<PathBuf>,
) -> bashkit::Result<()> {
    if let Some(parent) = path.parent()
        && dirs.insert(parent.to_path_buf())
    {
        fs.mkdir(parent, true).await?;
    }
    fs.write_file(path, &file.content).await?;
    if file.is_readonly {
        fs.chmod(path, 0o444).await?;
    }
    Ok(())
}

/// `/workspace/<path>` for a session file path.
pub(crate) fn sandbox_path(relative: &str) -> PathBuf {
    Path::new(WORKSPACE_DIR).join(relative)
}

/// How the command ended, its output capped.
#[derive(Debug)]
struct Outcome {
    stdout: String,
    stderr: String,
    exit_code: i32,
    truncated: bool,
}

impl Outcome {
    fn finished(result: ExecResult) -> Self {
        let (stdout, out_cut) = capped(result.stdout.as_bytes(), result.stdout_truncated, "stdout");
        let (stderr, err_cut) = capped(result.stderr.as_bytes(), result.stderr_truncated, "stderr");
        Self { stdout, stderr, exit_code: result.exit_code, truncated: out_cut || err_cut }
    }

    /// A run bashkit ended with an error (a limit, the timeout, a syntax error): its output is
    /// lost, the error becomes stderr.
    fn failed(error: &bashkit::Error, timeout: Duration) -> Self {
        let (exit_code, message) = match error {
            bashkit::Error::ResourceLimit(LimitExceeded::Timeout(_)) => {
                (TIMEOUT_EXIT_CODE, format!("bash: command timed out after {} s\n", timeout.as_secs()))
            }
            bashkit::Error::Parse { .. } => (SYNTAX_EXIT_CODE, format!("bash: {error}\n")),
            _ => (1, format!("bash: {error}\n")),
        };
        let (stderr, truncated) = capped(message.as_bytes(), false, "stderr");
        Self { stdout: String::new(), stderr, exit_code, truncated }
    }
}

/// The stream as text, at most [`MAX_OUTPUT_BYTES`] (cut on a character boundary), with a note
/// when it was cut here or by the sandbox.
fn capped(bytes: &[u8], already_cut: bool, stream: &str) -> (String, bool) {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    let mut cut = already_cut;
    if text.len() > MAX_OUTPUT_BYTES {
        let mut end = MAX_OUTPUT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        cut = true;
    }
    if cut {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("[{stream} truncated at {} KiB]\n", MAX_OUTPUT_BYTES / 1024));
    }
    (text, cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_capped_on_a_character_boundary() {
        let long = "é".repeat(MAX_OUTPUT_BYTES);
        let (text, cut) = capped(long.as_bytes(), false, "stdout");
        assert!(cut);
        assert!(text.ends_with("[stdout truncated at 64 KiB]\n"), "{}", &text[text.len() - 40..]);
        assert!(text.len() <= MAX_OUTPUT_BYTES + 40);
        let (short, cut) = capped(b"hi\n", false, "stdout");
        assert_eq!((short.as_str(), cut), ("hi\n", false));
        let (noted, cut) = capped(b"partial", true, "stderr");
        assert!(cut && noted.starts_with("partial\n[stderr truncated"), "{noted}");
    }
}
