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
use engine::domain::{CommandId, ConversationId, TenantId};
use engine::events::{ErrorCode, Event, SeqEvent};
use engine::ports::llm::ChatMessage;
use engine::ports::store::{Role, TenantSettings, TranscriptMessage};
use engine::turn::{DialogueState, TurnEffects, TurnInput, TurnOutcome, run_turn};
use engine::views::CartView;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::Services;
use crate::cart::{CartActor, CartArgs, CartMsg};
use crate::event_log::{Attached, EventLog, Frame, LogCmd, SocketId};
use crate::tenant::TenantMsg;

/// Messages of the conversation kept as model context.
const HISTORY: usize = 20;
/// Shopper messages that may wait behind a running turn; more are refused.
const MAX_QUEUED_MESSAGES: usize = 8;

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
    Attach { socket: SocketId, tx: mpsc::Sender<Frame>, resume_from: Option<i64>, reply: oneshot::Sender<Attached> },
    Detach { socket: SocketId },
    Command { socket: SocketId, command: Command },
    /// A frame of this conversation that was refused before it became a command.
    Reject { id: Option<String>, code: ErrorCode, message: String },
    CartDone { command: Option<CommandId>, result: Result<CartOutcome, CartFailure> },
    /// An event of the running turn.
    Emit(Event),
    TurnDone { turn: u64, text: String, outcome: TurnOutcome },
    /// The turn's task ended without a `TurnDone` (it panicked): the shopper gets an
    /// `internal` error instead of a reply, and the next message is answered as usual.
    TurnFailed { turn: u64 },
    IdleTick,
    /// Test hook: panics inside the handler, as a bug would.
    Crash,
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
    log: mpsc::UnboundedSender<LogCmd>,
    next_seq: i64,
    acks: HashMap<CommandId, i64>,
    sockets: usize,
    last_activity: Instant,
    turns: u64,
    running: Option<(u64, AbortHandle)>,
    queued: VecDeque<String>,
    history: VecDeque<ChatMessage>,
    dialogue: DialogueState,
}

impl ConvState {
    fn emit(&mut self, event: Event, command: Option<&CommandId>) -> i64 {
        self.emit_then(event, command, None)
    }

