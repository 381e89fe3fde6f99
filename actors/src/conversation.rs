//! `ConversationActor`: one per live conversation. It numbers events (`seq`), applies
//! each command id once, routes cart commands to its `CartActor`, and runs assistant
//! turns as tasks that post their events back, so no model call or store write ever
//! waits inside its handler. Its event log task persists and fans out (see
//! `event_log`). It stops after an idle timeout with no sockets attached and is
//! rebuilt from the store on the next message (virtual-actor style).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::carts::{CartFailure, CartOp, CartOutcome};
use engine::domain::{Cart, CommandId, ConversationId, TenantId};
use engine::events::{ErrorCode, Event, SeqEvent};
use engine::ports::llm::ChatMessage;
use engine::ports::store::{Role, TenantSettings, TranscriptMessage};
use engine::plans::month_start;
use engine::ports::llm::TokenUsage;
use engine::ports::store::LlmUsage;
use engine::turn::summary::SUMMARY_EVERY;
use engine::turn::HISTORY_TOKEN_BUDGET;
use engine::turn::{DialogueState, TurnEffects, TurnInput, TurnOutcome, run_turn, run_turn_with_fallback};
use engine::views::CartView;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::Services;
use crate::cart::{CartActor, CartArgs, CartMsg, Mode};
use crate::event_log::{Attached, EventLog, LOG_CAPACITY, LogCmd, Pending, SocketId};
use crate::outbox::{OutboxSender, SocketProbe};
use crate::tenant::TenantMsg;

mod turn;
use turn::start_next_turn;

/// Messages of the conversation kept as model context.
const HISTORY: usize = 20;
/// Shopper messages that may wait behind a running turn; more are refused.
const MAX_QUEUED_MESSAGES: usize = 8;
/// Cart commands taken and not yet answered; more are refused (`rate_limited`).
pub const MAX_INFLIGHT_CART: usize = 64;
/// Room kept in the log's channel for the events of work already accepted: a new
/// command is refused when less than this is free.
const LOG_RESERVE: usize = 256;
/// Command ids remembered in memory (the newest); older ones are looked up in the
/// store. Larger than the log's channel and a write batch together, so an id that
/// leaves the window is always persisted.
pub const ACK_WINDOW: usize = 2048;
/// Commands that may wait while an older command id is looked up in the store.
const MAX_DEFERRED: usize = 64;

/// A shopper's command, already parsed and validated by the gateway.
#[derive(Debug, Clone)]
pub enum Command {
    Message { id: CommandId, text: String },
    Cart { id: CommandId, op: CartOp },
}

impl Command {
    pub fn id(&self) -> &CommandId {
        match self {
            Command::Message { id, .. } | Command::Cart { id, .. } => id,
        }
    }
}

pub enum ConvMsg {
    Attach { socket: SocketId, tx: OutboxSender, resume_from: Option<i64>, reply: oneshot::Sender<Attached> },
    Detach { socket: SocketId },
    Command { socket: SocketId, command: Command },
    /// The store's answer for a command id older than the memory window.
    LookedUp { socket: SocketId, command: Command, ack: Result<Option<i64>, ()> },
    /// A frame of this conversation that was refused before it became a command.
    Reject { id: Option<String>, code: ErrorCode, message: String },
    /// A cart operation is done. `stuck`: an acknowledged command's write could not be
    /// made (the store did not answer); the conversation stops and is rebuilt from the
    /// store, which applies the command then. `acked`: its `ack` is already written (a
    /// checkout, a command redone at start); else a shopper command's `ack` goes out
    /// now, in one write with its outcome and `save`, the cart it leaves (ARCHITECTURE.md,
    /// "acknowledged means applied"). `applied_seq`: the cart actor's.
    CartDone {
        command: Option<CommandId>,
        result: Result<CartOutcome, CartFailure>,
        stuck: bool,
        save: Option<Cart>,
        acked: bool,
        applied_seq: i64,
    },
    /// The cart actor is about to write the cart itself (a checkout): answered once
    /// every event numbered before is durable, with `ack` (a shopper's checkout: its
    /// id and the command as JSON) written and numbered first.
    Checkpoint { ack: Option<(CommandId, Option<String>)>, reply: ractor::RpcReplyPort<Checkpointed> },
    /// The store refused the log's write: this incarnation stops (see `EventLog`).
    LogFailed,
    /// An event of the running turn.
    Emit(Event),
    TurnDone { turn: u64, text: String, outcome: TurnOutcome },
    /// The turn's task ended without a `TurnDone` (it panicked): the shopper gets an
    /// `internal` error instead of a reply, and the next message is answered as usual.
    TurnFailed { turn: u64 },
    IdleTick,
    /// Test hook: panics inside the handler, as a bug would.
    #[cfg(feature = "test-hooks")]
    Crash,
}

