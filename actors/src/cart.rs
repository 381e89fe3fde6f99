//! `CartActor`: one per conversation's cart. It serialises every change of that cart
//! and validates it against the catalog and the store's present price and stock
//! (through `engine::carts::CartService`). A shopper's command or a tool call is only
//! decided here: the conversation writes the cart it leaves together with the
//! command's `ack` and outcome, in one transaction. A checkout is written here, after
//! its `ack` is durable, with the ack's `seq` as the cart's `applied_seq`; the
//! conversation re-applies, at start, an acknowledged checkout a crash came before
//! (ARCHITECTURE.md, "acknowledged means applied, exactly once").

use std::sync::Arc;
use std::time::Duration;

use engine::carts::{Applied, CartFailure, CartOp, CartOutcome, CartService, Decided};
use engine::domain::{Cart, CommandId, ConversationId, Currency, TenantId};
use engine::events::ErrorCode;
use crate::conversation::{Checkpointed, ConvMsg};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// Tries of a shopper command whose write the store did not take, before the
/// conversation gives up and is rebuilt from the store (which applies it then).
const STORE_TRIES: u32 = 4;

/// Whose operation an `Apply` is, which decides who writes it.
#[derive(Clone, Debug)]
pub enum Mode {
    /// A shopper's command (its id, not yet acknowledged). Anything but a checkout is
    /// decided here and written by the conversation's log together with its `ack`
    /// (`ConvMsg::CartDone::save`); a checkout has its `ack` written first
    /// (`ConvMsg::Checkpoint`), then is applied and saved here.
    Shopper(CommandId),
    /// A command acknowledged before a restart (its `ack`'s `seq`): applied and saved
    /// here, before the conversation takes any socket.
    Redo(CommandId, i64),
    /// An assistant's tool call: like a shopper's, with no `ack`.
    Tool,
}

pub enum CartMsg {
    /// Applies `op`. The outcome always goes to the conversation (`notify`), which turns
    /// it into `ack`/`cart`/`order`/`error` events in the cart's own order; a turn that
    /// needs the result also passes `reply`.
    Apply {
        op: CartOp,
        mode: Mode,
        notify: ActorRef<ConvMsg>,
        reply: Option<RpcReplyPort<Result<CartOutcome, CartFailure>>>,
    },
    /// The current cart, with no event.
    Get(RpcReplyPort<Cart>),
}

pub struct CartActor;

pub struct CartArgs {
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub currency: Currency,
    pub service: Arc<CartService>,
}

pub struct CartState {
    args: CartArgs,
    /// The cart as decided: ahead of the store by the carts the conversation's log is
    /// still writing (`unsaved`).
    cart: Cart,
    /// A cart decided here was handed to the conversation's log to write and no
    /// checkpoint has passed since: a write of this actor's own (a checkout) waits for
    /// a `ConvMsg::Checkpoint` first, so it never lands before an older cart.
    unsaved: bool,
}

impl Actor for CartActor {
    type Msg = CartMsg;
    type State = CartState;
    type Arguments = CartArgs;

    async fn pre_start(&self, _myself: ActorRef<CartMsg>, args: CartArgs) -> Result<CartState, ActorProcessingErr> {
        let cart = args
            .service
            .load(&args.tenant, &args.conversation, args.currency)
            .await
            .map_err(|e| format!("loading cart: {e}"))?;
        Ok(CartState { args, cart, unsaved: false })
    }

