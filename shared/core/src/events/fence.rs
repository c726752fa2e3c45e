//! The turn fence: one terminal outcome per turn, enforced where events are stored.
//!
//! Every persisted event of a turn moves the turn through four stages, and the event store refuses
//! an event its turn's stage does not admit ([`crate::ports::PortError::TurnEnded`]):
//!
//! | class | admitted at | moves to |
//! |---|---|---|
//! | `Open` (any other event of the turn, a steering message) | `Open` | `Open` |
//! | `Ended` (`turn.completed`, `turn.failed`) | `Open` | `Ended` |
//! | `Cancelled` (`turn.cancelled`) | `Open` | `Cancelled` |
//! | `CancelTail` (the cancellation's own events) | `Cancelled` | `Cancelled` |
//! | `Idled` (`session.idled`) | `Open`, `Ended`, `Cancelled` | `Idled` |
//!
//! So the first terminal event wins, nothing of the turn's work lands after it, and
//! `session.idled` is the turn's last event. A replayed idempotency key is still answered with the
//! event stored under it.

use super::{Event, EventPayload};

/// Where a turn is, as its stored events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TurnStage {
    /// Running (or not started).
    Open,
    /// `turn.completed` or `turn.failed` is stored.
    Ended,
    /// `turn.cancelled` is stored.
    Cancelled,
    /// `session.idled` is stored: the turn is over.
    Idled,
}

impl TurnStage {
    /// The stage as stored (`0..=3`).
    pub fn code(self) -> i16 {
        match self {
            Self::Open => 0,
            Self::Ended => 1,
            Self::Cancelled => 2,
            Self::Idled => 3,
        }
    }

    /// The stage of a stored code (unknown codes read as over).
    pub fn from_code(code: i16) -> Self {
        match code {
            0 => Self::Open,
            1 => Self::Ended,
            2 => Self::Cancelled,
            _ => Self::Idled,
        }
    }

    /// Whether a terminal outcome is stored.
    pub fn is_terminal(self) -> bool {
        self != Self::Open
    }
}

/// What an event does to its turn's stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceClass {
    /// Work of a running turn.
    Open,
    /// `turn.completed` / `turn.failed`.
    Ended,
    /// `turn.cancelled`.
    Cancelled,
    /// The cancellation message (key `{turn}/output.message.cancelled`) and cancelled tool results.
    CancelTail,
    /// `session.idled`.
    Idled,
}

/// The idempotency-key step of the cancellation message.
pub const CANCELLATION_MESSAGE_STEP: &str = "output.message.cancelled";

impl FenceClass {
    /// The class of an event, `None` when it belongs to no turn (not fenced).
    pub fn of(event: &Event) -> Option<Self> {
        event.context.turn_id?;
        Some(match &event.payload {
            EventPayload::TurnCompleted(_) | EventPayload::TurnFailed(_) => Self::Ended,
            EventPayload::TurnCancelled(_) => Self::Cancelled,
            EventPayload::SessionIdled(_) => Self::Idled,
            EventPayload::OutputMessageCompleted(_)
                if event.idempotency_key.as_deref().is_some_and(|k| k.ends_with(CANCELLATION_MESSAGE_STEP)) =>
            {
                Self::CancelTail
            }
            EventPayload::ToolCompleted(data) if data.status == "cancelled" => Self::CancelTail,
            _ => Self::Open,
        })
    }

    /// The stages at which the class is admitted.
    pub fn admitted_at(self) -> &'static [TurnStage] {
        use TurnStage::*;
        match self {
            Self::Open | Self::Ended | Self::Cancelled => &[Open],
            Self::CancelTail => &[Cancelled],
            Self::Idled => &[Open, Ended, Cancelled],
        }
    }

    /// Whether the class is admitted at `stage`.
    pub fn admits(self, stage: TurnStage) -> bool {
        self.admitted_at().contains(&stage)
    }

    /// The stage after an admitted event of this class (the greater of the two, as stored).
    pub fn target(self) -> TurnStage {
        match self {
            Self::Open => TurnStage::Open,
            Self::Ended => TurnStage::Ended,
            Self::Cancelled | Self::CancelTail => TurnStage::Cancelled,
            Self::Idled => TurnStage::Idled,
        }
    }

    /// The stage after admitting this class at `stage`.
    pub fn advance(self, stage: TurnStage) -> TurnStage {
        stage.max(self.target())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventContext, NewEvent, SessionIdledData, TurnCancelledData, TurnCompletedData};
    use crate::ids::{SessionId, TurnId};

    fn event(turn: Option<TurnId>, payload: EventPayload, key: &str) -> Event {
        let context = turn.map(|t| EventContext::for_turn(t, None)).unwrap_or_default();
        let mut event = NewEvent::new(SessionId::new(), context, payload).event;
        event.idempotency_key = Some(key.into());
        event
    }

    #[test]
    fn classes_follow_the_table() {
        let turn = Some(TurnId::new());
        let completed = event(turn, EventPayload::TurnCompleted(TurnCompletedData::default()), "t/turn.completed");
        assert_eq!(FenceClass::of(&completed), Some(FenceClass::Ended));
        let cancelled = TurnCancelledData { turn_id: TurnId::new(), reason: None, usage: None };
        assert_eq!(
            FenceClass::of(&event(turn, EventPayload::TurnCancelled(cancelled), "t/turn.cancelled")),
            Some(FenceClass::Cancelled)
        );
        let idled = SessionIdledData { turn_id: TurnId::new(), iterations: None, usage: None };
        let idled = event(turn, EventPayload::SessionIdled(idled), "t/session.idled");
        assert_eq!(FenceClass::of(&idled), Some(FenceClass::Idled));
        let mut untouched = idled.clone();
        untouched.context = EventContext::default();
        assert_eq!(FenceClass::of(&untouched), None, "events outside a turn are not fenced");
    }

    #[test]
    fn the_first_terminal_outcome_wins_and_idled_is_last() {
        use FenceClass as C;
        use TurnStage as S;
        assert!(C::Ended.admits(S::Open) && !C::Ended.admits(S::Cancelled) && !C::Cancelled.admits(S::Ended));
        assert!(!C::Open.admits(S::Ended) && !C::Open.admits(S::Cancelled));
        assert!(C::CancelTail.admits(S::Cancelled) && !C::CancelTail.admits(S::Ended));
        assert!([S::Open, S::Ended, S::Cancelled].into_iter().all(|s| C::Idled.admits(s)));
        assert!([C::Open, C::Ended, C::Cancelled, C::CancelTail, C::Idled].iter().all(|c| !c.admits(S::Idled)));
        assert_eq!(C::Ended.advance(S::Open), S::Ended);
        assert_eq!(C::CancelTail.advance(S::Cancelled), S::Cancelled);
        assert_eq!(C::Idled.advance(S::Cancelled), S::Idled);
        for stage in [S::Open, S::Ended, S::Cancelled, S::Idled] {
            assert_eq!(S::from_code(stage.code()), stage);
        }
    }
}