/// A `ConvMsg::Checkpoint` passed: the `seq` of the `ack` it wrote, and the highest
/// `seq` a cart written by the log has applied.
#[derive(Debug, Clone, Copy)]
pub struct Checkpointed {
    pub ack: Option<i64>,
    pub applied: i64,
}

/// Why a conversation could not start; the registry matches on it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("conversation {0} not found")]
    NotFound(ConversationId),
}

/// The acknowledged command ids a conversation remembers: the newest `ACK_WINDOW`.
/// `complete` while nothing was ever left out, so a miss is a new command; after
/// that, a miss is looked up in the store.
struct AckWindow {
    seqs: HashMap<CommandId, i64>,
    order: VecDeque<CommandId>,
    complete: bool,
}

impl AckWindow {
    fn new(loaded: Vec<(CommandId, i64)>, complete: bool) -> Self {
        let mut w = Self { seqs: HashMap::new(), order: VecDeque::new(), complete };
        for (id, seq) in loaded {
            w.insert(id, seq);
        }
        w
    }

    fn get(&self, id: &CommandId) -> Option<i64> {
        self.seqs.get(id).copied()
    }

    fn insert(&mut self, id: CommandId, seq: i64) {
        if self.seqs.insert(id.clone(), seq).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > ACK_WINDOW {
            if let Some(old) = self.order.pop_front() {
                self.seqs.remove(&old);
                self.complete = false;
            }
        }
    }
}

pub struct ConversationArgs {
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub services: Arc<Services>,
    pub tenant_actor: ActorRef<TenantMsg>,
    /// Held by this conversation's log task while it lives: the next incarnation waits
    /// for it, so it never reads the store before the last events are written.
    pub generation: Arc<tokio::sync::Mutex<()>>,
    /// The group-commit writer every conversation's log persists through.
    pub events: crate::event_log::EventWriter,
}

pub struct ConversationActor;

pub struct ConvState {
    tenant: TenantId,
    conversation: ConversationId,
    services: Arc<Services>,
    tenant_actor: ActorRef<TenantMsg>,
    cart: ActorRef<CartMsg>,
    log: mpsc::Sender<LogCmd>,
    next_seq: i64,
    acks: AckWindow,
    /// The sockets attached now, by id: a socket's writer that is gone (closed,
    /// dropped for falling behind, or never took an attach it asked for) is forgotten
    /// at the next tick, so it never keeps the conversation from resting.
    sockets: HashMap<SocketId, SocketProbe>,
    /// Cart commands taken and not yet answered, and their ids (a repeat of one of
    /// them is answered by the `ack` it is waiting for).
    inflight_cart: usize,
    inflight_ids: std::collections::HashSet<CommandId>,
    /// The highest `seq` the cart has applied, as the log writes it.
    applied: i64,
    /// Commands applied again at start (`pre_start`), whose outcome events are already
    /// out: their `CartDone` is skipped once.
    redone: std::collections::HashSet<CommandId>,
    /// A command id is being looked up in the store; later commands wait in order.
    looking_up: bool,
    deferred: VecDeque<(SocketId, Command)>,
    last_activity: Instant,
    turns: u64,
    running: Option<(u64, AbortHandle)>,
    queued: VecDeque<String>,
    history: VecDeque<ChatMessage>,
    dialogue: DialogueState,
    /// Messages since the last summary job was asked for (`engine::turn::summary`).
    unsummarized: usize,
}

impl ConvState {
    fn emit(&mut self, event: Event) -> Option<i64> {
        self.emit_group(vec![(event, None, None)], None, None)
    }

