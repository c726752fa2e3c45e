//! `GrpcSessionWorkspace`: a remote worker's tools reach their session's files and key-value
//! storage through the control plane's `Workspace` call (the worker holds no database and no key).

use everruns_core::ids::SessionId;
use everruns_core::ports::{PortError, PortResult, SessionFile, SessionWorkspace, ValueSpace};
use everruns_internal_protocol::v1::workspace_request::Op;
use everruns_internal_protocol::v1::workspace_response::Result as Answer;
use everruns_internal_protocol::v1::{FilePath, ValueEntry, ValueKey, WorkspaceRequest};
use everruns_internal_protocol::wire;

use crate::client::WorkerClient;
use crate::host::status;

/// The workspace of a remote worker.
#[derive(Clone)]
pub struct GrpcSessionWorkspace {
    client: WorkerClient,
}

impl GrpcSessionWorkspace {
    /// A workspace reached through `client`.
    pub fn new(client: WorkerClient) -> Self {
        Self { client }
    }

    async fn call(&self, session: SessionId, op: Op) -> PortResult<Answer> {
        let request = WorkspaceRequest { session_id: session.to_string(), op: Some(op) };
        let response = self.client.clone().workspace(request).await.map_err(status)?;
        response.into_inner().result.ok_or_else(|| PortError::Internal("control plane: empty workspace answer".into()))
    }
}

fn unexpected(answer: &Answer) -> PortError {
    PortError::Internal(format!("control plane: unexpected workspace answer {answer:?}"))
}

fn key(space: ValueSpace, key: &str) -> ValueKey {
    ValueKey { secret: space == ValueSpace::Secrets, key: key.to_owned() }
}

#[async_trait::async_trait]
impl SessionWorkspace for GrpcSessionWorkspace {
    async fn read_file(&self, session: SessionId, path: &str) -> PortResult<Option<SessionFile>> {
        match self.call(session, Op::ReadFile(FilePath { path: path.to_owned() })).await? {
            Answer::File(file) => Ok(Some(wire::parse_file(file))),
            Answer::Found(false) => Ok(None),
            other => Err(unexpected(&other)),
        }
    }

    async fn write_file(&self, session: SessionId, file: SessionFile) -> PortResult<bool> {
        match self.call(session, Op::WriteFile(wire::file(&file))).await? {
            Answer::Found(created) => Ok(created),
            other => Err(unexpected(&other)),
        }
    }

    async fn list_files(&self, session: SessionId, prefix: &str) -> PortResult<Vec<SessionFile>> {
        match self.call(session, Op::ListFiles(FilePath { path: prefix.to_owned() })).await? {
            Answer::Files(files) => Ok(files.files.into_iter().map(wire::parse_file).collect()),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete_file(&self, session: SessionId, path: &str) -> PortResult<bool> {
        match self.call(session, Op::DeleteFile(FilePath { path: path.to_owned() })).await? {
            Answer::Found(existed) => Ok(existed),
            other => Err(unexpected(&other)),
        }
    }

    async fn put_value(&self, session: SessionId, space: ValueSpace, k: &str, value: &str) -> PortResult<()> {
        let entry = ValueEntry { secret: space == ValueSpace::Secrets, key: k.to_owned(), value: value.to_owned() };
        match self.call(session, Op::PutValue(entry)).await? {
            Answer::Done(_) => Ok(()),
            other => Err(unexpected(&other)),
        }
    }

    async fn get_value(&self, session: SessionId, space: ValueSpace, k: &str) -> PortResult<Option<String>> {
        match self.call(session, Op::GetValue(key(space, k))).await? {
            Answer::Value(value) => Ok(Some(value)),
            Answer::Found(false) => Ok(None),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete_value(&self, session: SessionId, space: ValueSpace, k: &str) -> PortResult<bool> {
        match self.call(session, Op::DeleteValue(key(space, k))).await? {
            Answer::Found(existed) => Ok(existed),
            other => Err(unexpected(&other)),
        }
    }

    async fn list_keys(&self, session: SessionId, space: ValueSpace) -> PortResult<Vec<String>> {
        match self.call(session, Op::ListKeys(key(space, ""))).await? {
            Answer::Keys(keys) => Ok(keys.keys),
            other => Err(unexpected(&other)),
        }
    }
}
