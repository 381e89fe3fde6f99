//! A conversation's event log and fan-out, run as one task per live conversation.
//!
//! The conversation actor decides what happens and numbers it (`seq`); this task
//! persists each event and only then sends it to every subscribed socket, so no
//! socket ever sees an event the store could lose. Because it is the single sequencer
//! of both persistence and fan-out, a socket that subscribes here gets its replay and
//! then the live events with no gap and no duplicate. Running it outside the actor
//! keeps store latency out of the actor's mailbox.
//!
//! Nothing here waits on a socket: frames go into each socket's byte-bounded outbox
//! (`crate::outbox`), and a resume that reaches further back than the memory window
//! is read from the store by the socket itself (`Replay::Store`), so one shopper's
//! deep resume never holds up the conversation. The log's own channel is bounded
//! (`LOG_CAPACITY`); the actor refuses new commands before it fills.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use engine::domain::{Cart, ConversationId, TenantId};
use engine::events::{Event, SeqEvent};
use engine::group_commit::{GroupCommit, GroupWrite};
use engine::ports::store::{EventGroup, Store, StoreResult, StoredEvent, TranscriptMessage};
use engine::views::CartView;
use tokio::sync::{mpsc, oneshot};

use crate::outbox::OutboxSender;

/// Events kept in memory for fast replay; older ones are read from the store.
pub const REPLAY_WINDOW: usize = 1024;
/// Commands the log's channel holds at most.
pub const LOG_CAPACITY: usize = 4096;

pub type SocketId = u64;
/// A serialised frame for one socket.
pub type Frame = Arc<str>;

/// What a socket gets when it attaches.
#[derive(Debug, Clone)]
pub struct Attached {
    /// The last event's `seq` at the moment of attaching (the `welcome`'s `seq`).
    pub seq: i64,
    pub cart: CartView,
    /// The events a resuming socket missed, up to `seq`; live events after `seq` are
    /// already queued in its outbox behind them.
    pub replay: Replay,
}

/// How a resuming socket gets the events it missed (`seq > k`, up to `Attached::seq`).
#[derive(Debug, Clone)]
pub enum Replay {
    Nothing,
    /// From the log's memory window.
    Frames(Vec<Frame>),
    /// Older than the window: the socket reads `(after, upto]` from the store itself,
    /// so the conversation never waits for it.
    Store { after: i64, upto: i64 },
}

/// Runs once the events queued before it are durable.
pub(crate) type AfterPersist = Box<dyn FnOnce() + Send>;

/// An event to persist: the event, the command id its `ack` answers, and (for a cart
/// command) the command itself as JSON.
pub(crate) type Pending = (SeqEvent, Option<String>, Option<String>);

pub(crate) enum LogCmd {
    /// Events to persist then send, with the cart they leave the conversation with
    /// (written in the same transaction); `then` runs after they are persisted (a
    /// checkout is only applied once its `ack` is durable, see `ConversationActor`).
    /// No events and no cart: `then` runs once what came before is durable.
    Append(Vec<Pending>, Option<Cart>, Option<AfterPersist>),
    Subscribe { socket: SocketId, tx: OutboxSender, resume_from: Option<i64>, reply: oneshot::Sender<Attached> },
    Unsubscribe { socket: SocketId },
    /// A frame for one socket only (a repeated command's original `ack`).
    Direct { socket: SocketId, frame: Frame },
    /// A transcript line (admin view, model context); written in conversation order.
    Transcript(TranscriptMessage),
    /// The dialogue state after a turn.
    Dialogue(String),
}

/// Rows one group commit writes at most.
const GROUP_COMMIT_ROWS: usize = 512;

/// Group commit of every live conversation's events (`engine::group_commit`): the
/// appends queued at one moment go in one statement (`Store::append_event_groups`), so
/// under load many conversations share one write on the single SQLite writer. Each
/// log waits for its own write before the next, so its order is kept.
pub type EventWriter = GroupCommit<EventAppends>;