    // Awaiting the store here is the point: it is what serialises one cart's changes.
    // Only this cart's mailbox waits; no model call ever happens here.
    async fn handle(&self, _myself: ActorRef<CartMsg>, msg: CartMsg, state: &mut CartState) -> Result<(), ActorProcessingErr> {
        match msg {
            CartMsg::Get(reply) => {
                let _ = reply.send(state.cart.clone());
            }
            CartMsg::Apply { op, mode, notify, reply } => {
                let (command, shopper) = match &mode {
                    Mode::Shopper(id) => (Some(id.clone()), true),
                    Mode::Redo(id, _) => (Some(id.clone()), false),
                    Mode::Tool => (None, false),
                };
                if !matches!(op, CartOp::Checkout) && !matches!(mode, Mode::Redo(..)) {
                    // Decided here, written by the conversation's log with its events.
                    let a = &state.args;
                    let Decided { result, cart } = a.service.decide_unsaved(&a.tenant, &a.conversation, &state.cart, &op).await;
                    let unavailable = matches!(&result, Err(f) if f.code == ErrorCode::Unavailable);
                    // A shopper's command is recorded with the cart even when refused
                    // (its `ack` moves the cart's `applied_seq`); a tool call only when
                    // it changed something.
                    let save = (!unavailable && ((shopper && op.changes_cart()) || cart != state.cart)).then(|| cart.clone());
                    state.unsaved |= save.is_some();
                    state.cart = cart;
                    let done = ConvMsg::CartDone {
                        command,
                        result: result.clone(),
                        stuck: false,
                        save,
                        acked: false,
                        applied_seq: state.cart.applied_seq,
                    };
                    let _ = notify.send_message(done);
                    if let Some(reply) = reply {
                        let _ = reply.send(result);
                    }
                    return Ok(());
                }
                // Applied and saved here. First, every cart decided before is durable
                // (and a shopper's checkout acknowledged), so this write never lands
                // before an older one and the cart knows the `seq` it has applied.
                let seq = match &mode {
                    Mode::Redo(_, seq) => Some(*seq),
                    Mode::Shopper(id) => {
                        let body = serde_json::to_string(&op).ok();
                        let ack = Some((id.clone(), body));
                        match ractor::call!(notify, |reply| ConvMsg::Checkpoint { ack, reply }) {
                            Ok(Checkpointed { ack, applied }) => {
                                state.cart.applied_seq = state.cart.applied_seq.max(applied);
                                state.unsaved = false;
                                ack
                            }
                            // The conversation could not write the ack: it is stopping,
                            // and this command was never acknowledged.
                            Err(_) => return Ok(()),
                        }
                    }
                    Mode::Tool if state.unsaved => match ractor::call!(notify, |reply| ConvMsg::Checkpoint { ack: None, reply }) {
                        Ok(Checkpointed { applied, .. }) => {
                            state.cart.applied_seq = state.cart.applied_seq.max(applied);
                            state.unsaved = false;
                            None
                        }
                        Err(_) => {
                            if let Some(reply) = reply {
                                let _ = reply.send(Err(CartFailure::new(ErrorCode::Unavailable, "the cart is unavailable right now")));
                            }
                            return Ok(());
                        }
                    },
                    Mode::Tool => None,
                };
                let a = &state.args;
                // An acknowledged command must be applied. A store that does not
                // answer is tried again a few times; after that the conversation stops
                // and its next incarnation applies the command.
                let mut delay = Duration::from_millis(25);
                let mut tries = 0;
                let Applied { result, cart } = loop {
                    tries += 1;
                    let applied = a.service.apply(&a.tenant, &a.conversation, &state.cart, &op, seq).await;
                    let unavailable = matches!(&applied.result, Err(f) if f.code == ErrorCode::Unavailable);
                    if unavailable && seq.is_some() && tries < STORE_TRIES {
                        tokio::time::sleep(delay).await;
                        delay *= 4;
                        continue;
                    }
                    break applied;
                };
                state.cart = cart;
                let stuck = seq.is_some() && matches!(&result, Err(f) if f.code == ErrorCode::Unavailable);
                let done = ConvMsg::CartDone {
                    command,
                    result: result.clone(),
                    stuck,
                    save: None,
                    acked: true,
                    applied_seq: state.cart.applied_seq,
                };
                let _ = notify.send_message(done);
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
        }
        Ok(())
    }
}