    /// Numbers events (each with the command id its `ack` answers and the command as
    /// JSON) and hands them to the log, which persists them with `cart` in one write
    /// and then runs `then`. Gives the first one's `seq`; `None` when the log's channel
    /// is full: nothing was numbered.
    fn emit_group(
        &mut self,
        events: Vec<(Event, Option<&CommandId>, Option<String>)>,
        cart: Option<Cart>,
        then: Option<crate::event_log::AfterPersist>,
    ) -> Option<i64> {
        let first = self.next_seq;
        let pending: Vec<Pending> = events
            .into_iter()
            .enumerate()
            .map(|(i, (event, command, body))| (SeqEvent { seq: first + i as i64, event }, command.map(|c| c.as_str().to_string()), body))
            .collect();
        let n = pending.len() as i64;
        match self.log.try_send(LogCmd::Append(pending, cart, then)) {
            Ok(()) => {
                self.next_seq += n;
                Some(first)
            }
            Err(_) => {
                tracing::warn!(conversation = %self.conversation, "event log full; an event was not sent");
                None
            }
        }
    }

    /// An event of work already accepted (a cart change, a turn's reply): if even the
    /// reserve is gone, this incarnation stops rather than skip it silently; the next
    /// one is rebuilt from the store.
    fn must_emit(&mut self, myself: &ActorRef<ConvMsg>, event: Event) {
        if self.emit(event).is_none() {
            tracing::error!(conversation = %self.conversation, "event log full; restarting the conversation from the store");
            myself.stop(Some("event log full".into()));
        }
    }

    /// As `must_emit`, for events written together (with a cart); whether they were
    /// taken.
    fn must_emit_group(&mut self, myself: &ActorRef<ConvMsg>, events: Vec<(Event, Option<&CommandId>, Option<String>)>, cart: Option<Cart>) -> bool {
        if events.is_empty() && cart.is_none() {
            return true;
        }
        if self.emit_group(events, cart, None).is_none() {
            tracing::error!(conversation = %self.conversation, "event log full; restarting the conversation from the store");
            myself.stop(Some("event log full".into()));
            return false;
        }
        true
    }

    /// Whether the log has room for a new command's events.
    fn has_room(&self) -> bool {
        self.log.capacity() >= LOG_RESERVE
    }

    fn transcript(&self, role: Role, text: &str) {
        let _ = self.log.try_send(LogCmd::Transcript(TranscriptMessage { role, text: text.to_string(), at: chrono::Utc::now() }));
    }

    fn push_history(&mut self, m: ChatMessage) {
        self.history.push_back(m);
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
    }

    fn refuse(&mut self, id: &CommandId, code: ErrorCode, message: &str) {
        self.emit(Event::Error { code, message: message.into(), id: Some(id.as_str().to_string()) });
    }

    fn direct_ack(&self, socket: SocketId, id: &CommandId, seq: i64) {
        let frame = SeqEvent { seq, event: Event::Ack { id: id.as_str().to_string() } };
        let _ = self.log.try_send(LogCmd::Direct { socket, frame: Arc::from(frame.to_json()) });
    }
}

impl Actor for ConversationActor {
    type Msg = ConvMsg;
    type State = ConvState;
    type Arguments = ConversationArgs;

