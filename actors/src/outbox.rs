//! A socket's outbound queue, bounded in bytes (not frames): the conversation's log
//! puts frames in, the socket's writer takes them out. A socket whose reader stops
//! reading fills its queue; past the limit the log drops that socket (and only that
//! socket: the conversation and its other sockets go on, and the shopper can resume
//! later) and the socket sees `overflowed` and closes with a clear code.
//!
//! The conversation actor keeps a [`SocketProbe`] per attached socket, not a sender,
//! so the queue ends when the log lets go of it, and the actor can tell when the
//! socket's writer is gone (it was dropped, closed, or never took the attach it asked
//! for) and forget it: a conversation's sockets are a set of live ids, not a count.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::event_log::Frame;

/// Bytes of frames one socket may have waiting to be written.
pub const OUTBOX_BYTES: usize = 1 << 20;

struct Shared {
    queued: AtomicUsize,
    limit: usize,
    overflowed: AtomicBool,
    receiver_alive: AtomicBool,
}

/// The log's end of a socket's queue.
#[derive(Clone)]
pub struct OutboxSender {
    tx: mpsc::UnboundedSender<Frame>,
    shared: Arc<Shared>,
}

/// The socket writer's end.
pub struct OutboxReceiver {
    rx: mpsc::UnboundedReceiver<Frame>,
    shared: Arc<Shared>,
}

/// What the conversation actor keeps of a socket: whether its writer still lives.
#[derive(Clone)]
pub struct SocketProbe {
    shared: Arc<Shared>,
}

/// A queue that holds at most `limit` bytes (a single frame larger than that still
/// goes when the queue is empty).
pub fn outbox(limit: usize) -> (OutboxSender, OutboxReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        queued: AtomicUsize::new(0),
        limit,
        overflowed: AtomicBool::new(false),
        receiver_alive: AtomicBool::new(true),
    });
    (OutboxSender { tx, shared: shared.clone() }, OutboxReceiver { rx, shared })
}

impl OutboxSender {
    /// Queues a frame. `false` when the socket is gone or too far behind (then it is
    /// marked `overflowed`): the caller drops this sender.
    pub fn try_send(&self, frame: Frame) -> bool {
        let n = frame.len();
        let before = self.shared.queued.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > self.shared.limit {
            self.shared.queued.fetch_sub(n, Ordering::AcqRel);
            self.shared.overflowed.store(true, Ordering::Release);
            return false;
        }
        if self.tx.send(frame).is_err() {
            self.shared.queued.fetch_sub(n, Ordering::AcqRel);
            return false;
        }
        true
    }

    pub fn probe(&self) -> SocketProbe {
        SocketProbe { shared: self.shared.clone() }
    }
}

impl OutboxReceiver {
    pub async fn recv(&mut self) -> Option<Frame> {
        let frame = self.rx.recv().await?;
        self.shared.queued.fetch_sub(frame.len(), Ordering::AcqRel);
        Some(frame)
    }

    /// Whether the log dropped this socket for falling behind.
    pub fn overflowed(&self) -> bool {
        self.shared.overflowed.load(Ordering::Acquire)
    }

    /// Bytes waiting.
    pub fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }
}

impl Drop for OutboxReceiver {
    fn drop(&mut self) {
        self.shared.receiver_alive.store(false, Ordering::Release);
    }
}

impl SocketProbe {
    /// The socket's writer still reads and has not been dropped for falling behind.
    pub fn is_live(&self) -> bool {
        self.shared.receiver_alive.load(Ordering::Acquire) && !self.shared.overflowed.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Frame {
        Arc::from("x".repeat(n).as_str())
    }

    #[tokio::test]
    async fn bounded_in_bytes_not_frames() {
        let (tx, mut rx) = outbox(1000);
        for _ in 0..10 {
            assert!(tx.try_send(frame(100)));
        }
        assert_eq!(rx.queued_bytes(), 1000);
        assert!(!tx.try_send(frame(1)), "the 1,001st byte is refused");
        assert!(rx.overflowed());
        assert!(!tx.probe().is_live(), "an overflowed socket no longer counts as attached");
        assert_eq!(rx.queued_bytes(), 1000);
        assert_eq!(rx.recv().await.unwrap().len(), 100);
        assert_eq!(rx.queued_bytes(), 900);
    }

    #[tokio::test]
    async fn one_large_frame_goes_alone() {
        let (tx, mut rx) = outbox(10);
        assert!(tx.try_send(frame(50)));
        assert!(!tx.try_send(frame(1)));
        assert_eq!(rx.recv().await.unwrap().len(), 50);
    }

    #[tokio::test]
    async fn dropped_receiver_is_not_live() {
        let (tx, rx) = outbox(10);
        let probe = tx.probe();
        assert!(probe.is_live());
        drop(rx);
        assert!(!probe.is_live());
        assert!(!tx.try_send(frame(1)));
    }

    #[tokio::test]
    async fn receiver_ends_when_the_log_lets_go() {
        let (tx, mut rx) = outbox(10);
        let probe = tx.probe();
        drop(tx);
        assert!(rx.recv().await.is_none(), "a probe does not keep the queue open");
        assert!(!rx.overflowed());
        drop(probe);
    }
}