pub struct EventAppends(pub Arc<dyn Store>);

#[async_trait::async_trait]
impl GroupWrite for EventAppends {
    type Item = (TenantId, ConversationId, Vec<StoredEvent>, Option<Cart>);

    fn weight(item: &Self::Item) -> usize {
        item.2.len() + usize::from(item.3.is_some())
    }

    async fn write_group(&self, items: &[Self::Item]) -> StoreResult<()> {
        let groups: Vec<EventGroup<'_>> = items
            .iter()
            .map(|(tenant, conversation, events, cart)| EventGroup { tenant, conversation, events, cart: cart.as_ref() })
            .collect();
        self.0.append_event_groups(&groups).await
    }

    async fn write_one(&self, (tenant, conversation, events, cart): &Self::Item) -> StoreResult<()> {
        self.0.append_event_groups(&[EventGroup { tenant, conversation, events, cart: cart.as_ref() }]).await
    }
}

/// Starts the event writer on the current runtime.
pub fn start_event_writer(store: Arc<dyn Store>) -> EventWriter {
    GroupCommit::start(EventAppends(store), GROUP_COMMIT_ROWS)
}

pub(crate) struct EventLog {
    tenant: TenantId,
    conversation: ConversationId,
    store: Arc<dyn Store>,
    writer: EventWriter,
    last_seq: i64,
    cart: CartView,
    recent: VecDeque<(i64, Frame)>,
    subscribers: HashMap<SocketId, OutboxSender>,
    /// Tells the conversation that the store refused a write and this log has ended.
    on_failure: Option<Box<dyn FnOnce() + Send>>,
}

impl EventLog {
    pub(crate) fn new(
        tenant: TenantId,
        conversation: ConversationId,
        store: Arc<dyn Store>,
        writer: EventWriter,
        last_seq: i64,
        cart: &Cart,
        on_failure: Box<dyn FnOnce() + Send>,
    ) -> Self {
        Self {
            tenant,
            conversation,
            store,
            writer,
            last_seq,
            cart: CartView::from(cart),
            recent: VecDeque::new(),
            subscribers: HashMap::new(),
            on_failure: Some(on_failure),
        }
    }

    /// The store refused a write: close every socket (they resume from the store
    /// through the conversation's next incarnation) and tell the conversation, which
    /// stops, so nothing it numbered after the refused events is ever used.
    fn fail(&mut self) {
        self.subscribers.clear();
        if let Some(f) = self.on_failure.take() {
            f();
        }
    }

