//! The conversation rebuilt from a session's events, as a fold that can be extended.
//!
//! [`HistoryFold`] applies events one at a time in sequence order: user messages, agent messages
//! (failure notices left out) and tool results. A tool call left without a result (a cancelled
//! wait) gets a synthesized error result so providers always see a well-formed transcript. A
//! steering message (posted while its turn ran) takes its place where the model first saw it:
//! before the turn's next reason step, or at the end. Because the fold is sequential, applying
//! the events after its [`last_sequence`](HistoryFold::last_sequence) gives exactly what a fold
//! over the whole log gives — which is what lets a turn extend a cached fold instead of
//! re-reading the session (see [`crate::turns`]).
//!
//! The fold also keeps the events of the latest turn it saw, so an iteration of that turn needs no
//! second read for them.

use std::collections::HashSet;

use crate::domain::{ContentPart, Controls, Conversation, Message, MessageRole};
use crate::events::{Event, EventPayload};
use crate::ids::TurnId;
use crate::time::Timestamp;

/// The text of a synthesized result for a call that never got one.
const UNFINISHED_CALL: &str = "The tool call did not complete.";

/// A conversation under construction. Cheap to extend; [`messages`](Self::messages) gives the
/// transcript as of the last applied event.
#[derive(Debug, Clone, Default)]
pub struct HistoryFold {
    messages: Conversation,
    /// Tool calls of the latest agent message that have no result yet.
    pending: Vec<String>,
    /// Steering messages not yet placed, with the time of the first one's event.
    steering: Vec<Message>,
    steering_since: Option<Timestamp>,
    /// The controls of the latest input message.
    latest_controls: Option<Controls>,
    /// The latest turn seen and its events (`None` when an older turn's event came later).
    latest_turn: Option<(TurnId, Vec<Event>)>,
    /// Every turn seen, to tell a new turn from a late event of an old one.
    turns_seen: HashSet<TurnId>,
    last_sequence: i64,
}

impl HistoryFold {
    /// A fold over `events` (in sequence order).
    pub fn of(events: &[Event]) -> Self {
        let mut fold = Self::default();
        fold.extend(events);
        fold
    }

    /// The sequence of the last applied event (0 before any).
    pub fn last_sequence(&self) -> i64 {
        self.last_sequence
    }

    /// Applies events that follow the ones applied so far; an event at or below
    /// [`last_sequence`](Self::last_sequence) is skipped (a re-read overlap).
    pub fn extend(&mut self, events: &[Event]) {
        for event in events {
            if let Some(sequence) = event.sequence {
                if sequence <= self.last_sequence {
                    continue;
                }
                self.last_sequence = sequence;
            }
            self.apply(event);
        }
    }

    /// Records that every event through `sequence` has been seen: those not applied were of
    /// types a fold ignores (what a turn's load leaves out). Never goes back.
    pub fn passed(&mut self, sequence: i64) {
        self.last_sequence = self.last_sequence.max(sequence);
    }

    fn apply(&mut self, event: &Event) {
        self.track_turn(event);
        match &event.payload {
            EventPayload::InputMessage(data) => {
                self.latest_controls = data.message.controls.clone();
                if event.is_steering_message() {
                    self.steering_since.get_or_insert(event.ts);
                    self.steering.push(data.message.clone());
                } else {
                    self.deliver_steering();
                    self.close_pending(event.ts);
                    self.messages.push(data.message.clone());
                }
            }
            EventPayload::ReasonStarted(_) => self.deliver_steering(),
            EventPayload::OutputMessageCompleted(data) if data.error_code.is_none() => {
                self.close_pending(event.ts);
                self.pending.extend(data.message.tool_calls().map(|(id, _, _)| id.to_owned()));
                self.messages.push(data.message.clone());
            }
            EventPayload::ToolCompleted(data) => {
                self.pending.retain(|id| *id != data.tool_call_id);
                let part = ContentPart::ToolResult {
                    tool_call_id: data.tool_call_id.clone(),
                    result: data.result.as_ref().map(|parts| crate::context::result_value(parts)),
                    error: data.error.clone(),
                };
                push_tool_result(&mut self.messages, part, event.ts);
            }
            _ => {}
        }
    }