    /// Emits an event and runs `then` once it is persisted.
    fn emit_then(&mut self, event: Event, command: Option<&CommandId>, then: Option<crate::event_log::AfterPersist>) -> i64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let e = SeqEvent { seq, event };
        let _ = self.log.send(LogCmd::Append(vec![(e, command.map(|c| c.as_str().to_string()))], then));
        seq
    }

    fn transcript(&self, role: Role, text: &str) {
        let _ = self.log.send(LogCmd::Transcript(TranscriptMessage { role, text: text.to_string(), at: chrono::Utc::now() }));
    }

    fn push_history(&mut self, m: ChatMessage) {
        self.history.push_back(m);
        while self.history.len() > HISTORY {
            self.history.pop_front();
        }
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
            .ok_or_else(|| format!("conversation {conversation} not found"))?;
        let last_seq = store.last_seq(&tenant, &conversation).await?;
        let acks = store
            .command_acks(&tenant, &conversation)
            .await?
            .into_iter()
            .filter_map(|(id, seq)| CommandId::parse(id).ok().map(|id| (id, seq)))
            .collect();
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
        let (log_tx, log_rx) = mpsc::unbounded_channel();
        let log = EventLog::new(tenant.clone(), conversation.clone(), store, args.events.clone(), last_seq, &current_cart);
        tokio::spawn(async move {
            log.run(log_rx).await;
            drop(generation);
        });
        let tick = (args.services.idle_timeout / 2).max(Duration::from_millis(50));
        myself.send_interval(tick, || ConvMsg::IdleTick);
        Ok(ConvState {
            tenant,
            conversation,
            services: args.services,
            tenant_actor: args.tenant_actor,
            cart,
            log: log_tx,
            next_seq: last_seq + 1,
            acks,
            sockets: 0,
            last_activity: Instant::now(),
            turns: 0,
            running: None,
            queued: VecDeque::new(),
            history,
            dialogue,
        })
    }

    async fn handle(&self, myself: ActorRef<ConvMsg>, msg: ConvMsg, state: &mut ConvState) -> Result<(), ActorProcessingErr> {
        match msg {
            ConvMsg::Attach { socket, tx, resume_from, reply } => {
                state.sockets += 1;
                state.last_activity = Instant::now();
                let _ = state.log.send(LogCmd::Subscribe { socket, tx, resume_from, reply });
            }
            ConvMsg::Detach { socket } => {
                state.sockets = state.sockets.saturating_sub(1);
                state.last_activity = Instant::now();
                let _ = state.log.send(LogCmd::Unsubscribe { socket });
            }
            ConvMsg::Command { socket, command } => {
                state.last_activity = Instant::now();
                if let Some(seq) = state.acks.get(command.id()) {
                    // Already applied: the original ack, to this socket only.
                    let frame = SeqEvent { seq: *seq, event: Event::Ack { id: command.id().as_str().to_string() } };
                    let _ = state.log.send(LogCmd::Direct { socket, frame: Arc::from(frame.to_json()) });
                    return Ok(());
                }
                let id = command.id().clone();
                if let Command::Message { .. } = &command
                    && state.queued.len() >= MAX_QUEUED_MESSAGES
                {
                    state.emit(
                        Event::Error { code: ErrorCode::RateLimited, message: "too many messages waiting for an answer".into(), id: Some(id.as_str().to_string()) },
                        None,
                    );
                    return Ok(());
                }
                // The plan's monthly message quota (an in-memory count in the tenant
                // actor). Cart commands are never refused for it.
                if let Command::Message { .. } = &command
                    && !ractor::call!(state.tenant_actor, TenantMsg::UseMessage).unwrap_or(true)
                {
                    state.emit(
                        Event::Error {
                            code: ErrorCode::QuotaExceeded,
                            message: "this shop's assistant has answered all the messages its plan includes this month; the cart still works".into(),
                            id: Some(id.as_str().to_string()),
                        },
                        None,
                    );
                    return Ok(());
                }
                match command {
                    Command::Cart { id, op } => {
                        // The cart changes only once its ack is durable: a command whose
                        // ack was lost in a crash was never applied, and one whose ack
                        // survived is found in `acks` after rehydration and never applied
                        // again. (So the cart write itself needs no command record.)
                        let cart = state.cart.clone();
                        let notify = myself.clone();
                        let forward_id = id.clone();
                        let then: crate::event_log::AfterPersist = Box::new(move || {
                            let apply = CartMsg::Apply { op, command: Some(forward_id.clone()), notify: notify.clone(), reply: None };
                            if cart.send_message(apply).is_err() {
                                let _ = notify.send_message(ConvMsg::CartDone {
                                    command: Some(forward_id),
                                    result: Err(CartFailure::new(ErrorCode::Unavailable, "cart unavailable, try again")),
                                });
                            }
                        });
                        let seq = state.emit_then(Event::Ack { id: id.as_str().to_string() }, Some(&id), Some(then));
                        state.acks.insert(id, seq);
                    }
                    Command::Message { id, text } => {
                        let seq = state.emit(Event::Ack { id: id.as_str().to_string() }, Some(&id));
                        state.acks.insert(id, seq);
                        state.transcript(Role::Shopper, &text);
                        state.queued.push_back(text);
                        start_next_turn(&myself, state);
                    }
                }
            }
            ConvMsg::Reject { id, code, message } => {
                state.emit(Event::Error { code, message, id }, None);
            }
            ConvMsg::CartDone { command, result } => match result {
                Ok(CartOutcome::Cart { cart, notices }) => {
                    state.emit(Event::Cart { cart: CartView::from(&cart), notices }, None);
                }
                Ok(CartOutcome::Placed { order, cart }) => {
                    state.emit(
                        Event::Order { order_id: order.id.to_string(), total_minor: order.total_minor, currency: order.currency.to_string(), payment_url: None },
                        None,
                    );
                    state.emit(Event::Cart { cart: CartView::from(&cart), notices: Vec::new() }, None);
                }
                Err(f) => {
                    // A turn's failed tool call is explained in the reply, not as an error.
                    if let Some(id) = command {
                        state.emit(Event::Error { code: f.code, message: f.message, id: Some(id.as_str().to_string()) }, None);
                    }
                    // A checkout refused because prices or stock moved: then the updated cart.
                    if let Some(cart) = f.cart {
                        state.emit(Event::Cart { cart: CartView::from(&cart), notices: f.notices }, None);
                    }
                }
            },
            ConvMsg::Emit(event) => {
                state.emit(event, None);
            }
            ConvMsg::TurnDone { turn, text, outcome } => {
                if state.running.as_ref().is_some_and(|(t, _)| *t == turn) {
                    state.running = None;
                }
                state.push_history(ChatMessage::User { content: text });
                state.push_history(ChatMessage::Assistant { content: outcome.reply.clone(), tool_calls: Vec::new() });
                state.transcript(Role::Assistant, &outcome.reply);
                state.dialogue = outcome.dialogue;
                if let Ok(json) = serde_json::to_string(&state.dialogue) {
                    let _ = state.log.send(LogCmd::Dialogue(json));
                }
                state.last_activity = Instant::now();
                start_next_turn(&myself, state);
            }
            ConvMsg::TurnFailed { turn } => {
                if state.running.as_ref().is_some_and(|(t, _)| *t == turn) {
                    state.running = None;
                    tracing::error!(conversation = %state.conversation, turn, "a turn failed");
                    state.emit(
                        Event::Error {
                            code: ErrorCode::Internal,
                            message: "the assistant could not answer this message; please send it again".into(),
                            id: None,
                        },
                        None,
                    );
                }
                state.last_activity = Instant::now();
                start_next_turn(&myself, state);
            }
            ConvMsg::IdleTick => {
                let idle = state.last_activity.elapsed() >= state.services.idle_timeout;
                if idle && state.sockets == 0 && state.running.is_none() && state.queued.is_empty() {
                    tracing::debug!(conversation = %state.conversation, "passivating idle conversation");
                    myself.stop(Some("idle".into()));
                }
            }
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

/// Starts the next queued turn unless one is running.
fn start_next_turn(myself: &ActorRef<ConvMsg>, state: &mut ConvState) {
    if state.running.is_some() {
        return;
    }
    let Some(text) = state.queued.pop_front() else { return };
    state.turns += 1;
    let turn = state.turns;
    let services = state.services.clone();
    let tenant = state.tenant.clone();
    let tenant_actor = state.tenant_actor.clone();
    let bridge = TurnBridge { conversation: myself.clone(), cart: state.cart.clone() };
    let history: Vec<ChatMessage> = state.history.iter().cloned().collect();
    let dialogue = state.dialogue.clone();
    let task = tokio::spawn(async move {
        let settings = ractor::call!(tenant_actor, TenantMsg::Settings).unwrap_or_default();
        let cart = ractor::call!(bridge.cart, CartMsg::Get);
        let catalog = services.catalog.get(&tenant).await;
        let (cart, catalog) = match (cart, catalog) {
            (Ok(c), Ok(k)) => (c, k),
            _ => {
                bridge.emit(Event::AssistantStart { turn }).await;
                let sorry = "Sorry, the shop is unavailable right now. Please try again.".to_string();
                bridge.emit(Event::AssistantDelta { turn, text: sorry.clone() }).await;
                bridge.emit(Event::AssistantEnd { turn, text: sorry.clone() }).await;
                let outcome = TurnOutcome { reply: sorry, dialogue };
                let _ = bridge.conversation.send_message(ConvMsg::TurnDone { turn, text, outcome });
                return;
            }
        };
        let input = TurnInput { tenant, settings, turn, history, text: text.clone(), cart, catalog, dialogue };
        let outcome = run_turn(services.model.as_ref(), services.retriever.as_ref(), &bridge, input).await;
        let _ = bridge.conversation.send_message(ConvMsg::TurnDone { turn, text, outcome });
    });
    state.running = Some((turn, task.abort_handle()));
    // A panic in the turn (a model adapter's bug) must not leave the conversation
    // waiting for a `TurnDone` that never comes.
    let conversation = myself.clone();
    tokio::spawn(async move {
        if let Err(e) = task.await
            && e.is_panic()
        {
            let _ = conversation.send_message(ConvMsg::TurnFailed { turn });
        }
    });
}

/// A turn's view of its conversation: events go back to the actor, cart operations to
/// the cart actor (which tells the conversation, so `cart` events keep the cart's order).
struct TurnBridge {
    conversation: ActorRef<ConvMsg>,
    cart: ActorRef<CartMsg>,
}

#[async_trait::async_trait]
impl TurnEffects for TurnBridge {
    async fn emit(&self, event: Event) {
        let _ = self.conversation.send_message(ConvMsg::Emit(event));
    }

    async fn cart(&self, op: CartOp) -> Result<CartOutcome, CartFailure> {
        let notify = self.conversation.clone();
        let res = self
            .cart
            .call(|reply| CartMsg::Apply { op, command: None, notify, reply: Some(reply) }, Some(Duration::from_secs(10)))
            .await;
        match res {
            Ok(ractor::rpc::CallResult::Success(r)) => r,
            _ => Err(CartFailure::new(ErrorCode::Unavailable, "the cart is unavailable right now")),
        }
    }
}