    async fn pre_start(&self, myself: ActorRef<ConvMsg>, args: ConversationArgs) -> Result<ConvState, ActorProcessingErr> {
        let generation: OwnedMutexGuard<()> = args.generation.clone().lock_owned().await;
        let store = args.services.store.clone();
        let (tenant, conversation) = (args.tenant, args.conversation);
        let record = store
            .get_conversation(&tenant, &conversation)
            .await?
            .ok_or_else(|| StartError::NotFound(conversation.clone()))?;
        let last_seq = store.last_seq(&tenant, &conversation).await?;
        let loaded = store.command_acks(&tenant, &conversation, ACK_WINDOW as u32).await?;
        let complete = loaded.len() < ACK_WINDOW;
        let acks = AckWindow::new(
            loaded.into_iter().filter_map(|(id, seq)| CommandId::parse(id).ok().map(|id| (id, seq))).collect(),
            complete,
        );
        let dialogue: DialogueState = serde_json::from_str(&record.dialogue_state).unwrap_or_default();
        let mut history = VecDeque::new();
        for m in store.transcript(&tenant, &conversation).await?.into_iter().rev().take(HISTORY).rev() {
            history.push_back(match m.role {
                Role::Shopper => ChatMessage::User { content: m.text },
                Role::Assistant | Role::Staff => ChatMessage::Assistant { content: m.text, tool_calls: Vec::new() },
            });
        }
        let settings: TenantSettings = ractor::call!(args.tenant_actor, TenantMsg::Settings)?;
        let cart_args = CartArgs {
            tenant: tenant.clone(),
            conversation: conversation.clone(),
            currency: settings.currency,
            service: args.services.carts.clone(),
        };
        let (cart, _) = Actor::spawn_linked(None, CartActor, cart_args, myself.get_cell()).await?;
        let current_cart = ractor::call!(cart, CartMsg::Get)?;
        // Acknowledged means applied: the commands acknowledged after the last one the
        // cart applied (a crash came between) are applied now, in order, before this
        // incarnation takes any socket or command, so its first `welcome` shows them.
        let pending = store.pending_commands(&tenant, &conversation, current_cart.applied_seq).await?;
        let mut redone = Vec::new();
        for p in pending {
            let (Ok(id), Ok(op)) = (CommandId::parse(p.command_id.clone()), serde_json::from_str::<CartOp>(&p.command)) else {
                tracing::error!(conversation = %conversation, seq = p.seq, "an acknowledged command cannot be read; skipped");
                continue;
            };
            tracing::info!(conversation = %conversation, seq = p.seq, "applying a command acknowledged before a restart");
            let mode = Mode::Redo(id.clone(), p.seq);
            // The cart actor tells the conversation too; that `CartDone` (not yet
            // processed) is told apart by `redone` and skipped.
            let result = ractor::call!(cart, |reply| CartMsg::Apply { op, mode, notify: myself.clone(), reply: Some(reply) })?;
            if matches!(&result, Err(f) if f.code == ErrorCode::Unavailable) {
                return Err(format!("cannot apply acknowledged command {} yet: the store is unavailable", p.seq).into());
            }
            redone.push((id, result));
        }
        let current_cart = ractor::call!(cart, CartMsg::Get)?;
        let (log_tx, log_rx) = mpsc::channel(LOG_CAPACITY);
        let on_failure = {
            let me = myself.clone();
            Box::new(move || {
                let _ = me.send_message(ConvMsg::LogFailed);
            })
        };
        let log = EventLog::new(tenant.clone(), conversation.clone(), store, args.events.clone(), last_seq, &current_cart, on_failure);
        tokio::spawn(async move {
            log.run(log_rx).await;
            drop(generation);
        });
        let tick = (args.services.idle_timeout / 2).max(Duration::from_millis(50));
        myself.send_interval(tick, || ConvMsg::IdleTick);
        let mut state = ConvState {
            tenant,
            conversation,
            services: args.services,
            tenant_actor: args.tenant_actor,
            cart,
            log: log_tx,
            next_seq: last_seq + 1,
            acks,
            sockets: HashMap::new(),
            inflight_cart: 0,
            inflight_ids: Default::default(),
            applied: current_cart.applied_seq,
            redone: redone.iter().map(|(id, _)| id.clone()).collect(),
            looking_up: false,
            deferred: VecDeque::new(),
            last_activity: Instant::now(),
            turns: 0,
            unsummarized: 0,
            running: None,
            queued: VecDeque::new(),
            history,
            dialogue,
        };
        for (id, result) in redone {
            emit_outcome(&myself, &mut state, Some(id), result);
        }
        Ok(state)
    }