    fn track_turn(&mut self, event: &Event) {
        let Some(turn) = event.context.turn_id else { return };
        match &mut self.latest_turn {
            Some((latest, events)) if *latest == turn => events.push(event.clone()),
            // A new turn starts a new tail.
            _ if self.turns_seen.insert(turn) => self.latest_turn = Some((turn, vec![event.clone()])),
            // A late event of an earlier turn: the tail no longer holds one turn's events in full.
            _ => self.latest_turn = None,
        }
    }

    fn deliver_steering(&mut self) {
        if let Some(since) = self.steering_since.take() {
            self.close_pending(since);
            self.messages.append(&mut self.steering);
        }
    }

    fn close_pending(&mut self, ts: Timestamp) {
        for id in std::mem::take(&mut self.pending) {
            let part = ContentPart::ToolResult { tool_call_id: id, result: None, error: Some(UNFINISHED_CALL.into()) };
            push_tool_result(&mut self.messages, part, ts);
        }
    }

    /// The transcript so far (steering messages not yet placed go at the end).
    /// It is marked as the fold through [`last_sequence`](Self::last_sequence), and every message
    /// but the last placed one as stable: later events only append, or add a tool result to the
    /// last message (steering placed later goes after it).
    pub fn messages(&self) -> Conversation {
        let stable = self.messages.len().saturating_sub(1);
        if self.steering.is_empty() {
            return self.messages.clone().folded_through(self.last_sequence).with_stable(stable);
        }
        let mut rest = self.clone();
        rest.deliver_steering();
        rest.messages.folded_through(self.last_sequence).with_stable(stable)
    }

    /// The controls of the latest input message.
    pub fn latest_controls(&self) -> Option<&Controls> {
        self.latest_controls.as_ref()
    }

    /// The events of `turn` when it is the latest turn the fold saw (complete: the fold saw every
    /// event of the session up to [`last_sequence`](Self::last_sequence)).
    pub fn turn_events(&self, turn: TurnId) -> Option<&[Event]> {
        self.latest_turn.as_ref().filter(|(latest, _)| *latest == turn).map(|(_, events)| events.as_slice())
    }
}

fn push_tool_result(messages: &mut Conversation, part: ContentPart, ts: Timestamp) {
    match messages.last_mut() {
        Some(last) if last.role == MessageRole::ToolResult => last.content.push(part),
        _ => {
            let mut message = Message::new(MessageRole::ToolResult, vec![part]);
            message.created_at = ts;
            messages.push(message);
        }
    }
}

