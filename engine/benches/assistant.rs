//! The offline assistant's time to first words under load: 1,000 concurrent
//! conversations with the demo shop, each running turns through the real turn
//! pipeline (`run_turn`) on a multi-thread tokio runtime, timed from the turn's start
//! to its first `assistant.delta`.
//!
//! Baseline in the same run: the same pipeline with a model that streams one fixed
//! piece, so the difference is the assistant's own cost (understanding, catalog
//! matching, retrieval, cart rules for the tool calls it makes).
//!
//! Two loads:
//! - `burst`: every conversation sends its message at the same instant (the worst
//!   case: 1,000 turns queue for the cores at once);
//! - `steady`: every conversation sends a message every 2 s on average (exponential
//!   gaps), a realistic shop with 1,000 shoppers typing at once, ~500 turns/s.
//!
//! Cart operations are applied in memory with the real `Cart` rules (what the cart
//! actor does, minus its store write), so the numbers are the engine's, not SQLite's.
//!
//! Run: `cargo bench -p engine --bench assistant` (release). Results: loadtests/ASSISTANT.md.
//! `AISLE_BENCH_PROFILE=<turns>` runs only that many turns one after another, for a
//! profiler (`perf record`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::stream;
use hdrhistogram::Histogram;

use engine_assistant::OfflineAssistant;
use engine::carts::{CartFailure, CartOp, CartOutcome};
use engine::catalog::{CatalogSnapshot, demo_catalog};
use engine::domain::{Cart, ConversationId, Currency, Order, OrderId, Quantity, SetQuantity, TenantId};
use engine::events::{ErrorCode, Event};
use engine::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelError, ModelRequest, ModelStream};
use engine::ports::retriever::{RetrievalError, Retriever, SearchHit, SearchQuery};
use engine::ports::store::TenantSettings;
use engine::retrieval::KeywordIndex;
use engine::turn::{DialogueState, TurnEffects, TurnInput, run_turn};

const CONVERSATIONS: usize = 1_000;
/// Turns per conversation in the steady load.
const STEADY_TURNS: usize = 8;
/// Mean gap between a conversation's messages in the steady load.
const STEADY_GAP: Duration = Duration::from_secs(2);

/// What shoppers say, in the order one conversation says it (each conversation starts
/// at a different place, so every kind of turn is in flight at once).
const SCRIPT: &[&str] = &[
    "hi, do you have hoodies?",
    "how much is the Hero Hoodie?",
    "add 2 Hero Hoodie M Black",
    "show me women's jackets under $60",
    "tell me about the second one",
    "add the Fusion Backpack and 2 water bottles",
    "what's in my cart?",
    "make that 3",
    "remove the water bottles",
    "what's the cheapest watch?",
    "I need a bag for my laptop",
    "add the Josie jacket",
    "small, blue",
    "how many items are in my cart?",
    "check out",
];

struct ShopRetriever {
    catalog: Arc<CatalogSnapshot>,
    index: KeywordIndex,
}

#[async_trait]
impl Retriever for ShopRetriever {
    async fn recommend(
        &self,
        _tenant: &engine::domain::TenantId,
        catalog: &engine::catalog::CatalogSnapshot,
        for_products: &[engine::domain::ProductId],
        exclude: &[engine::domain::ProductId],
        limit: usize,
    ) -> Result<Vec<engine::ports::retriever::SearchHit>, engine::ports::retriever::RetrievalError> {
        Ok(engine::retrieval::recommend::recommend(catalog, for_products, exclude, limit))
    }

    async fn search(&self, _: &TenantId, q: &SearchQuery) -> Result<Vec<SearchHit>, RetrievalError> {
        Ok(self.index.hits(&self.catalog, q))
    }
}

/// The baseline model: one fixed piece, no tool calls.
struct Fixed;

#[async_trait]
impl LanguageModel for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }
    /// Timed like the offline assistant: no retrieval for a remote prompt.
    fn reads_catalog(&self) -> bool {
        true
    }
    async fn stream(&self, _: ModelRequest) -> Result<ModelStream, ModelError> {
        Ok(Box::pin(stream::iter([Ok(ModelChunk::Text("Hello from the baseline.".to_string()))])))
    }
}

/// A conversation's effects: the cart in memory, and the time of the turn's first delta.
struct Effects {
    catalog: Arc<CatalogSnapshot>,
    cart: Mutex<Cart>,
    started: Instant,
    first_delta_us: AtomicU64,
}