    async fn handle(&self, myself: ActorRef<ConvMsg>, msg: ConvMsg, state: &mut ConvState) -> Result<(), ActorProcessingErr> {
        match msg {
            ConvMsg::Attach { socket, tx, resume_from, reply } => {
                state.last_activity = Instant::now();
                state.sockets.insert(socket, tx.probe());
                // A full channel drops the request; the socket sees its reply go and
                // attaches again.
                let _ = state.log.try_send(LogCmd::Subscribe { socket, tx, resume_from, reply });
            }
            ConvMsg::Detach { socket } => {
                state.sockets.remove(&socket);
                state.last_activity = Instant::now();
                let _ = state.log.try_send(LogCmd::Unsubscribe { socket });
            }
            ConvMsg::Command { socket, command } => {
                state.last_activity = Instant::now();
                on_command(&myself, state, socket, command).await;
            }
            ConvMsg::LookedUp { socket, command, ack } => {
                state.looking_up = false;
                match ack {
                    Ok(Some(seq)) => state.direct_ack(socket, command.id(), seq),
                    Ok(None) => accept(&myself, state, socket, command).await,
                    // Not acknowledged: the client re-sends it with the same id.
                    Err(()) => state.refuse(command.id(), ErrorCode::Unavailable, "the shop is unavailable, try again"),
                }
                while !state.looking_up
                    && let Some((socket, command)) = state.deferred.pop_front()
                {
                    on_command(&myself, state, socket, command).await;
                }
            }
            ConvMsg::Reject { id, code, message } => {
                if state.has_room() {
                    state.emit(Event::Error { code, message, id });
                }
            }
            ConvMsg::CartDone { command, result, stuck, save, acked, applied_seq } => {
                if let Some(id) = &command
                    && state.redone.remove(id)
                {
                    return Ok(());
                }
                if let Some(id) = &command {
                    state.inflight_cart = state.inflight_cart.saturating_sub(1);
                    state.inflight_ids.remove(id);
                }
                if stuck {
                    tracing::error!(conversation = %state.conversation, "a cart write failed repeatedly; rebuilding the conversation from the store");
                    myself.stop(Some("cart store unavailable".into()));
                    return Ok(());
                }
                state.applied = state.applied.max(applied_seq);
                cart_done(&myself, state, command, acked, result, save);
            }
            ConvMsg::Checkpoint { ack, reply } => {
                let applied = state.applied;
                let Some((id, body)) = ack else {
                    // Nothing to number: runs once what is queued before is durable.
                    let then: crate::event_log::AfterPersist = Box::new(move || {
                        let _ = reply.send(Checkpointed { ack: None, applied });
                    });
                    if state.log.try_send(LogCmd::Append(Vec::new(), None, Some(then))).is_err() {
                        tracing::error!(conversation = %state.conversation, "event log full; restarting the conversation from the store");
                        myself.stop(Some("event log full".into()));
                    }
                    return Ok(());
                };
                let seq = state.next_seq;
                let then: crate::event_log::AfterPersist = Box::new(move || {
                    let _ = reply.send(Checkpointed { ack: Some(seq), applied });
                });
                let ack = Event::Ack { id: id.as_str().to_string() };
                match state.emit_group(vec![(ack, Some(&id), body)], None, Some(then)) {
                    Some(acked) => state.acks.insert(id, acked),
                    None => {
                        tracing::error!(conversation = %state.conversation, "event log full; restarting the conversation from the store");
                        myself.stop(Some("event log full".into()));
                    }
                }
            }
            ConvMsg::LogFailed => {
                tracing::error!(conversation = %state.conversation, "the store refused the conversation's events; rebuilding it from the store");
                myself.stop(Some("event log failed".into()));
            }
            ConvMsg::Emit(event) => {
                state.must_emit(&myself, event);
            }
            ConvMsg::TurnDone { turn, text, outcome } => {
                if state.running.as_ref().is_some_and(|(t, _)| *t == turn) {
                    state.running = None;
                }
                state.push_history(ChatMessage::User { content: text });
                state.push_history(ChatMessage::Assistant { content: outcome.reply.clone(), tool_calls: Vec::new() });
                state.transcript(Role::Assistant, &outcome.reply);
                // A remote model sees only the newest history: keep a summary of the
                // rest, written by a job (never awaited here).
                state.unsummarized += 2;
                if outcome.usage != TokenUsage::default()
                    && state.unsummarized >= SUMMARY_EVERY
                    && let Some(jobs) = state.services.jobs.clone()
                {
                    state.unsummarized = 0;
                    let (tenant, conversation) = (state.tenant.clone(), state.conversation.clone());
                    tokio::spawn(async move {
                        if let Err(e) = jobs.request_summary(&tenant, &conversation).await {
                            tracing::warn!(conversation = %conversation, error = %e, "could not queue a summary");
                        }
                    });
                }
                state.dialogue = outcome.dialogue;
                if let Ok(json) = serde_json::to_string(&state.dialogue) {
                    let _ = state.log.try_send(LogCmd::Dialogue(json));
                }
                state.last_activity = Instant::now();
                start_next_turn(&myself, state);
            }
            ConvMsg::TurnFailed { turn } => {
                if state.running.as_ref().is_some_and(|(t, _)| *t == turn) {
                    state.running = None;
                    tracing::error!(conversation = %state.conversation, turn, "a turn failed");
                    state.must_emit(
                        &myself,
                        Event::Error {
                            code: ErrorCode::Internal,
                            message: "the assistant could not answer this message; please send it again".into(),
                            id: None,
                        },
                    );
                }
                state.last_activity = Instant::now();
                start_next_turn(&myself, state);
            }
            ConvMsg::IdleTick => {
                state.sockets.retain(|_, probe| probe.is_live());
                let idle = state.last_activity.elapsed() >= state.services.idle_timeout;
                if idle
                    && state.sockets.is_empty()
                    && state.running.is_none()
                    && state.queued.is_empty()
                    && state.inflight_cart == 0
                    && !state.looking_up
                {
                    tracing::debug!(conversation = %state.conversation, "passivating idle conversation");
                    myself.stop(Some("idle".into()));
                }
            }
            #[cfg(feature = "test-hooks")]
            ConvMsg::Crash => panic!("injected failure in conversation {}", state.conversation),
        }
        Ok(())
    }

