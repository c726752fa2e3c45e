//! `WatchTurn`: what a running turn must know at once, pushed to the worker that runs it. The
//! source is the event bus — which carries this instance's events, the API functions' events
//! relayed from PostgreSQL, and with NATS every instance's — so a cancel or a steering message
//! reaches the worker wherever it was posted, with no polling.

use std::time::Duration;

use everruns_core::events::{EventPayload, TurnStage};
use everruns_core::ids::TurnId;
use everruns_core::ports::EventSubscription;
use everruns_internal_protocol::v1::TurnSignal;
use everruns_internal_protocol::v1::turn_signal::Kind;
use futures::StreamExt;
use tonic::Status;

/// How often an idle watch says it is alive.
const HEARTBEAT: Duration = Duration::from_secs(15);

fn signal(kind: Kind) -> Result<TurnSignal, Status> {
    Ok(TurnSignal { kind: kind as i32 })
}

/// What an event means to a watch of `turn`, if anything.
fn meaning(turn: TurnId, event: &everruns_core::events::Event) -> Option<Kind> {
    if event.context.turn_id != Some(turn) {
        return None;
    }
    match &event.payload {
        EventPayload::TurnCancelled(_) => Some(Kind::Cancelled),
        EventPayload::TurnCompleted(_) | EventPayload::TurnFailed(_) | EventPayload::SessionIdled(_) => {
            Some(Kind::Ended)
        }
        EventPayload::InputMessage(_) if event.is_steering_message() => Some(Kind::Steered),
        _ => None,
    }
}

/// The signals of `turn`: first the stage it had when the watch began (unless open), then what
/// the subscription brings, with a heartbeat while nothing does. Ends after `Ended` or when the
/// subscription ends (the worker then falls back to its task heartbeat).
pub fn turn_signals(
    turn: TurnId,
    stage: TurnStage,
    events: EventSubscription,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = Result<TurnSignal, Status>> + Send>> {
    let first = match stage {
        TurnStage::Open => None,
        TurnStage::Cancelled => Some(Kind::Cancelled),
        TurnStage::Ended | TurnStage::Idled => Some(Kind::Ended),
    };
    let initial = futures::stream::iter(first.map(signal));
    let live = futures::stream::unfold(
        (events, tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT), false),
        move |(mut events, mut beat, done)| async move {
            if done {
                return None;
            }
            loop {
                tokio::select! {
                    event = events.next() => match event {
                        Some(event) => if let Some(kind) = meaning(turn, &event) {
                            return Some((signal(kind), (events, beat, kind == Kind::Ended)));
                        },
                        None => return None,
                    },
                    _ = beat.tick() => return Some((signal(Kind::Heartbeat), (events, beat, false))),
                }
            }
        },
    );
    Box::pin(initial.chain(live))
}
