//! One assistant turn: the model streams text and tool calls; the pipeline forwards
//! the text as `assistant.delta` events as it arrives, executes each tool call through
//! [`TurnEffects`] (the cart actor, in production) in the order given, feeds the
//! results back, and ends the turn with the whole reply.
//!
//! Whatever model answers, this is the only path from a shopper's words to a cart
//! change, so every rule of the cart applies to the assistant too.

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;

use crate::carts::{CartFailure, CartOp, CartOutcome};
use crate::catalog::CatalogSnapshot;
use crate::domain::{Cart, ProductId, TenantId};
use crate::events::{ErrorCode, Event};
use crate::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelError, ModelRequest, TokenUsage, ToolCall};
use crate::ports::retriever::{Retriever, SearchFilters, SearchQuery};
use crate::ports::store::TenantSettings;
use crate::turn::DialogueState;
use crate::turn::tools::{Tool, ToolResult};
use crate::views::{CartView, ProductView};

/// Model rounds per turn at most (a round = one model call and its tool calls).
pub const MAX_ROUNDS: usize = 5;
/// Tool calls per turn at most; more are answered with an error, not executed.
pub const MAX_TOOL_CALLS: usize = 12;
/// Products retrieved for a remote model's prompt before its first round.
pub const PROMPT_PRODUCTS: usize = 6;
/// The earlier conversation a remote model is sent, in approximate tokens (4 bytes of
/// text a token); older messages are left out (newest kept whole).
pub const HISTORY_TOKEN_BUDGET: usize = 2_000;

/// What the shopper reads when no model could answer.
pub const UNAVAILABLE_REPLY: &str = "Sorry, I can't answer right now. You can still use your cart.";
/// Where a remote model's cut-off answer meets the fallback's: the shopper reads one
/// answer with a visible seam, never half a sentence running into another voice.
pub const CUT_OFF_SEAM: &str = "Sorry, I was cut off. ";

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
    /// The summary of the conversation's older messages (`turn::summary`), put before
    /// the history a remote model is sent when that history had to be cut.
    pub summary: Option<String>,
}

pub struct TurnOutcome {
    pub reply: String,
    pub dialogue: DialogueState,
    /// Tokens the models of this turn used (a remote model's; zero for the offline one).
    pub usage: TokenUsage,
    /// The model whose answer ended the turn (`groq`, `offline`).
    pub answered_by: &'static str,
    /// The first model failed and the fallback finished the turn.
    pub fell_back: bool,
}

impl TurnOutcome {
    /// A turn that could not start (the shop was unavailable): only an apology.
    pub fn apology(reply: String, dialogue: DialogueState) -> Self {
        TurnOutcome { reply, dialogue, usage: TokenUsage::default(), answered_by: "none", fell_back: false }
    }
}

/// Runs one turn to its end with one model. Never fails: a model error ends the turn
/// with an apology.
pub async fn run_turn(
    model: &dyn LanguageModel,
    retriever: &dyn Retriever,
    effects: &dyn TurnEffects,
    input: TurnInput,
) -> TurnOutcome {
    run_turn_with_fallback(model, None, retriever, effects, input).await
}

