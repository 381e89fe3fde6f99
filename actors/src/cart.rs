//! `CartActor`: one per conversation's cart. It serialises every change of that cart,
//! validates it against the catalog (through `engine::carts::CartService`), persists it
//! — with the `seq` of the shopper command's `ack` as the cart's `applied_seq` — and
//! only then replies. The store is the truth: a restarted cart actor loads its cart
//! from it, and the conversation re-applies the acknowledged commands above its
//! `applied_seq` (ARCHITECTURE.md, "acknowledged means applied, exactly once").

use std::sync::Arc;
use std::time::Duration;

use engine::carts::{Applied, CartFailure, CartOp, CartOutcome, CartService};
use engine::domain::{Cart, CommandId, ConversationId, Currency, TenantId};
use engine::events::ErrorCode;
use crate::conversation::ConvMsg;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

/// Tries of a shopper command whose write the store did not take, before the
/// conversation gives up and is rebuilt from the store (which applies it then).
const STORE_TRIES: u32 = 4;

pub enum CartMsg {
    /// Applies `op`. The outcome always goes to the conversation (`notify`), which turns
    /// it into `cart`/`order`/`error` events in the cart's own order; a turn that needs
    /// the result also passes `reply`. `command` is a shopper command's id and the
    /// `seq` of its durable `ack`.
    Apply {
        op: CartOp,
        command: Option<(CommandId, i64)>,
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
    cart: Cart,
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
        Ok(CartState { args, cart })
    }

    // Awaiting the store here is the point: it is what serialises one cart's changes.
    // Only this cart's mailbox waits; no model call ever happens here.
    async fn handle(&self, _myself: ActorRef<CartMsg>, msg: CartMsg, state: &mut CartState) -> Result<(), ActorProcessingErr> {
        match msg {
            CartMsg::Get(reply) => {
                let _ = reply.send(state.cart.clone());
            }
            CartMsg::Apply { op, command, notify, reply } => {
                let a = &state.args;
                let seq = command.as_ref().map(|(_, seq)| *seq);
                // A shopper command's ack is already out: it must be applied. A store
                // that does not answer is tried again a few times; after that the
                // conversation stops and its next incarnation applies the command.
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
                let _ = notify.send_message(ConvMsg::CartDone { command: command.map(|(id, _)| id), result: result.clone(), stuck });
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
        }
        Ok(())
    }
}
