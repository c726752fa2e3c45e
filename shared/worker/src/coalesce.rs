//! `Coalesced`: the request stream of an `EmitEventStream` call, which holds events for a moment
//! so that the ones an iteration emits close together travel together.
//!
//! The control plane stores whatever has arrived on the stream as one write (publishing a
//! live-only event of the burst in its place once the write is done). Without a hold, an
//! iteration that runs fast (a quick model, quick tools) still reaches it in two or three bursts —
//! the events before the model's answer, its deltas, the events after it, then the turn's end —
//! and each burst is a write. Held, they arrive as one, and a turn's last events are stored with
//! its end.
//!
//! An urgent message (the turn's end) goes at once and takes everything held before it along, in
//! order; the stream's end releases what is held too, so a flush never waits for the hold.
//! Otherwise a message waits at most [`HOLD`]: the model call that follows an iteration's first
//! events takes far longer, and the engine already paces output deltas at 100 ms.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::channel::mpsc::UnboundedReceiver;
use tokio::time::Sleep;

/// How long an event may wait for others to travel with it.
pub const HOLD: Duration = Duration::from_millis(2);

/// A message for the stream, and whether it (and what is held before it) must go at once.
#[derive(Debug)]
pub struct Outgoing<T> {
    pub message: T,
    pub urgent: bool,
}

/// The messages of `source`, in order, each non-urgent one held until something urgent follows
/// it, the source ends, or it has waited [`HOLD`].
pub struct Coalesced<T> {
    source: UnboundedReceiver<Outgoing<T>>,
    held: VecDeque<T>,
    /// Everything held goes out now (without returning `Pending` in between).
    releasing: bool,
    /// Started by the first message held since the last release.
    deadline: Option<Pin<Box<Sleep>>>,
    hold: Duration,
}

impl<T> Coalesced<T> {
    /// `source`'s messages with the default [`HOLD`].
    pub fn new(source: UnboundedReceiver<Outgoing<T>>) -> Self {
        Self::holding(source, HOLD)
    }

    /// `source`'s messages, each held at most `hold`.
    pub fn holding(source: UnboundedReceiver<Outgoing<T>>, hold: Duration) -> Self {
        Self { source, held: VecDeque::new(), releasing: false, deadline: None, hold }
    }

    /// The next held message while releasing; the release ends with the last one.
    fn release(&mut self) -> Poll<Option<T>> {
        match self.held.pop_front() {
            Some(message) => {
                self.releasing = !self.held.is_empty();
                Poll::Ready(Some(message))
            }
            None => {
                self.releasing = false;
                Poll::Pending
            }
        }
    }
}

impl<T: Unpin> Stream for Coalesced<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        loop {
            if this.releasing
                && let Poll::Ready(next) = this.release()
            {
                return Poll::Ready(next);
            }
            match Pin::new(&mut this.source).poll_next(cx) {
                Poll::Ready(Some(Outgoing { message, urgent })) => {
                    this.held.push_back(message);
                    if urgent {
                        this.deadline = None;
                        this.releasing = true;
                    } else if this.deadline.is_none() {
                        this.deadline = Some(Box::pin(tokio::time::sleep(this.hold)));
                    }
                }
                Poll::Ready(None) => {
                    this.deadline = None;
                    return match this.held.pop_front() {
                        Some(message) => Poll::Ready(Some(message)),
                        None => Poll::Ready(None),
                    };
                }
                Poll::Pending => {
                    let expired = this.deadline.as_mut().is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                    if !expired {
                        return Poll::Pending;
                    }
                    this.deadline = None;
                    this.releasing = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use futures::channel::mpsc;
    use futures::future::FutureExt;

    fn held(message: u32) -> Outgoing<u32> {
        Outgoing { message, urgent: false }
    }

    fn urgent(message: u32) -> Outgoing<u32> {
        Outgoing { message, urgent: true }
    }

    /// Everything the stream gives without waiting.
    fn ready(stream: &mut Coalesced<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(Some(message)) = stream.next().now_or_never() {
            out.push(message);
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn held_messages_go_with_the_urgent_one_after_them_in_order() {
        let (tx, rx) = mpsc::unbounded();
        let mut stream = Coalesced::new(rx);
        tx.unbounded_send(held(1)).unwrap();
        tx.unbounded_send(held(2)).unwrap();
        assert_eq!(ready(&mut stream), Vec::<u32>::new(), "persisted events wait");
        tx.unbounded_send(urgent(3)).unwrap();
        tx.unbounded_send(held(4)).unwrap();
        assert_eq!(ready(&mut stream), vec![1, 2, 3], "an urgent message takes the held ones along");
    }

    #[tokio::test(start_paused = true)]
    async fn a_held_message_goes_when_its_hold_is_over() {
        let (tx, rx) = mpsc::unbounded();
        let mut stream = Coalesced::holding(rx, Duration::from_millis(2));
        tx.unbounded_send(held(1)).unwrap();
        assert!(ready(&mut stream).is_empty());
        let started = tokio::time::Instant::now();
        tx.unbounded_send(held(2)).unwrap();
        assert_eq!(stream.next().await, Some(1));
        assert_eq!(ready(&mut stream), vec![2]);
        assert_eq!(started.elapsed(), Duration::from_millis(2), "released at the first message's deadline");
        tx.unbounded_send(held(3)).unwrap();
        assert!(ready(&mut stream).is_empty(), "a new hold starts with the next message");
        assert_eq!(stream.next().await, Some(3));
    }

    #[tokio::test(start_paused = true)]
    async fn the_sources_end_releases_everything_then_ends() {
        let (tx, rx) = mpsc::unbounded();
        let mut stream = Coalesced::new(rx);
        tx.unbounded_send(held(1)).unwrap();
        tx.unbounded_send(held(2)).unwrap();
        drop(tx);
        assert_eq!(stream.next().now_or_never(), Some(Some(1)));
        assert_eq!(stream.next().now_or_never(), Some(Some(2)));
        assert_eq!(stream.next().now_or_never(), Some(None));
    }

    #[tokio::test(start_paused = true)]
    async fn urgent_messages_alone_are_not_held() {
        let (tx, rx) = mpsc::unbounded();
        let mut stream = Coalesced::new(rx);
        tx.unbounded_send(urgent(1)).unwrap();
        assert_eq!(ready(&mut stream), vec![1]);
        tx.unbounded_send(urgent(2)).unwrap();
        assert_eq!(ready(&mut stream), vec![2]);
    }
}
