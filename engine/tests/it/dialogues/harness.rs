//! A shop and a shopper's conversation as the conversation actor runs them, minus the
//! actors: the REAL turn pipeline (`run_turn`), the REAL offline assistant and keyword
//! index, and a small in-memory `TurnEffects` that applies cart operations with the
//! real `Cart` rules and emits the `cart` / `order` events the actor would.
//!
//! What is simplified, and why it does not matter to a dialogue: a placed order does
//! not decrement stock (no dialogue buys more than a variant's stock across orders),
//! and events carry no `seq` (the order of the `Vec` is the order of emission).

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::Utc;

use engine_assistant::OfflineAssistant;
use engine::carts::{CartFailure, CartOp, CartOutcome};
use engine::catalog::{CatalogSnapshot, demo_catalog};
use engine::domain::{Cart, ConversationId, Currency, Order, OrderId, Product, Quantity, SetQuantity, TenantId};
use engine::events::{ErrorCode, Event};
use engine::ports::llm::ChatMessage;
use engine::ports::retriever::{RetrievalError, Retriever, SearchHit, SearchQuery};
use engine::ports::store::TenantSettings;
use engine::retrieval::KeywordIndex;
use engine::turn::{DialogueState, TurnEffects, TurnInput, run_turn};

use super::{bestbuy, heldout};

/// One tenant's shop: its catalog, its retrieval and its settings.
pub struct Shop {
    pub name: &'static str,
    pub tenant: TenantId,
    pub catalog: Arc<CatalogSnapshot>,
    pub retriever: Arc<ShopRetriever>,
    pub settings: TenantSettings,
}

/// The keyword index over one tenant's snapshot, answering only for that tenant (what
/// `KeywordRetriever` does per tenant, without a store).
pub struct ShopRetriever {
    tenant: TenantId,
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

    async fn search(&self, tenant: &TenantId, q: &SearchQuery) -> Result<Vec<SearchHit>, RetrievalError> {
        if tenant != &self.tenant {
            return Ok(Vec::new());
        }
        Ok(self.index.hits(&self.catalog, q))
    }
}

fn shop(name: &'static str, tenant: &str, products: Vec<Product>, settings: TenantSettings) -> Shop {
    let tenant = TenantId::parse(tenant).expect("tenant id");
    let catalog = Arc::new(CatalogSnapshot::new(1, products));
    let retriever =
        Arc::new(ShopRetriever { tenant: tenant.clone(), index: KeywordIndex::build(&catalog), catalog: catalog.clone() });
    Shop { name, tenant, catalog, retriever, settings }
}

/// The demo shop: Magento's Luma catalog, with a bot name and greeting of its own.
pub fn luma() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let tenant = TenantId::parse("t_luma").unwrap();
        let parsed = demo_catalog(&tenant);
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        let settings = TenantSettings {
            bot_name: "Luma".into(),
            greeting: "Hi, I'm Luma! Looking for workout gear? Ask me anything.".into(),
            ..TenantSettings::default()
        };
        shop("luma", "t_luma", parsed.products, settings)
    })
}

/// The second shop: Best Buy's phones and accessories.
pub fn bestbuy() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let tenant = TenantId::parse("t_bestbuy").unwrap();
        let settings = TenantSettings {
            bot_name: "Volt".into(),
            greeting: "Hey there, I'm Volt. Need a phone or an accessory?".into(),
            ..TenantSettings::default()
        };
        shop("bestbuy", "t_bestbuy", bestbuy::catalog(&tenant), settings)
    })
}

/// A third, general shop: Shopify's partner samples (apparel, jewellery, home and
/// garden) in one catalog, as a shop would import them; variants in stock get 20 units
/// (the samples have one), so dialogues are about talking, not stock.
pub fn general() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let tenant = TenantId::parse("t_general").unwrap();
        let files: [&[u8]; 3] = [
            include_bytes!("../../fixtures/shopify_partners_sample_apparel.csv"),
            include_bytes!("../../fixtures/shopify_partners_sample_jewelery.csv"),
            include_bytes!("../../fixtures/shopify_partners_sample_home-and-garden.csv"),
        ];
        let mut products = Vec::new();
        for bytes in files {
            let parsed = engine::catalog::parse_shopify_csv(&tenant, Currency::USD, bytes);
            products.extend(parsed.products);
        }
        for p in &mut products {
            for v in &mut p.variants {
                if v.stock > 0 {
                    v.stock = 20;
                }
            }
        }
        let settings = TenantSettings {
            bot_name: "Ava".into(),
            greeting: "Hello, I'm Ava. Looking for something for you or your home?".into(),
            ..TenantSettings::default()
        };
        shop("general", "t_general", products, settings)
    })
}

