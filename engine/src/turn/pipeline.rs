//! One assistant turn: the model streams text and tool calls; the pipeline forwards
//! the text as `assistant.delta` events as it arrives, executes each tool call through
//! [`TurnEffects`] (the cart actor, in production) in the order given, feeds the
//! results back, and ends the turn with the whole reply.
//!
//! Whatever model answers, this is the only path from a shopper's words to a cart
//! change, so every rule of the cart applies to the assistant too.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;

use crate::carts::{CartFailure, CartOp, CartOutcome};
use crate::catalog::CatalogSnapshot;
use crate::domain::{Cart, ProductId, TenantId};
use crate::events::{ErrorCode, Event};
use crate::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelRequest, ToolCall};
use crate::ports::retriever::{Retriever, SearchFilters, SearchQuery};
use crate::ports::store::TenantSettings;
use crate::turn::DialogueState;
use crate::turn::tools::{Tool, ToolResult};
use crate::views::{CartView, ProductView};

/// Model rounds per turn at most (a round = one model call and its tool calls).
pub const MAX_ROUNDS: usize = 4;
/// Tool calls per turn at most; more are answered with an error, not executed.
pub const MAX_TOOL_CALLS: usize = 12;

/// What a turn may do to the world. Implemented by the conversation actor.
#[async_trait]
pub trait TurnEffects: Send + Sync {
    /// Emits an event to the conversation (it assigns the `seq`).
    async fn emit(&self, event: Event);
    /// Applies a cart operation exactly as a shopper's command would be.
    async fn cart(&self, op: CartOp) -> Result<CartOutcome, CartFailure>;
}

pub struct TurnInput {
    pub tenant: TenantId,
    pub settings: TenantSettings,
    pub turn: u64,
    /// Earlier messages of the conversation (without this turn's text).
    pub history: Vec<ChatMessage>,
    pub text: String,
    pub cart: Cart,
    pub catalog: Arc<CatalogSnapshot>,
    pub dialogue: DialogueState,
}

pub struct TurnOutcome {
    pub reply: String,
    pub dialogue: DialogueState,
}

