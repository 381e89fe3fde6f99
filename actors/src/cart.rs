//! `CartActor`: one per conversation's cart. It serialises every change of that cart,
//! validates it against the catalog (through `engine::carts::CartService`), persists it
//! with the command id in the same transaction, and only then replies. The store is
//! the truth: a restarted cart actor loads its cart from it.

use std::sync::Arc;

use engine::carts::{CartFailure, CartOp, CartOutcome, CartService};
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
                let result = a.service.apply(&a.tenant, &a.conversation, &state.cart, &op, command.as_ref()).await;
                let result = match result {
                    Ok(outcome) => {
                        state.cart = outcome.cart().clone();
                        Ok(outcome)
                    }
                    Err(f) if f.code == engine::events::ErrorCode::Unavailable => {
                        // A conflict on the command id means it was applied before (a
                        // crash between the write and the reply): reload and report the cart.
                        let applied = match &command {
                            Some(cmd) => a.service.store().cart_command(&a.tenant, &a.conversation, cmd).await.ok().flatten().is_some(),
                            None => false,
                        };
                        if applied {
                            state.cart = a.service.load(&a.tenant, &a.conversation, a.currency).await?;
                            Ok(CartOutcome::Cart(state.cart.clone()))
                        } else {
                            Err(f)
                        }
                    }
                    Err(f) => Err(f),
                };
                let _ = notify.send_message(ConvMsg::CartDone { command, result: result.clone() });
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
        }
        Ok(())
    }
}
