//! Group commit: many callers' writes, made while the writer is busy, go to the store
//! together as one. One task takes whatever is queued the moment it is free (up to a
//! weight), writes it with one call (`GroupWrite::write_group`) and answers every
//! caller; a write alone goes at once, never waiting for company. When a group is
//! refused, each write is retried on its own (`write_one`), so only the culprit's
//! caller sees the error. A caller waits for its answer before its next write, so
//! its own writes keep their order.
//!
//! Used for conversation events (`actors::event_log`) and cart saves
//! (`crate::carts`): on SQLite every write is a trip to its one writer connection, and
//! under load those trips, not the work, were the cart command's latency.

use async_trait::async_trait;
use tokio::sync::{mpsc, oneshot};

use crate::ports::store::{StoreError, StoreResult};

/// How one kind of write is done alone and in a group.
#[async_trait]
pub trait GroupWrite: Send + Sync + 'static {
    /// One caller's write; given back with its outcome.
    type Item: Send + 'static;
    /// What an item counts against the group's limit (rows, say).
    fn weight(item: &Self::Item) -> usize;
    /// Writes every item, all or (on an error) possibly not all; the items are then
    /// written again one by one, so writing an item twice must be harmless or refused.
    async fn write_group(&self, items: &[Self::Item]) -> StoreResult<()>;
    async fn write_one(&self, item: &Self::Item) -> StoreResult<()>;
}

type Reply<I> = oneshot::Sender<(I, StoreResult<()>)>;

/// Writes that may wait for the writer at most; a caller past it waits for room
/// (backpressure to the conversation logs and cart actors, which refuse new commands
/// rather than queue them without bound).
pub const QUEUE_CAPACITY: usize = 8192;

/// The handle callers submit through; cheap to clone.
pub struct GroupCommit<W: GroupWrite> {
    tx: mpsc::Sender<(W::Item, Reply<W::Item>)>,
}

impl<W: GroupWrite> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<W: GroupWrite> GroupCommit<W> {
    /// Starts the writer task on the current runtime; a group weighs at most
    /// `max_weight` (a single heavier item still goes, alone).
    pub fn start(writer: W, max_weight: usize) -> Self {
        Self::start_with_capacity(writer, max_weight, QUEUE_CAPACITY)
    }

    /// As `start`, with at most `capacity` writes waiting.
    pub fn start_with_capacity(writer: W, max_weight: usize, capacity: usize) -> Self {
        let (tx, mut rx) = mpsc::channel::<(W::Item, Reply<W::Item>)>(capacity);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut weight = W::weight(&first.0);
                let mut group = vec![first];
                while weight < max_weight {
                    match rx.try_recv() {
                        Ok(next) => {
                            weight += W::weight(&next.0);
                            group.push(next);
                        }
                        Err(_) => break,
                    }
                }
                let (items, replies): (Vec<W::Item>, Vec<Reply<W::Item>>) = group.into_iter().unzip();
                if items.len() > 1 && writer.write_group(&items).await.is_ok() {
                    for (item, reply) in items.into_iter().zip(replies) {
                        let _ = reply.send((item, Ok(())));
                    }
                    continue;
                }
                for (item, reply) in items.into_iter().zip(replies) {
                    let result = writer.write_one(&item).await;
                    let _ = reply.send((item, result));
                }
            }
        });
        Self { tx }
    }

    /// Writes `item` (with whatever else is queued now); gives it back with the outcome.
    pub async fn submit(&self, item: W::Item) -> (Option<W::Item>, StoreResult<()>) {
        let stopped = || StoreError::Database("the group-commit writer has stopped".into());
        let (reply, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError((item, _))) = self.tx.send((item, reply)).await {
            return (Some(item), Err(stopped()));
        }
        match rx.await {
            Ok((item, result)) => (Some(item), result),
            Err(_) => (None, Err(stopped())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Records the groups it was given; refuses any group holding 13, and 13 alone.
    struct Recorder(Arc<Mutex<Vec<Vec<u32>>>>);

    #[async_trait]
    impl GroupWrite for Recorder {
        type Item = u32;
        fn weight(_: &u32) -> usize {
            1
        }
        async fn write_group(&self, items: &[u32]) -> StoreResult<()> {
            if items.contains(&13) {
                return Err(StoreError::NotFound);
            }
            self.0.lock().unwrap().push(items.to_vec());
            Ok(())
        }
        async fn write_one(&self, item: &u32) -> StoreResult<()> {
            if *item == 13 {
                return Err(StoreError::NotFound);
            }
            self.0.lock().unwrap().push(vec![*item]);
            Ok(())
        }
    }

    /// Holds every write until released.
    struct Gate(Arc<tokio::sync::Semaphore>);

    #[async_trait]
    impl GroupWrite for Gate {
        type Item = u32;
        fn weight(_: &u32) -> usize {
            1
        }
        async fn write_group(&self, _: &[u32]) -> StoreResult<()> {
            let _ = self.0.acquire().await;
            Ok(())
        }
        async fn write_one(&self, _: &u32) -> StoreResult<()> {
            let _ = self.0.acquire().await;
            Ok(())
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queue_is_bounded_and_callers_wait_for_room() {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let writer = GroupCommit::start_with_capacity(Gate(gate.clone()), 1, 4);
        // One write is held by the writer, four wait in the queue; the sixth caller
        // cannot even queue.
        let mut held = Vec::new();
        for i in 0..5u32 {
            let w = writer.clone();
            held.push(tokio::spawn(async move { w.submit(i).await }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let w = writer.clone();
        let sixth = tokio::spawn(async move { w.submit(5).await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(writer.tx.capacity(), 0, "the queue is full");
        assert!(!sixth.is_finished());
        gate.add_permits(100);
        assert!(sixth.await.unwrap().1.is_ok());
        for h in held {
            assert!(h.await.unwrap().1.is_ok());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_made_together_share_a_group_and_only_the_culprit_fails() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let writer = GroupCommit::start(Recorder(seen.clone()), 4);
        let results = futures_util::future::join_all((0..20u32).map(|i| {
            let w = writer.clone();
            async move { w.submit(i).await }
        }))
        .await;
        for (i, (item, result)) in results.into_iter().enumerate() {
            assert_eq!(item, Some(i as u32), "each caller gets its own item back");
            assert_eq!(result.is_ok(), i != 13, "item {i}");
        }
        let groups = seen.lock().unwrap().clone();
        let mut written: Vec<u32> = groups.iter().flatten().copied().collect();
        written.sort();
        assert_eq!(written, (0..20).filter(|&i| i != 13).collect::<Vec<_>>(), "everything but 13, once");
        assert!(groups.iter().all(|g| g.len() <= 4), "{groups:?}");
    }
}