    async fn handle_supervisor_evt(&self, myself: ActorRef<ConvMsg>, evt: SupervisionEvent, state: &mut ConvState) -> Result<(), ActorProcessingErr> {
        // The only child is the cart actor; if it fails, start a fresh one from the store.
        if let SupervisionEvent::ActorFailed(_, err) = evt {
            tracing::error!(conversation = %state.conversation, error = %err, "cart actor failed; restarting it from the store");
            let settings: TenantSettings = ractor::call!(state.tenant_actor, TenantMsg::Settings)?;
            let args = CartArgs {
                tenant: state.tenant.clone(),
                conversation: state.conversation.clone(),
                currency: settings.currency,
                service: state.services.carts.clone(),
            };
            let (cart, _) = Actor::spawn_linked(None, CartActor, args, myself.get_cell()).await?;
            state.cart = cart;
        }
        Ok(())
    }

    async fn post_stop(&self, _myself: ActorRef<ConvMsg>, state: &mut ConvState) -> Result<(), ActorProcessingErr> {
        if let Some((_, h)) = state.running.take() {
            h.abort();
        }
        state.cart.stop(None);
        Ok(())
    }
}

/// The events of a cart operation's outcome: `cart` (and `order`), or an `error` for a
/// shopper's refused command (a turn explains its failed tool call in the reply).
fn emit_outcome(myself: &ActorRef<ConvMsg>, state: &mut ConvState, command: Option<CommandId>, result: Result<CartOutcome, CartFailure>) {
    let events = outcome_events(command.as_ref(), result);
    state.must_emit_group(myself, events.into_iter().map(|e| (e, None, None)).collect(), None);
}

/// The events that tell a cart operation's outcome.
fn outcome_events(command: Option<&CommandId>, result: Result<CartOutcome, CartFailure>) -> Vec<Event> {
    match result {
        Ok(CartOutcome::Cart { cart, notices }) => vec![Event::Cart { cart: CartView::from(&cart), notices }],
        Ok(CartOutcome::Placed { order, cart }) => vec![
            Event::Order { order_id: order.id.to_string(), total_minor: order.total_minor, currency: order.currency.to_string(), payment_url: None },
            Event::Cart { cart: CartView::from(&cart), notices: Vec::new() },
        ],
        Err(f) => {
            let mut events = Vec::new();
            if let Some(id) = command {
                events.push(Event::Error { code: f.code, message: f.message, id: Some(id.as_str().to_string()) });
            }
            // A checkout refused because prices or stock moved: then the updated cart.
            if let Some(cart) = f.cart {
                events.push(Event::Cart { cart: CartView::from(cart.as_ref()), notices: f.notices });
            }
            events
        }
    }
}

/// A cart operation's outcome, with the cart it leaves when the log writes it
/// (`save`). A shopper command not yet acknowledged (`!acked`) is acknowledged now:
/// its `ack`, its outcome and its cart, whose `applied_seq` is the ack's, are one
/// write, so the command is durable with its effect or not at all. One the store
/// could not decide is refused (`unavailable`, no `ack`): the shopper sends it again.
fn cart_done(
    myself: &ActorRef<ConvMsg>,
    state: &mut ConvState,
    command: Option<CommandId>,
    acked: bool,
    result: Result<CartOutcome, CartFailure>,
    mut save: Option<Cart>,
) {
    let Some(id) = command.clone().filter(|_| !acked) else {
        if let Some(cart) = save.as_mut() {
            cart.applied_seq = cart.applied_seq.max(state.applied);
        }
        let events = outcome_events(command.as_ref(), result);
        state.must_emit_group(myself, events.into_iter().map(|e| (e, None, None)).collect(), save);
        return;
    };
    if save.is_none()
        && let Err(f) = &result
        && f.code == ErrorCode::Unavailable
    {
        state.refuse(&id, f.code, &f.message);
        return;
    }
    let ack_seq = state.next_seq;
    if let Some(cart) = save.as_mut() {
        cart.applied_seq = ack_seq.max(state.applied);
        state.applied = cart.applied_seq;
    }
    let mut events: Vec<(Event, Option<&CommandId>, Option<String>)> = vec![(Event::Ack { id: id.as_str().to_string() }, Some(&id), None)];
    events.extend(outcome_events(Some(&id), result).into_iter().map(|e| (e, None, None)));
    if state.must_emit_group(myself, events, save) {
        state.acks.insert(id, ack_seq);
    }
}