/// The held-out shop: clothes, jewellery and home-and-garden goods from the Shopify
/// Partners sample exports, never used to tune the assistant (see `heldout.rs`).
pub fn heldout() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let tenant = TenantId::parse("t_heldout").unwrap();
        let settings = TenantSettings {
            bot_name: "Marlow".into(),
            greeting: "Hello! I'm Marlow from Marlow & Finch: clothes, jewellery, and things for your home and garden. What can I find for you?".into(),
            ..TenantSettings::default()
        };
        shop("heldout", "t_heldout", heldout::catalog(&tenant), settings)
    })
}

/// The second held-out shop: Velofant, a Swedish bike shop, from its real Shopify
/// export, in SEK, never used to tune the assistant (see `heldout::bikes_catalog`).
pub fn bikes() -> &'static Shop {
    static SHOP: OnceLock<Shop> = OnceLock::new();
    SHOP.get_or_init(|| {
        let tenant = TenantId::parse("t_bikes").unwrap();
        let settings = TenantSettings {
            bot_name: "Sprocket".into(),
            greeting: "Hej! I'm Sprocket from Velofant in Stockholm: bikes, frame kits, locks, lights and parts. What are you riding?".into(),
            currency: Currency::parse("SEK").unwrap(),
            ..TenantSettings::default()
        };
        shop("bikes", "t_bikes", heldout::bikes_catalog(&tenant), settings)
    })
}

pub fn by_name(name: &str) -> &'static Shop {
    match name {
        "luma" => luma(),
        "bestbuy" => bestbuy(),
        "general" => general(),
        "heldout" => heldout(),
        "bikes" => bikes(),
        other => panic!("no shop named {other:?} (luma, bestbuy, general, heldout, bikes)"),
    }
}

/// What one turn produced.
#[derive(Debug, Default)]
pub struct TurnLog {
    pub reply: String,
    pub deltas: Vec<String>,
    pub events: Vec<Event>,
    /// The model whose answer ended the turn, and whether the fallback finished it.
    pub answered_by: &'static str,
    pub fell_back: bool,
    pub usage: engine::ports::llm::TokenUsage,
}

impl TurnLog {
    pub fn shown_titles(&self, shop: &Shop) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Event::Products { items, .. } = e {
                for i in items {
                    // Titles are read back from this shop's catalog: an id it does not
                    // know would be another tenant's product, and fails the turn.
                    let known = shop.catalog.products.iter().find(|p| p.id.as_str() == i.id);
                    out.push(known.map_or_else(|| format!("<foreign {}>", i.id), |p| p.title.clone()));
                }
            }
        }
        out
    }

    pub fn orders(&self) -> usize {
        self.events.iter().filter(|e| matches!(e, Event::Order { .. })).count()
    }
}

/// The in-memory conversation: the cart actor's rules and events, without the actor.
struct Effects {
    tenant: TenantId,
    catalog: Arc<CatalogSnapshot>,
    cart: Mutex<Cart>,
    events: Mutex<Vec<Event>>,
}

fn failure(e: engine::domain::DomainError) -> CartFailure {
    CartFailure::from(e)
}

#[async_trait]
impl TurnEffects for Effects {
    async fn emit(&self, event: Event) {
        self.events.lock().unwrap().push(event);
    }

