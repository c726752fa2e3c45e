//! The `Workspace` call: a remote worker's tools reach their session's files and key-value
//! storage through the control plane's [`StoreWorkspace`](everruns_core::ports::StoreWorkspace),
//! which also seals and opens secrets (workers hold no key).

use everruns_core::ids::SessionId;
use everruns_core::ports::{PortResult, SessionWorkspace};
use everruns_internal_protocol::v1::workspace_request::Op;
use everruns_internal_protocol::v1::workspace_response::Result as Answer;
use everruns_internal_protocol::v1::{Empty, ValueKeys, WorkspaceFiles, WorkspaceRequest, WorkspaceResponse};
use everruns_internal_protocol::wire;

/// Runs one workspace operation. `None` when the request names none.
pub async fn run(workspace: &dyn SessionWorkspace, request: WorkspaceRequest) -> Result<Answer, RunError> {
    let session = SessionId::parse(&request.session_id).map_err(|e| RunError::Invalid(e.to_string()))?;
    let op = request.op.ok_or_else(|| RunError::Invalid("workspace operation missing".into()))?;
    Ok(answer(workspace, session, op).await?)
}

async fn answer(workspace: &dyn SessionWorkspace, session: SessionId, op: Op) -> PortResult<Answer> {
    Ok(match op {
        Op::ReadFile(at) => match workspace.read_file(session, &at.path).await? {
            Some(file) => Answer::File(wire::file(&file)),
            None => Answer::Found(false),
        },
        Op::WriteFile(file) => Answer::Found(workspace.write_file(session, wire::parse_file(file)).await?),
        Op::ListFiles(at) => Answer::Files(WorkspaceFiles {
            files: workspace.list_files(session, &at.path).await?.iter().map(wire::file).collect(),
        }),
        Op::DeleteFile(at) => Answer::Found(workspace.delete_file(session, &at.path).await?),
        Op::GetValue(key) => match workspace.get_value(session, wire::space(key.secret), &key.key).await? {
            Some(value) => Answer::Value(value),
            None => Answer::Found(false),
        },
        Op::PutValue(entry) => {
            workspace.put_value(session, wire::space(entry.secret), &entry.key, &entry.value).await?;
            Answer::Done(Empty {})
        }
        Op::DeleteValue(key) => {
            Answer::Found(workspace.delete_value(session, wire::space(key.secret), &key.key).await?)
        }
        Op::ListKeys(key) => {
            Answer::Keys(ValueKeys { keys: workspace.list_keys(session, wire::space(key.secret)).await? })
        }
    })
}

/// Why an operation was not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The request was malformed.
    #[error("{0}")]
    Invalid(String),
    /// The store refused or failed.
    #[error(transparent)]
    Port(#[from] everruns_core::ports::PortError),
}

/// Wraps an answer.
pub fn response(result: Answer) -> WorkspaceResponse {
    WorkspaceResponse { result: Some(result) }
}