#[async_trait]
impl TurnEffects for Effects {
    async fn emit(&self, event: Event) {
        if matches!(event, Event::AssistantDelta { .. }) {
            let us = self.started.elapsed().as_micros() as u64;
            let _ = self.first_delta_us.compare_exchange(0, us.max(1), Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    async fn cart(&self, op: CartOp) -> Result<CartOutcome, CartFailure> {
        let mut cart = self.cart.lock().unwrap();
        let product = |id| self.catalog.product(id).cloned().ok_or_else(|| CartFailure::new(ErrorCode::NotFound, "no such product"));
        let next = match &op {
            CartOp::Get => return Ok(CartOutcome::from(cart.clone())),
            CartOp::Add { product_id, variant_id, quantity } => {
                let q = Quantity::parse(*quantity).map_err(CartFailure::from)?;
                let p = product(product_id)?;
                cart.add(&p, variant_id.as_ref(), q).map_err(CartFailure::from)?
            }
            CartOp::Set { product_id, variant_id, quantity } => {
                let q = SetQuantity::parse(*quantity).map_err(CartFailure::from)?;
                let p = product(product_id)?;
                cart.set(&p, variant_id.as_ref(), q).map_err(CartFailure::from)?
            }
            CartOp::Remove { product_id, variant_id } => cart.remove(product_id, variant_id.as_ref()).map_err(CartFailure::from)?,
            CartOp::Checkout => {
                if cart.is_empty() {
                    return Err(CartFailure::new(ErrorCode::EmptyCart, "empty"));
                }
                let order = Order {
                    id: OrderId::generate(),
                    tenant_id: TenantId::parse("t_demo").unwrap(),
                    conversation_id: ConversationId::generate(),
                    lines: cart.lines.clone(),
                    total_minor: cart.subtotal_minor(),
                    currency: cart.currency,
                    status: "placed".into(),
                    created_at: chrono::Utc::now(),
                };
                *cart = cart.cleared();
                return Ok(CartOutcome::Placed { order, cart: cart.clone() });
            }
        };
        *cart = next;
        Ok(CartOutcome::from(cart.clone()))
    }
}

struct Shop {
    tenant: TenantId,
    catalog: Arc<CatalogSnapshot>,
    retriever: Arc<ShopRetriever>,
    settings: TenantSettings,
}

/// One conversation's state between turns.
struct Conversation {
    cart: Cart,
    dialogue: DialogueState,
    history: Vec<ChatMessage>,
    turn: u64,
}

/// Runs one turn for a message that arrived at `arrived`; returns the microseconds
/// from then to the turn's first delta (so time spent waiting for a core counts).
async fn turn_at(shop: &Shop, model: &dyn LanguageModel, conv: &mut Conversation, text: &str, arrived: Instant) -> u64 {
    conv.turn += 1;
    let effects = Effects {
        catalog: shop.catalog.clone(),
        cart: Mutex::new(conv.cart.clone()),
        started: arrived,
        first_delta_us: AtomicU64::new(0),
    };
    let input = TurnInput {
        tenant: shop.tenant.clone(),
        settings: shop.settings.clone(),
        turn: conv.turn,
        history: conv.history.clone(),
        text: text.to_string(),
        cart: conv.cart.clone(),
        catalog: shop.catalog.clone(),
        dialogue: conv.dialogue.clone(),
        summary: None,
    };
    let out = run_turn(model, shop.retriever.as_ref(), &effects, input).await;
    conv.dialogue = out.dialogue;
    conv.cart = effects.cart.into_inner().unwrap();
    conv.history.push(ChatMessage::User { content: text.to_string() });
    conv.history.push(ChatMessage::Assistant { content: out.reply, tool_calls: Vec::new() });
    // Keep the history bounded, as the conversation actor does.
    if conv.history.len() > 20 {
        conv.history.drain(..2);
    }
    effects.first_delta_us.load(Ordering::Relaxed)
}

async fn turn(shop: &Shop, model: &dyn LanguageModel, conv: &mut Conversation, text: &str) -> u64 {
    turn_at(shop, model, conv, text, Instant::now()).await
}

fn new_conversation() -> Conversation {
    Conversation { cart: Cart::empty(Currency::USD), dialogue: DialogueState::default(), history: Vec::new(), turn: 0 }
}

/// Every conversation sends one message at the same instant (after three turns of
/// history each): the time is counted from that instant.
async fn burst(shop: Arc<Shop>, model: Arc<dyn LanguageModel>) -> Histogram<u64> {
    let start = Arc::new(tokio::sync::Barrier::new(CONVERSATIONS));
    let go = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut tasks = Vec::new();
    for c in 0..CONVERSATIONS {
        let (shop, model, start, go) = (shop.clone(), model.clone(), start.clone(), go.clone());
        tasks.push(tokio::spawn(async move {
            let mut conv = new_conversation();
            // A few turns of history first, so the measured turn has context.
            for k in 0..3 {
                turn(&shop, model.as_ref(), &mut conv, SCRIPT[(c + k) % SCRIPT.len()]).await;
            }
            start.wait().await;
            let arrived = *go.get_or_init(Instant::now);
            turn_at(&shop, model.as_ref(), &mut conv, SCRIPT[(c + 3) % SCRIPT.len()], arrived).await
        }));
    }
    let mut h = Histogram::<u64>::new(3).unwrap();
    for t in tasks {
        h.record(t.await.unwrap()).unwrap();
    }
    h
}

/// Every conversation sends a message every `STEADY_GAP` on average.
async fn steady(shop: Arc<Shop>, model: Arc<dyn LanguageModel>) -> Histogram<u64> {
    let mut tasks = Vec::new();
    for c in 0..CONVERSATIONS {
        let (shop, model) = (shop.clone(), model.clone());
        tasks.push(tokio::spawn(async move {
            let mut seed = (c as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut gap = move || {
                // xorshift, then an exponential gap with the wanted mean.
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
                STEADY_GAP.mul_f64(-(1.0 - u).ln())
            };
            let mut conv = new_conversation();
            let mut out = Vec::with_capacity(STEADY_TURNS);
            // The message is due at a fixed time; a late wake-up counts against the turn.
            let mut due = Instant::now() + gap();
            for k in 0..STEADY_TURNS {
                tokio::time::sleep_until(due.into()).await;
                out.push(turn_at(&shop, model.as_ref(), &mut conv, SCRIPT[(c + k) % SCRIPT.len()], due).await);
                due = due.max(Instant::now()) + gap();
            }
            out
        }));
    }
    let mut h = Histogram::<u64>::new(3).unwrap();
    for t in tasks {
        for us in t.await.unwrap() {
            h.record(us).unwrap();
        }
    }
    h
}

fn row(load: &str, model: &str, h: &Histogram<u64>) -> String {
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    format!(
        "| {load} | {model} | {} | {} | {} | {} | {} |",
        h.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max())
    )
}

fn main() {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(threads).enable_all().build().unwrap();
    let tenant = TenantId::parse("t_demo").unwrap();
    let catalog = Arc::new(CatalogSnapshot::new(1, demo_catalog(&tenant).products));
    let retriever = Arc::new(ShopRetriever { index: KeywordIndex::build(&catalog), catalog: catalog.clone() });
    let shop = Arc::new(Shop {
        tenant,
        catalog,
        retriever: retriever.clone(),
        settings: TenantSettings { bot_name: "Luma".into(), ..TenantSettings::default() },
    });
    let offline: Arc<dyn LanguageModel> = Arc::new(OfflineAssistant::new(retriever));
    let fixed: Arc<dyn LanguageModel> = Arc::new(Fixed);

    // One turn alone, to take the catalog index out of the measured runs (it is built
    // once per catalog version, on the tenant's first turn).
    rt.block_on(async {
        let mut conv = new_conversation();
        turn(&shop, offline.as_ref(), &mut conv, "hi").await;
    });

    // `AISLE_BENCH_PROFILE=n`: only n turns one at a time, for a profiler.
    if let Some(n) = std::env::var("AISLE_BENCH_PROFILE").ok().and_then(|v| v.parse::<usize>().ok()) {
        rt.block_on(async {
            let mut conv = new_conversation();
            for k in 0..n {
                if k % SCRIPT.len() == 0 {
                    conv = new_conversation();
                }
                turn(&shop, offline.as_ref(), &mut conv, SCRIPT[k % SCRIPT.len()]).await;
            }
        });
        return;
    }
    println!("{CONVERSATIONS} conversations on {threads} worker threads; time to first delta in ms\n");
    println!("| load | model | turns | p50 | p99 | p99.9 | max |");
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for (load, steady_load) in [("burst", false), ("steady", true)] {
        for (name, model) in [("baseline (fixed delta)", &fixed), ("offline assistant", &offline)] {
            let h = rt.block_on(if steady_load {
                Box::pin(steady(shop.clone(), model.clone())) as std::pin::Pin<Box<dyn std::future::Future<Output = _>>>
            } else {
                Box::pin(burst(shop.clone(), model.clone()))
            });
            println!("{}", row(load, name, &h));
        }
    }
    // The assistant's own cost per turn, with nothing else running.
    let per_turn = rt.block_on(async {
        let mut conv = new_conversation();
        let mut h = Histogram::<u64>::new(3).unwrap();
        for k in 0..SCRIPT.len() * 20 {
            if k % SCRIPT.len() == 0 {
                conv = new_conversation();
            }
            h.record(turn(&shop, offline.as_ref(), &mut conv, SCRIPT[k % SCRIPT.len()]).await).unwrap();
        }
        h
    });
    println!("{}", row("one at a time", "offline assistant", &per_turn));
}
