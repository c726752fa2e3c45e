//! `send_message`: posts a user message and follows the session's live events until the turn the
//! message belongs to ends, sending each streamed piece of the answer as an MCP progress
//! notification. The subscription starts before the post, so nothing is missed; should the live
//! path drop an event (another instance, a lagging fan-out), the session's stored events settle
//! the answer once the session is idle.

use std::time::Duration;

use everruns_core::domain::ContentPart;
use everruns_core::events::{Event, EventPayload};
use everruns_core::ids::MessageId;
use everruns_core::ids::{SessionId, TurnId};
use everruns_core::ports::EventFilter;
use everruns_services::auth::Caller;
use everruns_services::sessions::{self, CreateMessageInput, MessageInput};
use futures::StreamExt;
use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ProgressNotificationParam};
use rmcp::service::RequestContext;
use serde_json::{Value, json};

use super::tools::{Args, Refusal};
use crate::state::AppState;

/// Longest accepted message.
const MAX_TEXT_BYTES: usize = 256 * 1024;
/// How often the stored state is checked while waiting.
const SETTLE_EVERY: Duration = Duration::from_secs(2);

/// What the wait has learnt so far.
#[derive(Default)]
struct Follow {
    turn: Option<TurnId>,
    answer: Option<String>,
    ended: Option<(&'static str, Option<String>)>,
}

impl Follow {
    /// Takes one event of the session into account.
    fn observe(&mut self, message: MessageId, event: &Event) {
        if self.turn.is_none() {
            let ours = match &event.payload {
                EventPayload::InputMessage(d) => d.message.id == message,
                _ => event.context.input_message_id == Some(message),
            };
            if ours {
                self.turn = event.context.turn_id;
            }
        }
        let Some(turn) = self.turn else { return };
        let (event_turn, ending) = match &event.payload {
            EventPayload::OutputMessageCompleted(d) => {
                if event.context.turn_id == Some(turn) {
                    let text = d.message.text();
                    if !text.is_empty() {
                        self.answer = Some(text);
                    }
                }
                return;
            }
            EventPayload::TurnCompleted(d) => (d.turn_id, ("completed", None)),
            EventPayload::TurnFailed(d) => (d.turn_id, ("failed", Some(d.error.clone()))),
            EventPayload::TurnCancelled(d) => (d.turn_id, ("cancelled", d.reason.clone())),
            // The agent handed calls to the client (client-side tools): the turn waits for results
            // that only `POST /v1/sessions/{id}/tool-results` can give.
            EventPayload::ToolCallRequested(_) if event.context.turn_id == Some(turn) => {
                (turn, ("waiting_for_tool_results", None))
            }
            _ => return,
        };
        if event_turn == turn {
            self.ended = Some(ending);
        }
    }

    fn result(&self, session: SessionId, status: &str, error: Option<&str>) -> CallToolResult {
        let mut body = json!({"session_id": session, "status": status, "answer": self.answer});
        if let Some(turn) = self.turn {
            body["turn_id"] = json!(turn);
        }
        if let Some(error) = error {
            body["error"] = Value::String(error.to_owned());
        }
        let failed = status == "failed";
        let mut result = CallToolResult::structured(body);
        result.is_error = Some(failed);
        result
    }
}

/// Replays the session's latest stored events into `follow` (the fallback path).
async fn settle(state: &AppState, session: SessionId, message: MessageId, follow: &mut Follow) -> Result<(), Refusal> {
    let filter = EventFilter {
        types: [
            "input.message",
            "output.message.completed",
            "tool.call_requested",
            "turn.completed",
            "turn.failed",
            "turn.cancelled",
        ]
        .map(str::to_owned)
        .to_vec(),
        limit: Some(200),
        ..EventFilter::default()
    };
    for event in state.stores.events.list_events(session, &filter).await? {
        follow.observe(message, &event);
    }
    Ok(())
}

/// The tool.
pub(super) async fn send_message(
    state: &AppState,
    caller: Caller,
    args: &Args<'_>,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, Refusal> {
    args.only(&["session_id", "text", "timeout_seconds"])?;
    let session = args.session()?;
    let text = args.required("text")?;
    if text.len() > MAX_TEXT_BYTES {
        return Err(Refusal(format!("'text' is longer than {} KiB", MAX_TEXT_BYTES / 1024)));
    }
    let timeout = Duration::from_secs(args.number("timeout_seconds", 1, 900, 300)?);
    let mut live = state.turns.bus().subscribe(session);
    let input = CreateMessageInput {
        message: MessageInput { role: None, content: vec![ContentPart::text(text)] },
        controls: None,
        metadata: None,
    };
    let message = sessions::post_message(state, caller.org, &session.to_string(), input).await?.id;
    let progress = context.meta.get_progress_token();
    let mut follow = Follow::default();
    let mut step = 0u32;
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + SETTLE_EVERY, SETTLE_EVERY);
    loop {
        if let Some((status, error)) = follow.ended.clone() {
            return Ok(follow.result(session, status, error.as_deref()));
        }
        tokio::select! {
            event = live.next() => match event {
                Some(event) => {
                    if let (EventPayload::OutputMessageDelta(d), Some(token)) = (&event.payload, &progress)
                        && follow.turn.is_some_and(|t| t == d.turn_id)
                    {
                        step += 1;
                        let note = ProgressNotificationParam::new(token.clone(), f64::from(step)).with_message(d.delta.clone());
                        if context.peer.notify_progress(note).await.is_err() {
                            tracing::debug!("mcp: the client stopped listening to progress");
                        }
                    }
                    follow.observe(message, &event);
                }
                None => {
                    // The live path closed: wait on the stored state alone.
                    live = Box::pin(futures::stream::pending());
                }
            },
            _ = check.tick() => {
                let current = state.stores.sessions.get_session(caller.org, session).await?;
                if current.is_none_or(|s| !s.status.is_busy()) {
                    settle(state, session, message, &mut follow).await?;
                    if follow.ended.is_none() && follow.turn.is_some() {
                        // Idle with no stored ending seen: the turn ended without one (deleted session).
                        return Ok(follow.result(session, "ended", None));
                    }
                }
            }
            () = &mut deadline => return Ok(follow.result(session, "running", None)),
            () = context.ct.cancelled() => return Err(Refusal("the request was cancelled".to_owned())),
        }
    }
}