/// Runs one turn to its end: `primary` answers (Groq), and when it fails — before its
/// first word or in the middle of its answer — `fallback` (the offline assistant)
/// finishes the turn from where it stopped: the tool results so far stay, and text
/// already streamed is closed with [`CUT_OFF_SEAM`] before the fallback speaks. Never
/// fails: when no model can answer, the shopper reads [`UNAVAILABLE_REPLY`].
pub async fn run_turn_with_fallback(
    primary: &dyn LanguageModel,
    fallback: Option<&dyn LanguageModel>,
    retriever: &dyn Retriever,
    effects: &dyn TurnEffects,
    input: TurnInput,
) -> TurnOutcome {
    let turn = input.turn;
    effects.emit(Event::AssistantStart { turn }).await;
    let mut run = TurnRun::new(&input, retriever, effects);
    if !primary.reads_catalog() {
        run.history_within_budget();
        run.retrieve_for_prompt().await;
    }
    run.messages.push(ChatMessage::User { content: input.text.clone() });
    let mut answered_by = primary.name();
    let mut fell_back = false;
    if let Err(failed) = run.rounds(primary).await {
        tracing::warn!(model = primary.name(), error = %failed.error, "model failed; finishing the turn without it");
        if failed.spoke {
            run.say(seam(&run.reply)).await;
        }
        match fallback {
            Some(f) => {
                fell_back = true;
                answered_by = f.name();
                if let Err(e) = run.rounds(f).await {
                    tracing::warn!(model = f.name(), error = %e.error, "the fallback model failed too");
                    if !e.spoke {
                        run.say(UNAVAILABLE_REPLY.to_string()).await;
                    }
                }
            }
            None if failed.spoke => run.say("Please ask me again.".to_string()).await,
            None => run.say(UNAVAILABLE_REPLY.to_string()).await,
        }
    }
    effects.emit(Event::AssistantEnd { turn, text: run.reply.clone() }).await;
    TurnOutcome { reply: run.reply, dialogue: run.dialogue, usage: run.usage, answered_by, fell_back }
}

/// The seam after a cut-off answer: an unfinished sentence gets an ellipsis.
fn seam(reply: &str) -> String {
    let trimmed = reply.trim_end();
    let ends_sentence = trimmed.ends_with(['.', '!', '?', '…', ':', ')']);
    let mut s = String::new();
    if !trimmed.is_empty() && !ends_sentence {
        s.push('…');
    }
    if !reply.ends_with(char::is_whitespace) {
        s.push(' ');
    }
    s.push_str(CUT_OFF_SEAM);
    s
}

/// Why `rounds` stopped early.
struct Failed {
    error: ModelError,
    /// The failing model had already streamed text to the shopper in this turn.
    spoke: bool,
}

/// One turn in progress: what it has said, done and been shown.
struct TurnRun<'a> {
    input: &'a TurnInput,
    retriever: &'a dyn Retriever,
    effects: &'a dyn TurnEffects,
    dialogue: DialogueState,
    cart: Cart,
    messages: Vec<ChatMessage>,
    reply: String,
    calls_made: usize,
    rounds_left: usize,
    /// For a remote model: the products retrieved for its prompt.
    products: Vec<ProductView>,
    /// The products a remote model may name: those it was shown in this turn (the
    /// prompt's, its searches' and recommendations') and the cart's.
    shown: HashSet<ProductId>,
    usage: TokenUsage,
}

impl<'a> TurnRun<'a> {
    fn new(input: &'a TurnInput, retriever: &'a dyn Retriever, effects: &'a dyn TurnEffects) -> Self {
        TurnRun {
            input,
            retriever,
            effects,
            dialogue: input.dialogue.clone(),
            cart: input.cart.clone(),
            messages: input.history.clone(),
            reply: String::new(),
            calls_made: 0,
            rounds_left: MAX_ROUNDS,
            products: Vec::new(),
            shown: HashSet::new(),
            usage: TokenUsage::default(),
        }
    }

    /// Streams a piece of text to the shopper as part of the reply.
    async fn say(&mut self, text: String) {
        self.reply.push_str(&text);
        self.effects.emit(Event::AssistantDelta { turn: self.input.turn, text }).await;
    }

