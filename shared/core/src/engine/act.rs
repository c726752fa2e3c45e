//! The act step: server-side tool calls run concurrently; client-side calls are handed to the
//! client with `tool.call_requested` and the session waits. A tool failure is a result the model
//! can read, never an engine error.

use futures::future::join_all;
use serde_json::Value;
use tokio::time::Instant;

use super::reason::{ReasonOutput, elapsed_ms};
use super::{EngineError, IterationOutcome, IterationRun};
use crate::capabilities::ToolContext;
use crate::domain::{ContentPart, ToolKind};
use crate::driver::ToolCall;
use crate::events::*;

/// How one tool call ended.
enum ToolRun {
    Succeeded,
    Failed,
    Cancelled,
}

impl IterationRun<'_> {
    pub(super) async fn act(&self, output: ReasonOutput) -> Result<IterationOutcome, EngineError> {
        let calls: Vec<ToolCall> = output
            .message
            .tool_calls()
            .map(|(id, name, arguments)| ToolCall {
                id: id.to_owned(),
                name: name.to_owned(),
                arguments: arguments.clone(),
            })
            .collect();
        if calls.is_empty() {
            // A message steered the turn while the model answered: answer it in another step.
            if self.steered() {
                return Ok(IterationOutcome::Continue);
            }
            return self.finish_completed(&output).await;
        }
        let is_client_side = |call: &ToolCall| {
            !self.context.tool_capabilities.contains_key(&call.name)
                && self
                    .context
                    .runtime_agent
                    .tools
                    .iter()
                    .any(|t| t.name == call.name && t.kind == ToolKind::ClientSide)
        };
        let (client, server): (Vec<_>, Vec<_>) = calls.into_iter().partition(is_client_side);

        if !server.is_empty() {
            self.emit_keyed(
                self.step_key("act.started"),
                EventPayload::ActStarted(ActStartedData {
                    tool_calls: server.iter().map(summary).collect(),
                    headline: None,
                }),
            )
            .await?;
            // Tools have effects: everything emitted so far is stored before they run.
            self.host.flush().await?;
            let started = Instant::now();
            let runs = join_all(server.iter().map(|call| self.run_tool(call))).await;
            let mut success_count = 0;
            let mut error_count = 0;
            for run in runs {
                match run? {
                    ToolRun::Succeeded => success_count += 1,
                    ToolRun::Failed => error_count += 1,
                    ToolRun::Cancelled => return self.finish_cancelled().await,
                }
            }
            self.emit_keyed(
                self.step_key("act.completed"),
                EventPayload::ActCompleted(ActCompletedData {
                    completed: true,
                    success_count,
                    error_count,
                    duration_ms: Some(elapsed_ms(started)),
                    headline: None,
                }),
            )
            .await?;
        }

        if !client.is_empty() {
            let summaries = client.iter().map(summary).collect();
            self.emit_keyed(
                self.step_key("tool.call_requested"),
                EventPayload::ToolCallRequested(ToolCallRequestedData {
                    tool_calls: client,
                    tool_summaries: Some(summaries),
                    headline: None,
                }),
            )
            .await?;
            self.host.await_tool_results(self.task.session_id, self.task.turn_id).await?;
            return Ok(IterationOutcome::WaitingForToolResults);
        }
        Ok(IterationOutcome::Continue)
    }

    async fn run_tool(&self, call: &ToolCall) -> Result<ToolRun, EngineError> {
        let done_key = self.step_key(&format!("tool.completed/{}", call.id));
        if let Some(event) = self.saved(&done_key)
            && let EventPayload::ToolCompleted(data) = &event.payload
        {
            return Ok(if data.success { ToolRun::Succeeded } else { ToolRun::Failed });
        }
        if self.cancel.is_cancelled() {
            return Ok(ToolRun::Cancelled);
        }
        self.emit_keyed(
            self.step_key(&format!("tool.started/{}", call.id)),
            EventPayload::ToolStarted(ToolStartedData { tool_call: call.clone(), display_name: None, narration: None }),
        )
        .await?;
        let started = Instant::now();
        let capability_id = self.context.tool_capabilities.get(&call.name);
        let outcome = match capability_id.and_then(|id| self.engine.capabilities.get(id)) {
            Some(capability) => {
                let config = self
                    .context
                    .runtime_agent
                    .capabilities
                    .iter()
                    .find(|c| Some(&c.capability_ref) == capability_id)
                    .map(|c| c.config.clone())
                    .unwrap_or(Value::Object(Default::default()));
                let ctx = ToolContext {
                    session: self.task.session_id,
                    workspace: self.host.workspace(),
                    grade: self.engine.config.grade,
                    network_access: self.context.runtime_agent.network_access.as_ref(),
                };
                // A cancel aborts a running tool at once (its future is dropped).
                tokio::select! {
                    biased;
                    _ = self.cancel.cancelled() => return self.tool_cancelled(call, capability_id, started).await,
                    outcome = capability.execute_tool(&call.name, &call.arguments, &config, &ctx) => outcome,
                }
            }
            None => Err(format!("unknown tool '{}'", call.name)),
        };
        let success = outcome.is_ok();
        let (result, error) = match outcome {
            Ok(value) => (Some(vec![ContentPart::text(value.to_string())]), None),
            Err(message) => (None, Some(message)),
        };
        self.emit_keyed(
            done_key,
            EventPayload::ToolCompleted(ToolCompletedData {
                tool_call_id: call.id.clone(),
                tool_name: call.name.clone(),
                success,
                status: if success { "success" } else { "error" }.into(),
                result,
                error,
                duration_ms: Some(elapsed_ms(started)),
                capability_id: capability_id.cloned(),
            }),
        )
        .await?;
        Ok(if success { ToolRun::Succeeded } else { ToolRun::Failed })
    }
}

impl IterationRun<'_> {
    /// A tool aborted by a cancel: its result says so (one of the cancellation's own events), so
    /// the transcript stays well formed.
    async fn tool_cancelled(
        &self,
        call: &ToolCall,
        capability_id: Option<&String>,
        started: Instant,
    ) -> Result<ToolRun, EngineError> {
        let data = ToolCompletedData {
            duration_ms: Some(elapsed_ms(started)),
            capability_id: capability_id.cloned(),
            ..ToolCompletedData::cancelled(call.id.clone(), call.name.clone())
        };
        let key = self.step_key(&format!("tool.completed/{}", call.id));
        match self.emit_keyed(key, EventPayload::ToolCompleted(data)).await {
            // Refused only when the turn is already over: nothing more to say.
            Ok(_) | Err(EngineError::Port(crate::ports::PortError::TurnEnded(_))) => Ok(ToolRun::Cancelled),
            Err(error) => Err(error),
        }
    }
}

fn summary(call: &ToolCall) -> ToolCallSummary {
    ToolCallSummary { id: call.id.clone(), name: call.name.clone(), display_name: None, narration: None }
}
