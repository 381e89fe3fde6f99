//! `CartActor`: one per conversation's cart. It serialises every change of that cart,
//! validates it against the catalog (through `engine::carts::CartService`), persists it
//! with the command id in the same transaction, and only then replies. The store is
//! the truth: a restarted cart actor loads its cart from it.

use std::sync::Arc;

use engine::carts::{CartFailure, CartOp, CartOutcome, CartService, cart_after};
use engine::domain::{Cart, CommandId, ConversationId, Currency, TenantId};
use crate::conversation::ConvMsg;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub enum CartMsg {
    /// Applies `op`. The outcome always goes to the conversation (`notify`), which turns
    /// it into `cart`/`order`/`error` events in the cart's own order; a turn that needs
    /// the result also passes `reply`.
    Apply {
        op: CartOp,
        command: Option<CommandId>,
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
                // No command record in the cart write: the conversation forwards a command
                // only after its ack is durable, and never forwards an acked id again.
                let result = a.service.apply(&a.tenant, &a.conversation, &state.cart, &op, None).await;
                if let Some(cart) = cart_after(&result) {
                    state.cart = cart.clone();
                }
                let _ = notify.send_message(ConvMsg::CartDone { command, result: result.clone() });
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
        }
        Ok(())
    }
}