    /// Keeps the newest history within [`HISTORY_TOKEN_BUDGET`] (whole messages).
    fn history_within_budget(&mut self) {
        let mut budget = HISTORY_TOKEN_BUDGET * 4;
        let mut keep = 0;
        for m in self.messages.iter().rev() {
            let size = match m {
                ChatMessage::System { content } | ChatMessage::User { content } => content.len(),
                ChatMessage::Assistant { content, tool_calls } => {
                    content.len() + tool_calls.iter().map(|c| c.arguments.to_string().len() + c.name.len()).sum::<usize>()
                }
                ChatMessage::Tool { content, .. } => content.len(),
            };
            if size > budget {
                break;
            }
            budget -= size;
            keep += 1;
        }
        let drop = self.messages.len() - keep;
        self.messages.drain(..drop);
        // A tool result without the call it answers is not a valid conversation.
        while matches!(self.messages.first(), Some(ChatMessage::Tool { .. })) {
            self.messages.remove(0);
        }
        if drop > 0
            && let Some(summary) = &self.input.summary
        {
            let content = format!("Summary of the conversation before the messages below:\n{summary}");
            self.messages.insert(0, ChatMessage::System { content });
        }
    }

    /// The products a remote model's prompt lists: those the shopper last saw (so "the
    /// second one" means something to it), then what retrieval finds for the message.
    async fn retrieve_for_prompt(&mut self) {
        let input = self.input;
        let mut ids: Vec<ProductId> = input.dialogue.last_products.iter().take(PROMPT_PRODUCTS).cloned().collect();
        let query = SearchQuery { text: input.text.clone(), filters: SearchFilters::default(), limit: PROMPT_PRODUCTS };
        match self.retriever.search(&input.tenant, &query).await {
            Ok(hits) => ids.extend(hits.iter().map(|h| h.product.id.clone())),
            Err(e) => tracing::warn!(error = %e, "retrieval for the prompt failed"),
        }
        let mut seen = HashSet::new();
        for id in ids {
            if seen.insert(id.clone())
                && let Some(p) = input.catalog.product(&id)
            {
                self.products.push(ProductView::for_shopper(p.as_ref()));
                self.shown.insert(id);
            }
        }
    }

    /// Runs model rounds until the model answers without tool calls, the rounds are
    /// used up, or the model fails.
    async fn rounds(&mut self, model: &dyn LanguageModel) -> Result<(), Failed> {
        let turn = self.input.turn;
        let remote = !model.reads_catalog();
        while self.rounds_left > 0 {
            self.rounds_left -= 1;
            let request = ModelRequest {
                tenant: self.input.tenant.clone(),
                settings: self.input.settings.clone(),
                messages: self.messages.clone(),
                cart: self.cart.clone(),
                catalog: self.input.catalog.clone(),
                dialogue: self.dialogue.clone(),
                products: if remote { self.products.clone() } else { Vec::new() },
            };
            let mut round_text = String::new();
            let mut calls: Vec<ToolCall> = Vec::new();
            let mut stream = match model.stream(request).await {
                Ok(s) => s,
                Err(error) => return Err(Failed { error, spoke: false }),
            };
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(ModelChunk::Text(t)) if !t.is_empty() => {
                        round_text.push_str(&t);
                        self.say(t).await;
                    }
                    Ok(ModelChunk::Text(_)) => {}
                    Ok(ModelChunk::ToolCall(c)) => calls.push(c),
                    Ok(ModelChunk::Memory(m)) => self.dialogue.memory = m,
                    Ok(ModelChunk::Usage(u)) => {
                        self.usage.prompt_tokens += u.prompt_tokens;
                        self.usage.completion_tokens += u.completion_tokens;
                    }
                    Err(error) => {
                        // Tool calls of a broken round are never executed.
                        return Err(Failed { error, spoke: !round_text.is_empty() });
                    }
                }
            }
            if calls.is_empty() {
                return Ok(());
            }
            self.messages.push(ChatMessage::Assistant { content: round_text, tool_calls: calls.clone() });
            for call in calls {
                self.calls_made += 1;
                let result = if self.calls_made > MAX_TOOL_CALLS {
                    refusal(ErrorCode::BadRequest, "too many tool calls in one turn")
                } else if remote && let Some(refused) = self.refuse_remote(&call) {
                    refused
                } else {
                    execute(&call, turn, self.input, self.retriever, self.effects, &mut self.cart, &mut self.dialogue).await
                };
                if remote && let ToolResult::Products { items } = &result {
                    self.shown.extend(items.iter().filter_map(|p| ProductId::parse(&p.id).ok()));
                }
                self.messages.push(ChatMessage::Tool { tool_call_id: call.id.clone(), content: result.to_content() });
            }
        }
        Ok(())
    }

    /// What a remote model may not do, whatever it was told: name a product it was not
    /// shown in this turn (nor in the cart), or check out when the shopper did not ask.
    fn refuse_remote(&self, call: &ToolCall) -> Option<ToolResult> {
        let tool = Tool::parse(&call.name, &call.arguments).ok()?;
        let named: Vec<&ProductId> = match &tool {
            Tool::AddToCart(a) | Tool::SetQuantity(a) => vec![&a.product_id],
            Tool::RemoveFromCart { product_id, .. } => vec![product_id],
            Tool::ShowProducts { product_ids } | Tool::RecommendProducts { product_ids, .. } => product_ids.iter().collect(),
            Tool::SearchProducts(_) | Tool::ViewCart {} => Vec::new(),
            Tool::Checkout {} => {
                return (!asks_to_check_out(&self.input.text)).then(|| {
                    refusal(
                        ErrorCode::BadRequest,
                        "checkout is only done when the shopper asks to check out or buy; ask them first",
                    )
                });
            }
        };
        let in_cart = |id: &ProductId| self.cart.lines.iter().any(|l| &l.product_id == id);
        named.into_iter().find(|id| !self.shown.contains(*id) && !in_cart(id)).map(|id| ToolResult::Error {
            code: ErrorCode::NotFound,
            message: format!("no product {id} was shown in this conversation; search for it first"),
            product_id: None,
            options: Vec::new(),
        })
    }
}