/// A shopper's command: the original ack again if its id was seen, else accepted.
async fn on_command(myself: &ActorRef<ConvMsg>, state: &mut ConvState, socket: SocketId, command: Command) {
    if state.looking_up {
        if state.deferred.len() >= MAX_DEFERRED {
            state.refuse(command.id(), ErrorCode::RateLimited, "too many commands at once; send it again shortly");
        } else {
            state.deferred.push_back((socket, command));
        }
        return;
    }
    if let Some(seq) = state.acks.get(command.id()) {
        // Already applied: the original ack, to this socket only.
        state.direct_ack(socket, command.id(), seq);
        return;
    }
    if state.inflight_ids.contains(command.id()) {
        // Being applied: its ack goes to every socket of the conversation.
        return;
    }
    if !state.acks.complete {
        // Older ids left the memory window: ask the store, off the handler.
        state.looking_up = true;
        let (store, tenant, conversation, me) = (state.services.store.clone(), state.tenant.clone(), state.conversation.clone(), myself.clone());
        tokio::spawn(async move {
            let ack = store.command_ack(&tenant, &conversation, command.id().as_str()).await.map_err(|e| {
                tracing::error!(error = %e, "command id lookup failed");
            });
            let _ = me.send_message(ConvMsg::LookedUp { socket, command, ack });
        });
        return;
    }
    accept(myself, state, socket, command).await;
}

/// A new command: acknowledged (durably) and then applied, or refused.
async fn accept(myself: &ActorRef<ConvMsg>, state: &mut ConvState, _socket: SocketId, command: Command) {
    if !state.has_room() {
        state.refuse(command.id(), ErrorCode::RateLimited, "this conversation is busy; send it again shortly");
        return;
    }
    match command {
        Command::Cart { id, op } => {
            if state.inflight_cart >= MAX_INFLIGHT_CART {
                state.refuse(&id, ErrorCode::RateLimited, "too many cart commands at once; send it again shortly");
                return;
            }
            // Acknowledged means applied, exactly once: the cart actor decides the
            // command and the conversation writes its ack, its outcome and the cart in
            // one write (`cart_done`); a checkout is acknowledged first and applied
            // after (`ConvMsg::Checkpoint`), and redone at start if a crash came between.
            let apply = CartMsg::Apply { op, mode: Mode::Shopper(id.clone()), notify: myself.clone(), reply: None };
            if state.cart.send_message(apply).is_err() {
                state.refuse(&id, ErrorCode::Unavailable, "cart unavailable, try again");
                return;
            }
            state.inflight_ids.insert(id);
            state.inflight_cart += 1;
        }
        Command::Message { id, text } => {
            if state.queued.len() >= MAX_QUEUED_MESSAGES {
                state.refuse(&id, ErrorCode::RateLimited, "too many messages waiting for an answer");
                return;
            }
            // The plan's monthly message quota (counted by the tenant actor, whose
            // handler answers at once). Cart commands are never refused for it.
            if !ractor::call!(state.tenant_actor, TenantMsg::UseMessage).unwrap_or(true) {
                state.refuse(
                    &id,
                    ErrorCode::QuotaExceeded,
                    "this shop's assistant has answered all the messages its plan includes this month; the cart still works",
                );
                return;
            }
            if let Some(seq) = state.emit_group(vec![(Event::Ack { id: id.as_str().to_string() }, Some(&id), None)], None, None) {
                state.acks.insert(id, seq);
                state.transcript(Role::Shopper, &text);
                state.queued.push_back(text);
                start_next_turn(myself, state);
            }
        }
    }
}
