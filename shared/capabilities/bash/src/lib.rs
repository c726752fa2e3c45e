//! The `virtual_bash` capability: one `bash` tool that runs a command in bashkit's sandboxed,
//! in-process virtual shell. The session's files are loaded under `/workspace` (the working
//! directory); after the run, files created or changed there are saved back to the session and
//! files that were removed are deleted. Nothing reaches the host: no processes, no real file
//! system, no network. The sandbox (bashkit) is the default feature `sandbox`; without it the
//! capability is only described (the split's API function lists and validates it, workers run it).

mod args;
#[cfg(feature = "sandbox")]
mod sandbox;
#[cfg(feature = "sandbox")]
mod sync;

use everruns_core::capabilities::{Capability, CapabilityInfo, ToolContext, ToolOutcome};
use everruns_core::domain::ToolDefinition;
use serde_json::{Value, json};

pub use args::{BashArgs, DEFAULT_TIMEOUT_SECONDS, MAX_COMMAND_BYTES, MAX_TIMEOUT_SECONDS};

/// The most session-file bytes one run loads; a bigger workspace is refused.
pub const MAX_WORKSPACE_BYTES: usize = 50 * 1024 * 1024;
/// The most bytes of stdout, and of stderr, a run returns.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// The capability id.
pub const VIRTUAL_BASH: &str = "virtual_bash";
/// The tool name.
pub const BASH_TOOL: &str = "bash";

/// The `virtual_bash` capability with its `bash` tool. Stateless: every call builds a fresh
/// sandbox from the session's files.
#[derive(Debug, Clone, Copy, Default)]
pub struct BashCapability;

impl BashCapability {
    /// The capability.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait::async_trait]
impl Capability for BashCapability {
    fn id(&self) -> &str {
        VIRTUAL_BASH
    }

    fn info(&self) -> CapabilityInfo {
        CapabilityInfo {
            id: VIRTUAL_BASH.into(),
            name: "Virtual Bash".into(),
            description: "Runs bash commands in a sandboxed virtual shell (bashkit) whose `/workspace` \
                          is the session's files: text processing, file edits, archives and scripting \
                          without a real machine."
                .into(),
            status: "available".into(),
            category: Some("Execution".into()),
            icon: Some("terminal".into()),
            dependencies: vec!["session_file_system".into()],
            risk_level: Some("medium".into()),
        }
    }

    fn system_prompt_contribution(&self, _config: &Value) -> Option<String> {
        Some(format!(
            "<virtual-bash>\nThe `bash` tool runs commands in a sandboxed virtual bash (bashkit), not a \
             real machine: common shell built-ins and text tools (grep, sed, awk, find, sort, tar, …) \
             are available; there are no real processes, package managers or network. The working \
             directory is /workspace, which holds the session's files: files you create or change \
             there are saved to the session and files you remove there are deleted (read-only files \
             are never changed). Anything outside /workspace (e.g. /tmp) is discarded after each call, \
             and so is shell state such as variables and the current directory. Each call times out \
             after {DEFAULT_TIMEOUT_SECONDS} s by default (`timeout_seconds`, at most \
             {MAX_TIMEOUT_SECONDS}); stdout and stderr are cut at {} KiB each.\n</virtual-bash>",
            MAX_OUTPUT_BYTES / 1024
        ))
    }

    fn tools(&self, _config: &Value) -> Vec<ToolDefinition> {
        vec![ToolDefinition::builtin(
            BASH_TOOL,
            "Run a bash command in the sandboxed virtual shell. The working directory is /workspace \
             (the session's files); changes there are saved. Returns stdout, stderr, exit_code and \
             the files written or deleted.",
            json!({
                "type": "object",
                "properties": {
                    "command": {"type": "string", "description": "The bash command or script to run."},
                    "timeout_seconds": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_TIMEOUT_SECONDS,
                        "description": format!("Wall-clock limit in seconds. Default {DEFAULT_TIMEOUT_SECONDS}.")
                    }
                },
                "required": ["command"],
                "additionalProperties": false
            }),
        )]
    }

    async fn execute_tool(
        &self,
        tool_name: &str,
        arguments: &Value,
        _config: &Value,
        ctx: &ToolContext<'_>,
    ) -> ToolOutcome {
        if tool_name != BASH_TOOL {
            return Err(format!("unknown tool '{tool_name}' in capability {VIRTUAL_BASH}"));
        }
        let args = BashArgs::parse(arguments)?;
        run(&args, ctx).await
    }
}

/// Runs the command in the sandbox.
#[cfg(feature = "sandbox")]
async fn run(args: &BashArgs, ctx: &ToolContext<'_>) -> ToolOutcome {
    Box::pin(sandbox::run(args, ctx)).await.map_err(|e| e.to_string())
}

/// Built without the sandbox (a process that lists capabilities but runs no turns, such as the
/// split's API function): the tool is described, never run here.
#[cfg(not(feature = "sandbox"))]
async fn run(_args: &BashArgs, _ctx: &ToolContext<'_>) -> ToolOutcome {
    Err("bash is not available in this process (built without the sandbox)".into())
}