fn refusal(code: ErrorCode, message: &str) -> ToolResult {
    ToolResult::Error { code, message: message.into(), product_id: None, options: Vec::new() }
}

/// Whether the shopper's own words ask to check out (or buy, pay, place the order), in
/// the languages Aisle's shops speak; a negation ("don't check out yet") is not asking.
pub fn asks_to_check_out(text: &str) -> bool {
    let t = text.to_lowercase();
    let words: Vec<&str> = t.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’').filter(|w| !w.is_empty()).collect();
    const NEGATIONS: &[&str] = &["don't", "dont", "don’t", "not", "never", "no", "nicht", "kein", "pas", "inte", "ne", "non"];
    /// Word sequences that ask to check out (a phrase of one word or more).
    const ASKS: &[&[&str]] = &[
        &["checkout"], &["check", "out"], &["pay"],
        &["buy", "it"], &["buy", "them"], &["buy", "this"], &["buy", "these"], &["buy", "that"], &["buy", "now"],
        &["buy", "everything"], &["buy", "all"], &["purchase", "it"], &["purchase", "now"],
        &["complete", "the", "purchase"], &["complete", "my", "purchase"],
        &["place", "the", "order"], &["place", "my", "order"], &["place", "an", "order"], &["place", "order"],
        &["order", "it"], &["order", "them"], &["order", "this"], &["order", "that"], &["order", "now"],
        &["complete", "my", "order"], &["complete", "the", "order"],
        &["kasse"], &["bezahlen"], &["jetzt", "kaufen"], &["jetzt", "bestellen"], // de
        &["pagar"], &["finalizar", "compra"], &["realizar", "pedido"], // es, pt
        &["payer"], &["passer", "commande"], &["valider", "mon", "panier"], // fr
        &["betala"], &["kassan"], &["slutför", "köpet"], // sv
        &["pagare"], &["procedi", "all'ordine"], // it
    ];
    for i in 0..words.len() {
        let hit = ASKS.iter().any(|phrase| words[i..].starts_with(phrase));
        if hit {
            let before = &words[i.saturating_sub(3)..i];
            if !before.iter().any(|b| NEGATIONS.contains(b)) {
                return true;
            }
        }
    }
    false
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