/// The conversation of a whole event log (see [`HistoryFold`]).
pub fn history_from_events(events: &[Event]) -> Vec<Message> {
    HistoryFold::of(events).messages().to_vec()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::events::{
        EventContext, InputMessageData, NewEvent, OutputMessageCompletedData, ReasonStartedData, ToolCompletedData,
    };
    use crate::ids::{HarnessId, MessageId, SessionId};

    /// A session's log: a plain turn; a turn whose client call was cancelled; a turn steered
    /// mid-way whose tool ran; a steering message at the very end.
    fn log() -> Vec<Event> {
        let session = SessionId::new();
        let mut events = Vec::new();
        let mut push = |turn: Option<(TurnId, MessageId)>, payload: EventPayload| {
            let context = turn.map_or_else(EventContext::default, |(t, m)| EventContext::for_turn(t, Some(m)));
            let mut event = NewEvent::new(session, context, payload).event;
            event.sequence = Some(events.len() as i64 + 1);
            events.push(event);
        };
        let user = |text: &str| Message::new(MessageRole::User, vec![ContentPart::text(text)]);
        let reason = || {
            EventPayload::ReasonStarted(ReasonStartedData {
                harness_id: HarnessId::new(),
                agent_id: None,
                metadata: None,
            })
        };
        let agent = |parts: Vec<ContentPart>| {
            EventPayload::OutputMessageCompleted(OutputMessageCompletedData {
                message: Message::new(MessageRole::Agent, parts),
                metadata: None,
                usage: None,
                error_code: None,
                error_fields: None,
                error_disclosure: None,
            })
        };
        let call = |id: &str| ContentPart::ToolCall { id: id.into(), name: "lookup".into(), arguments: json!({}) };
        for (n, steer_mid, tool) in [(1, false, None), (2, false, Some("c2")), (3, true, Some("c3"))] {
            let input = user(&format!("turn {n}"));
            let turn = (TurnId::new(), input.id);
            push(Some(turn), EventPayload::InputMessage(InputMessageData { message: input }));
            push(Some(turn), reason());
            let mut parts = vec![ContentPart::text(format!("answer {n}"))];
            parts.extend(tool.map(call));
            push(Some(turn), agent(parts));
            if steer_mid {
                push(Some(turn), EventPayload::InputMessage(InputMessageData { message: user("also this") }));
            }
            if let Some(id) = tool.filter(|_| n == 3) {
                let mut done = ToolCompletedData::cancelled(id.into(), "lookup".into());
                done.status = "success".into();
                push(Some(turn), EventPayload::ToolCompleted(done));
                push(Some(turn), reason());
                push(Some(turn), agent(vec![ContentPart::text("done")]));
                push(Some(turn), EventPayload::InputMessage(InputMessageData { message: user("late steer") }));
            }
        }
        events
    }

    /// Messages without their ids (a synthesized tool-result message gets a fresh one each time).
    fn transcript(messages: Vec<Message>) -> Vec<(MessageRole, Vec<ContentPart>, Timestamp)> {
        messages.into_iter().map(|m| (m.role, m.content, m.created_at)).collect()
    }

    #[test]
    fn extending_a_fold_equals_folding_the_whole_log_at_every_split() {
        let events = log();
        let whole = history_from_events(&events);
        assert!(whole.iter().any(|m| m.text() == "also this"), "the steering message is placed");
        assert!(
            whole.iter().any(|m| m
                .content
                .iter()
                .any(|p| matches!(p, ContentPart::ToolResult { error: Some(e), .. } if e == UNFINISHED_CALL))),
            "the unanswered call got a synthesized result"
        );
        assert_eq!(whole.last().map(Message::text).as_deref(), Some("late steer"));
        for split in 0..=events.len() {
            let mut fold = HistoryFold::of(&events[..split]);
            // A re-read that overlaps what the fold has seen changes nothing.
            fold.extend(&events[split.saturating_sub(2)..]);
            assert_eq!(transcript(fold.messages().to_vec()), transcript(whole.clone()), "split at {split}");
            assert_eq!(fold.last_sequence(), events.len() as i64);
            // What a fold calls stable begins every later fold, whatever followed.
            let early = HistoryFold::of(&events[..split]).messages();
            let stable = early.stable();
            assert_eq!(
                transcript(early.take(stable).to_vec()),
                transcript(whole[..stable].to_vec()),
                "split at {split}"
            );
            assert!(stable < early.len() || early.is_empty(), "the last placed message may still change");
        }
        assert!(HistoryFold::of(&events).messages().stable() > 0);
    }

    #[test]
    fn the_latest_turns_events_come_from_the_fold() {
        let events = log();
        let fold = HistoryFold::of(&events);
        let last = events.last().unwrap().context.turn_id.unwrap();
        let expected: Vec<_> = events.iter().filter(|e| e.context.turn_id == Some(last)).cloned().collect();
        assert_eq!(fold.turn_events(last), Some(expected.as_slice()));
        let first = events[0].context.turn_id.unwrap();
        assert_eq!(fold.turn_events(first), None, "only the latest turn is kept");
        // A late event of an earlier turn: the fold no longer claims to hold a turn in full.
        let mut late = events[0].clone();
        late.sequence = Some(events.len() as i64 + 1);
        let mut fold = fold;
        fold.extend(&[late]);
        assert_eq!(fold.turn_events(last), None);
        assert_eq!(fold.latest_controls(), None);
    }
}