    async fn cart(&self, op: CartOp) -> Result<CartOutcome, CartFailure> {
        let mut cart = self.cart.lock().unwrap();
        let product = |id| {
            self.catalog.product(id).cloned().ok_or_else(|| CartFailure::new(ErrorCode::NotFound, "no such product in this shop"))
        };
        let with_product = |id: &engine::domain::ProductId, e| {
            let mut f = failure(e);
            if f.code == ErrorCode::VariantRequired {
                f.product_id = Some(id.clone());
            }
            f
        };
        let next = match &op {
            CartOp::Get => return Ok(CartOutcome::from(cart.clone())),
            CartOp::Add { product_id, variant_id, quantity } => {
                let p = product(product_id)?;
                let q = Quantity::parse(*quantity).map_err(failure)?;
                cart.add(&p, variant_id.as_ref(), q).map_err(|e| with_product(product_id, e))?
            }
            CartOp::Set { product_id, variant_id, quantity } => {
                let p = product(product_id)?;
                let q = SetQuantity::parse(*quantity).map_err(failure)?;
                cart.set(&p, variant_id.as_ref(), q).map_err(|e| with_product(product_id, e))?
            }
            CartOp::Remove { product_id, variant_id } => {
                cart.remove(product_id, variant_id.as_ref()).map_err(|e| with_product(product_id, e))?
            }
            CartOp::Checkout => {
                if cart.is_empty() {
                    return Err(CartFailure::new(ErrorCode::EmptyCart, "the cart is empty"));
                }
                let order = Order {
                    id: OrderId::generate(),
                    tenant_id: self.tenant.clone(),
                    conversation_id: ConversationId::generate(),
                    lines: cart.lines.clone(),
                    total_minor: cart.subtotal_minor(),
                    currency: cart.currency,
                    status: "placed".into(),
                    created_at: Utc::now(),
                };
                *cart = cart.cleared();
                let mut events = self.events.lock().unwrap();
                events.push(Event::Order {
                    order_id: order.id.to_string(),
                    total_minor: order.total_minor,
                    currency: order.currency.to_string(),
                    payment_url: None,
                });
                events.push(Event::Cart { cart: (&*cart).into(), notices: Vec::new() });
                return Ok(CartOutcome::Placed { order, cart: cart.clone() });
            }
        };
        *cart = next;
        self.events.lock().unwrap().push(Event::Cart { cart: (&*cart).into(), notices: Vec::new() });
        Ok(CartOutcome::from(cart.clone()))
    }
}

/// One shopper's conversation with a shop.
pub struct Conversation {
    shop: &'static Shop,
    model: OfflineAssistant,
    pub cart: Cart,
    dialogue: DialogueState,
    history: Vec<ChatMessage>,
    turns: u64,
    /// A model that answers first (a remote one, in the turn-safety tests); the
    /// offline assistant then finishes what it cannot.
    remote: Option<Arc<dyn engine::ports::llm::LanguageModel>>,
    /// The summary of older messages a turn gets (as the actor reads it from the store).
    pub summary: Option<String>,
}

impl Conversation {
    pub fn new(shop: &'static Shop) -> Self {
        Self {
            shop,
            model: OfflineAssistant::new(shop.retriever.clone()),
            // The shop's currency: a cart in another one refuses its products.
            cart: Cart::empty(shop.settings.currency),
            dialogue: DialogueState::default(),
            history: Vec::new(),
            turns: 0,
            remote: None,
            summary: None,
        }
    }

    /// A conversation answered first by `remote`, with the offline assistant as the
    /// fallback, as the conversation actor runs a shop with a Groq key.
    pub fn with_remote(shop: &'static Shop, remote: Arc<dyn engine::ports::llm::LanguageModel>) -> Self {
        Self { remote: Some(remote), ..Self::new(shop) }
    }


    /// Runs the shopper's message as a turn, as the conversation actor does.
    pub async fn say(&mut self, text: &str) -> TurnLog {
        self.turns += 1;
        let effects = Effects {
            tenant: self.shop.tenant.clone(),
            catalog: self.shop.catalog.clone(),
            cart: Mutex::new(self.cart.clone()),
            events: Mutex::new(Vec::new()),
        };
        let input = TurnInput {
            tenant: self.shop.tenant.clone(),
            settings: self.shop.settings.clone(),
            turn: self.turns,
            history: self.history.clone(),
            text: text.to_string(),
            cart: self.cart.clone(),
            catalog: self.shop.catalog.clone(),
            dialogue: self.dialogue.clone(),
            summary: self.summary.clone(),
        };
        let outcome = match &self.remote {
            Some(remote) => {
                engine::turn::run_turn_with_fallback(
                    remote.as_ref(),
                    Some(&self.model),
                    self.shop.retriever.as_ref(),
                    &effects,
                    input,
                )
                .await
            }
            None => run_turn(&self.model, self.shop.retriever.as_ref(), &effects, input).await,
        };
        self.dialogue = outcome.dialogue;
        self.cart = effects.cart.into_inner().unwrap();
        self.history.push(ChatMessage::User { content: text.to_string() });
        self.history.push(ChatMessage::Assistant { content: outcome.reply.clone(), tool_calls: Vec::new() });
        let events = effects.events.into_inner().unwrap();
        let deltas = events
            .iter()
            .filter_map(|e| match e {
                Event::AssistantDelta { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect();
        TurnLog {
            reply: outcome.reply,
            deltas,
            events,
            answered_by: outcome.answered_by,
            fell_back: outcome.fell_back,
            usage: outcome.usage,
        }
    }
}