    /// Runs until every sender is gone, persisting what was queued before that.
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<LogCmd>) {
        while let Some(cmd) = rx.recv().await {
            match cmd {
                LogCmd::Append(mut batch, mut cart, then) => {
                    // Coalesce what is already queued into one write: deltas of a
                    // streamed reply arrive in bursts.
                    let mut thens: Vec<AfterPersist> = then.into_iter().collect();
                    let mut pending = Vec::new();
                    while batch.len() < 256 {
                        match rx.try_recv() {
                            Ok(LogCmd::Append(more, newer, then)) => {
                                batch.extend(more);
                                // The later cart is the newer one.
                                cart = newer.or(cart);
                                thens.extend(then);
                            }
                            Ok(other) => {
                                pending.push(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if !self.persist_and_send(batch, cart).await {
                        // What waited for these events is dropped: their acks were
                        // never sent, so those commands were never accepted.
                        self.fail();
                        return;
                    }
                    for then in thens {
                        then();
                    }
                    for cmd in pending {
                        self.control(cmd).await;
                    }
                }
                other => self.control(other).await,
            }
        }
    }

    async fn control(&mut self, cmd: LogCmd) {
        match cmd {
            LogCmd::Append(batch, cart, then) => {
                if !self.persist_and_send(batch, cart).await {
                    self.fail();
                } else if let Some(then) = then {
                    then();
                }
            }
            LogCmd::Subscribe { socket, tx, resume_from, reply } => {
                if self.on_failure.is_none() {
                    return; // failed: the socket sees its reply dropped and attaches again
                }
                let replay = resume_from.map_or(Replay::Nothing, |k| self.replay(k));
                self.subscribers.insert(socket, tx);
                let _ = reply.send(Attached { seq: self.last_seq, cart: self.cart.clone(), replay });
            }
            LogCmd::Unsubscribe { socket } => {
                self.subscribers.remove(&socket);
            }
            LogCmd::Transcript(m) => {
                if let Err(e) = self.store.append_message(&self.tenant, &self.conversation, &m).await {
                    tracing::error!(conversation = %self.conversation, error = %e, "transcript write failed");
                }
            }
            LogCmd::Dialogue(state) => {
                if let Err(e) = self.store.save_dialogue_state(&self.tenant, &self.conversation, &state).await {
                    tracing::error!(conversation = %self.conversation, error = %e, "dialogue state write failed");
                }
            }
            LogCmd::Direct { socket, frame } => {
                if let Some(tx) = self.subscribers.get(&socket)
                    && !tx.try_send(frame)
                {
                    tracing::info!(socket, "socket too slow or gone; dropping it");
                    self.subscribers.remove(&socket);
                }
            }
        }
    }

    async fn persist_and_send(&mut self, batch: Vec<Pending>, cart: Option<Cart>) -> bool {
        if self.on_failure.is_none() {
            return false;
        }
        if batch.is_empty() && cart.is_none() {
            return true;
        }
        let mut stored: Vec<StoredEvent> = batch
            .iter()
            .map(|(e, id, command)| StoredEvent {
                seq: e.seq,
                kind: e.event.kind().to_string(),
                json: e.to_json(),
                command_id: id.clone(),
                command: command.clone(),
            })
            .collect();
        let mut delay = Duration::from_millis(20);
        let mut attempt = 0;
        let mut cart = cart;
        loop {
            let (back, result) = self.writer.submit((self.tenant.clone(), self.conversation.clone(), stored, cart)).await;
            let Some((_, _, back, back_cart)) = back else {
                tracing::error!(conversation = %self.conversation, "the event writer has stopped; closing the conversation's sockets");
                return false;
            };
            stored = back;
            cart = back_cart;
            match result {
                Ok(()) => break,
                Err(e) if attempt < 3 && (!stored.is_empty() || cart.is_some()) => {
                    tracing::warn!(conversation = %self.conversation, error = %e, "event append failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(conversation = %self.conversation, error = %e, "event append failed; closing the conversation's sockets");
                    return false;
                }
            }
        }
        for ((event, _, _), stored) in batch.into_iter().zip(stored) {
            if let Event::Cart { cart, .. } = &event.event {
                self.cart = cart.clone();
            }
            self.last_seq = event.seq;
            let frame: Frame = Arc::from(stored.json);
            self.recent.push_back((event.seq, frame.clone()));
            if self.recent.len() > REPLAY_WINDOW {
                self.recent.pop_front();
            }
            self.subscribers.retain(|socket, tx| {
                let kept = tx.try_send(frame.clone());
                if !kept {
                    tracing::info!(socket, "socket too slow or gone; dropping it");
                }
                kept
            });
        }
        true
    }

    /// What a socket resuming after `k` missed: from memory when the window reaches
    /// back far enough, else a range the socket reads from the store itself.
    fn replay(&self, k: i64) -> Replay {
        let k = k.max(0);
        if k >= self.last_seq {
            return Replay::Nothing;
        }
        if self.recent.front().is_some_and(|(first, _)| *first <= k + 1) {
            return Replay::Frames(self.recent.iter().filter(|(seq, _)| *seq > k).map(|(_, f)| f.clone()).collect());
        }
        Replay::Store { after: k, upto: self.last_seq }
    }
}