/// Runs one turn to its end. Never fails: a model error ends the turn with an apology
/// (the caller may first try another model; see `run_turn_with_fallback`).
pub async fn run_turn(
    model: &dyn LanguageModel,
    retriever: &dyn Retriever,
    effects: &dyn TurnEffects,
    input: TurnInput,
) -> TurnOutcome {
    let turn = input.turn;
    effects.emit(Event::AssistantStart { turn }).await;
    let mut dialogue = input.dialogue.clone();
    let mut cart = input.cart.clone();
    let mut messages = input.history.clone();
    messages.push(ChatMessage::User { content: input.text.clone() });
    let mut reply = String::new();
    let mut calls_made = 0usize;

    for _round in 0..MAX_ROUNDS {
        let request = ModelRequest {
            tenant: input.tenant.clone(),
            settings: input.settings.clone(),
            messages: messages.clone(),
            cart: cart.clone(),
            catalog: input.catalog.clone(),
            dialogue: dialogue.clone(),
            products: Vec::new(),
        };
        let mut round_text = String::new();
        let mut calls: Vec<ToolCall> = Vec::new();
        match model.stream(request).await {
            Ok(mut stream) => {
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(ModelChunk::Text(t)) if !t.is_empty() => {
                            round_text.push_str(&t);
                            effects.emit(Event::AssistantDelta { turn, text: t }).await;
                        }
                        Ok(ModelChunk::Text(_)) => {}
                        Ok(ModelChunk::ToolCall(c)) => calls.push(c),
                        Ok(ModelChunk::Memory(m)) => dialogue.memory = m,
                        Ok(ModelChunk::Usage(_)) => {}
                        Err(e) => {
                            tracing::warn!(model = model.name(), error = %e, "model stream failed mid-turn");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(model = model.name(), error = %e, "model unavailable");
                if reply.is_empty() && round_text.is_empty() {
                    let sorry = "Sorry, I can't answer right now. You can still use your cart.".to_string();
                    effects.emit(Event::AssistantDelta { turn, text: sorry.clone() }).await;
                    round_text = sorry;
                }
            }
        }
        reply.push_str(&round_text);
        if calls.is_empty() {
            break;
        }
        messages.push(ChatMessage::Assistant { content: round_text, tool_calls: calls.clone() });
        for call in calls {
            calls_made += 1;
            let result = if calls_made > MAX_TOOL_CALLS {
                ToolResult::Error {
                    code: ErrorCode::BadRequest,
                    message: "too many tool calls in one turn".into(),
                    product_id: None,
                    options: Vec::new(),
                }
            } else {
                execute(&call, turn, &input, retriever, effects, &mut cart, &mut dialogue).await
            };
            messages.push(ChatMessage::Tool { tool_call_id: call.id.clone(), content: result.to_content() });
        }
    }
    effects.emit(Event::AssistantEnd { turn, text: reply.clone() }).await;
    TurnOutcome { reply, dialogue }
}

async fn execute(
    call: &ToolCall,
    turn: u64,
    input: &TurnInput,
    retriever: &dyn Retriever,
    effects: &dyn TurnEffects,
    cart: &mut Cart,
    dialogue: &mut DialogueState,
) -> ToolResult {
    let tool = match Tool::parse(&call.name, &call.arguments) {
        Ok(t) => t,
        Err(message) => {
            return ToolResult::Error { code: ErrorCode::BadRequest, message, product_id: None, options: Vec::new() };
        }
    };
    match tool {
        Tool::SearchProducts(args) => {
            let mut filters = SearchFilters {
                min_price_minor: args.min_price_minor,
                max_price_minor: args.max_price_minor,
                category: args.category.clone(),
                in_stock_only: args.in_stock_only,
                ..SearchFilters::default()
            };
            if let Some(c) = args.color {
                filters.options.insert("color".into(), c);
            }
            if let Some(s) = args.size {
                filters.options.insert("size".into(), s);
            }
            let query = SearchQuery { text: args.query, filters, limit: args.limit.unwrap_or(5).clamp(1, 20) as usize };
            match retriever.search(&input.tenant, &query).await {
                Ok(hits) => {
                    let items: Vec<ProductView> = hits.iter().map(|h| ProductView::for_shopper(h.product.as_ref())).collect();
                    show(turn, effects, dialogue, hits.iter().map(|h| h.product.id.clone()).collect(), items.clone()).await;
                    ToolResult::Products { items }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "retrieval failed in a turn");
                    ToolResult::Error { code: ErrorCode::Unavailable, message: "search is unavailable".into(), product_id: None, options: Vec::new() }
                }
            }
        }
        Tool::ShowProducts { product_ids } => {
            // Only this tenant's snapshot is consulted: another shop's id is simply unknown.
            let found: Vec<_> = product_ids.iter().filter_map(|id| input.catalog.product(id)).take(10).collect();
            let items: Vec<ProductView> = found.iter().map(|p| ProductView::for_shopper(p.as_ref())).collect();
            show(turn, effects, dialogue, found.iter().map(|p| p.id.clone()).collect(), items.clone()).await;
            ToolResult::Products { items }
        }
        Tool::RecommendProducts { product_ids, limit } => {
            // Only this tenant's snapshot is consulted, and never what the cart holds.
            let in_cart: Vec<ProductId> = cart.lines.iter().map(|l| l.product_id.clone()).collect();
            // Without ids: for the cart. Ids of no product of this shop: for nothing.
            let seeds: Vec<ProductId> = if product_ids.is_empty() {
                in_cart.clone()
            } else {
                product_ids.into_iter().filter(|id| input.catalog.product(id).is_some()).collect()
            };
            let limit = limit.unwrap_or(3).clamp(1, 10) as usize;
            match retriever.recommend(&input.tenant, &input.catalog, &seeds, &in_cart, limit).await {
                Ok(hits) => {
                    // Shown beside the reply, but not what "the second one" points to:
                    // `last_products` stays the list the shopper was choosing from.
                    let items: Vec<ProductView> = hits.iter().map(|h| ProductView::for_shopper(h.product.as_ref())).collect();
                    if !items.is_empty() {
                        effects.emit(Event::Products { turn, items: items.clone() }).await;
                    }
                    ToolResult::Products { items }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "recommendations failed in a turn");
                    ToolResult::Error { code: ErrorCode::Unavailable, message: "recommendations are unavailable".into(), product_id: None, options: Vec::new() }
                }
            }
        }
        Tool::AddToCart(a) => {
            cart_call(effects, cart, CartOp::Add { product_id: a.product_id, variant_id: a.variant_id, quantity: a.quantity }).await
        }
        Tool::SetQuantity(a) => {
            cart_call(effects, cart, CartOp::Set { product_id: a.product_id, variant_id: a.variant_id, quantity: a.quantity }).await
        }
        Tool::RemoveFromCart { product_id, variant_id } => {
            cart_call(effects, cart, CartOp::Remove { product_id, variant_id }).await
        }
        Tool::ViewCart {} => cart_call(effects, cart, CartOp::Get).await,
        Tool::Checkout {} => cart_call(effects, cart, CartOp::Checkout).await,
    }
}

async fn show(turn: u64, effects: &dyn TurnEffects, dialogue: &mut DialogueState, ids: Vec<ProductId>, items: Vec<ProductView>) {
    if items.is_empty() {
        return;
    }
    dialogue.last_products = ids;
    effects.emit(Event::Products { turn, items }).await;
}

async fn cart_call(effects: &dyn TurnEffects, cart: &mut Cart, op: CartOp) -> ToolResult {
    match effects.cart(op).await {
        Ok(CartOutcome::Cart { cart: c, .. }) => {
            *cart = c.clone();
            ToolResult::Cart { cart: CartView::from(&c) }
        }
        Ok(CartOutcome::Placed { order, cart: c }) => {
            *cart = c;
            ToolResult::Order { order_id: order.id.to_string(), total_minor: order.total_minor, currency: order.currency.to_string() }
        }
        Err(f) => {
            if let Some(c) = f.cart {
                // A checkout refused because prices or stock moved: the cart was updated.
                *cart = *c;
            }
            ToolResult::Error {
                code: f.code,
                message: f.message,
                product_id: f.product_id.map(|p| p.to_string()),
                options: f.options,
            }
        }
    }
}
