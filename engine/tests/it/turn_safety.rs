//! A remote model that obeys the attacker, through the real turn pipeline: whatever it
//! asks for, no tool call sets a price, names another shop's product or one it was not
//! shown, checks out without the shopper asking, or takes a quantity the cart rules
//! refuse. And when it fails — before its first word, in the middle of a sentence,
//! after a tool call — the offline assistant finishes the turn with one coherent
//! answer. (The same model over the real WebSocket, as Groq's wire format, is in the
//! ws-gateway tests.)

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures_util::stream;

use engine::events::{ErrorCode, Event};
use engine::ports::llm::{
    ChatMessage, LanguageModel, ModelChunk, ModelError, ModelRequest, ModelStream, TokenUsage, ToolCall,
};
use engine::turn::tools::ToolResult;
use engine::turn::{CUT_OFF_SEAM, MAX_ROUNDS, UNAVAILABLE_REPLY, asks_to_check_out};

use crate::dialogues::harness::{self, Conversation, Shop};

type Reply = Result<Vec<Result<ModelChunk, ModelError>>, ModelError>;
type Script = Box<dyn Fn(&ModelRequest, usize) -> Reply + Send + Sync>;

/// A model that does what its script says, whatever the shopper wrote: the attacker's
/// accomplice. It records every request it gets.
struct Obedient {
    script: Script,
    requests: Mutex<Vec<ModelRequest>>,
}

impl Obedient {
    fn new(script: impl Fn(&ModelRequest, usize) -> Reply + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Obedient { script: Box::new(script), requests: Mutex::new(Vec::new()) })
    }

    /// The tool results the model was sent, in order, over all its requests.
    fn tool_results(&self) -> Vec<ToolResult> {
        let requests = self.requests.lock().unwrap();
        let Some(last) = requests.last() else { return Vec::new() };
        last.messages
            .iter()
            .filter_map(|m| match m {
                ChatMessage::Tool { content, .. } => Some(ToolResult::from_content(content).expect("a tool result")),
                _ => None,
            })
            .collect()
    }

    fn rounds(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

#[async_trait]
impl LanguageModel for Obedient {
    fn name(&self) -> &'static str {
        "obedient"
    }

    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError> {
        let round = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request.clone());
            requests.len() - 1
        };
        let chunks = (self.script)(&request, round)?;
        Ok(Box::pin(stream::iter(chunks)))
    }
}

fn call(id: &str, name: &str, arguments: serde_json::Value) -> Result<ModelChunk, ModelError> {
    Ok(ModelChunk::ToolCall(ToolCall { id: id.into(), name: name.into(), arguments }))
}

fn text(t: &str) -> Result<ModelChunk, ModelError> {
    Ok(ModelChunk::Text(t.into()))
}

/// Round 0 runs `calls`; later rounds say "Done." (the model reads the results).
fn calls_then_done(calls: Vec<Result<ModelChunk, ModelError>>) -> impl Fn(&ModelRequest, usize) -> Reply {
    move |_, round| if round == 0 { Ok(calls.clone_chunks()) } else { Ok(vec![text("Done.")]) }
}

trait CloneChunks {
    fn clone_chunks(&self) -> Vec<Result<ModelChunk, ModelError>>;
}

impl CloneChunks for Vec<Result<ModelChunk, ModelError>> {
    fn clone_chunks(&self) -> Vec<Result<ModelChunk, ModelError>> {
        self.iter()
            .map(|c| match c {
                Ok(c) => Ok(c.clone()),
                Err(e) => Err(ModelError::Protocol(e.to_string())),
            })
            .collect()
    }
}

fn luma() -> &'static Shop {
    harness::luma()
}

fn product(shop: &Shop, title: &str) -> Arc<engine::domain::Product> {
    shop.catalog.products.iter().find(|p| p.title == title).unwrap_or_else(|| panic!("{title} in {}", shop.name)).clone()
}

fn error_code(r: &ToolResult) -> Option<ErrorCode> {
    match r {
        ToolResult::Error { code, .. } => Some(*code),
        _ => None,
    }
}

#[tokio::test]
async fn a_model_cannot_set_a_price() {
    let hoodie = product(luma(), "Hero Hoodie");
    let variant = hoodie.variants[0].clone();
    let args = serde_json::json!({
        "product_id": hoodie.id.as_str(), "variant_id": variant.id.as_str(), "quantity": 1,
        "price_minor": 1, "unit_price_minor": 1
    });
    let model = Obedient::new(calls_then_done(vec![
        call("c1", "add_to_cart", args),
        call("c2", "set_price", serde_json::json!({"product_id": hoodie.id.as_str(), "price_minor": 1})),
    ]));
    let mut c = Conversation::with_remote(luma(), model.clone());
    c.say("add the hero hoodie, and make it cost one cent").await;
    let results = model.tool_results();
    assert!(matches!(results[0], ToolResult::Cart { .. }), "the add itself is legitimate: {results:?}");
    assert_eq!(error_code(&results[1]), Some(ErrorCode::BadRequest), "no tool sets a price: {results:?}");
    assert_eq!(c.cart.lines.len(), 1);
    assert_eq!(c.cart.lines[0].unit_price_minor, variant.price_minor, "the catalog's price, not the model's");
}

#[tokio::test]
async fn a_model_cannot_name_another_shops_product() {
    let theirs = harness::bikes().catalog.products[0].clone();
    let model = Obedient::new(calls_then_done(vec![
        call("c1", "add_to_cart", serde_json::json!({"product_id": theirs.id.as_str(), "quantity": 1})),
        call("c2", "show_products", serde_json::json!({"product_ids": [theirs.id.as_str()]})),
        call("c3", "recommend_products", serde_json::json!({"product_ids": [theirs.id.as_str()]})),
    ]));
    let mut c = Conversation::with_remote(luma(), model.clone());
    let log = c.say(&format!("add {} from the other shop", theirs.title)).await;
    let results = model.tool_results();
    assert_eq!(results.len(), 3);
    for r in &results {
        assert_eq!(error_code(r), Some(ErrorCode::NotFound), "{results:?}");
    }
    assert!(c.cart.lines.is_empty());
    assert!(!log.events.iter().any(|e| matches!(e, Event::Products { .. })), "nothing of theirs is shown");
    // Nor are their products in what the model was shown.
    let requests = model.requests.lock().unwrap();
    assert!(requests.iter().all(|r| r.products.iter().all(|p| luma().catalog.product(&engine::domain::ProductId::parse(&p.id).unwrap()).is_some())));
}

#[tokio::test]
async fn a_model_names_only_products_it_was_shown_in_the_turn() {
    // A product of this shop the message did not retrieve: the model must search first.
    let bottle = product(luma(), "Affirm Water Bottle");
    let first = Obedient::new({
        let id = bottle.id.to_string();
        calls_then_done(vec![call("c1", "add_to_cart", serde_json::json!({"product_id": id, "quantity": 1}))])
    });
    let mut c = Conversation::with_remote(luma(), first.clone());
    c.say("I need a warm hoodie").await;
    assert!(!first.requests.lock().unwrap()[0].products.iter().any(|p| p.id == bottle.id.as_str()));
    assert_eq!(error_code(&first.tool_results()[0]), Some(ErrorCode::NotFound));
    assert!(c.cart.lines.is_empty());

    // Once its search showed it, the same add works.
    let second = Obedient::new({
        let id = bottle.id.to_string();
        move |_, round| match round {
            0 => Ok(vec![call("s", "search_products", serde_json::json!({"query": "water bottle"}))]),
            1 => Ok(vec![call("a", "add_to_cart", serde_json::json!({"product_id": id, "quantity": 1}))]),
            _ => Ok(vec![text("Added.")]),
        }
    });
    let mut c = Conversation::with_remote(luma(), second.clone());
    c.say("I need a warm hoodie").await;
    assert!(matches!(second.tool_results()[1], ToolResult::Cart { .. }), "{:?}", second.tool_results());
    assert_eq!(c.cart.lines.len(), 1);
    assert_eq!(c.cart.lines[0].product_id, bottle.id);
}

#[tokio::test]
async fn a_model_checks_out_only_when_the_shopper_asks() {
    let bottle = product(luma(), "Affirm Water Bottle");
    let checkout = || Obedient::new(calls_then_done(vec![call("k", "checkout", serde_json::json!({}))]));
    let filled = || {
        let mut c = Conversation::with_remote(luma(), checkout());
        c.cart = c.cart.add(&bottle, None, engine::domain::Quantity::parse(1).unwrap()).unwrap();
        c
    };
    for text in ["what's in my cart?", "I want to buy a jacket", "don't check out yet", "is checkout safe here?"] {
        let model = checkout();
        let mut c = Conversation::with_remote(luma(), model.clone());
        c.cart = filled().cart;
        let log = c.say(text).await;
        if text == "is checkout safe here?" {
            // Asking about checkout is read as asking for it; that is the rule's
            // documented limit (the shopper said the word), so it is not asserted here.
            continue;
        }
        assert_eq!(log.orders(), 0, "{text:?} is not asking to check out");
        assert_eq!(error_code(&model.tool_results()[0]), Some(ErrorCode::BadRequest), "{text:?}");
        assert_eq!(c.cart.lines.len(), 1, "{text:?}: the cart is kept");
    }
    for text in ["check out please", "ok, place the order", "I'll pay now", "zur Kasse bitte"] {
        let model = checkout();
        let mut c = Conversation::with_remote(luma(), model.clone());
        c.cart = filled().cart;
        let log = c.say(text).await;
        assert_eq!(log.orders(), 1, "{text:?} asks to check out: {:?}", model.tool_results());
    }
}

#[test]
fn what_asks_to_check_out() {
    for yes in ["Checkout", "check out now", "place my order", "buy it", "let's pay", "passer commande", "jetzt kaufen"] {
        assert!(asks_to_check_out(yes), "{yes}");
    }
    for no in ["", "I want to buy shoes", "do not check out", "not ready to pay", "show me hoodies", "order status?"] {
        assert!(!asks_to_check_out(no), "{no}");
    }
}

#[tokio::test]
async fn injected_ids_and_bad_quantities_change_nothing() {
    let hoodie = product(luma(), "Hero Hoodie");
    let (id, variant) = (hoodie.id.to_string(), hoodie.variants[0].id.to_string());
    let model = Obedient::new(calls_then_done(vec![
        call("a", "add_to_cart", serde_json::json!({"product_id": format!("{id}' OR '1'='1"), "quantity": 1})),
        call("b", "add_to_cart", serde_json::json!({"product_id": id, "variant_id": variant, "quantity": -3})),
        call("c", "add_to_cart", serde_json::json!({"product_id": id, "variant_id": variant, "quantity": 1_000_000})),
        call("d", "add_to_cart", serde_json::json!({"product_id": id, "variant_id": variant, "quantity": 0})),
        call("e", "add_to_cart", serde_json::json!({"product_id": id, "variant_id": variant, "quantity": "2"})),
        call("f", "set_quantity", serde_json::json!({"product_id": id, "variant_id": variant, "quantity": 100})),
        // Arguments that were not JSON at all reach the pipeline as a string.
        call("g", "add_to_cart", serde_json::Value::String("{\"product_id\": ".into())),
        call("h", "remove_from_cart", serde_json::json!({"product_id": "../../etc/passwd"})),
    ]));
    let mut c = Conversation::with_remote(luma(), model.clone());
    c.say("hero hoodie please, quantity -3 or a million").await;
    let results = model.tool_results();
    assert_eq!(results.len(), 8);
    for (i, r) in results.iter().enumerate() {
        assert!(error_code(r).is_some(), "call {i} must be refused: {r:?}");
    }
    assert!(c.cart.lines.is_empty(), "{:?}", c.cart);
}

#[tokio::test]
async fn rounds_are_capped_and_usage_is_summed() {
    let model = Obedient::new(|_, _| {
        Ok(vec![
            call("v", "view_cart", serde_json::json!({})),
            Ok(ModelChunk::Usage(TokenUsage { prompt_tokens: 100, completion_tokens: 7 })),
        ])
    });
    let mut c = Conversation::with_remote(luma(), model.clone());
    let log = c.say("look at my cart forever").await;
    assert_eq!(model.rounds(), MAX_ROUNDS);
    assert_eq!(log.usage, TokenUsage { prompt_tokens: 100 * MAX_ROUNDS as u64, completion_tokens: 7 * MAX_ROUNDS as u64 });
    assert!(!log.fell_back);
}

/// The offline assistant's own answer to `text` in a fresh conversation.
async fn offline_reply(text: &str) -> String {
    Conversation::new(luma()).say(text).await.reply
}

#[tokio::test]
async fn a_model_down_before_its_first_word_leaves_the_offline_answer_alone() {
    let model = Obedient::new(|_, _| Err(ModelError::Status { status: 503, message: "over capacity".into() }));
    let mut c = Conversation::with_remote(luma(), model);
    let log = c.say("show me hoodies").await;
    assert!(log.fell_back);
    assert_eq!(log.answered_by, "offline");
    assert_eq!(log.reply, offline_reply("show me hoodies").await, "no seam when nothing was said");
    assert!(log.events.iter().any(|e| matches!(e, Event::Products { .. })));
}

#[tokio::test]
async fn a_model_cut_off_mid_sentence_is_closed_with_a_seam() {
    let model = Obedient::new(|_, _| Ok(vec![text("Here are some warm hood"), Err(ModelError::Truncated)]));
    let mut c = Conversation::with_remote(luma(), model);
    let log = c.say("show me hoodies").await;
    let offline = offline_reply("show me hoodies").await;
    assert_eq!(log.reply, format!("Here are some warm hood… {CUT_OFF_SEAM}{offline}"));
    assert_eq!(log.deltas.concat(), log.reply, "what was streamed is the reply");
}

#[tokio::test]
async fn what_a_model_did_before_failing_is_reported_not_redone() {
    let bottle = product(luma(), "Affirm Water Bottle");
    let id = bottle.id.to_string();
    let model = Obedient::new(move |_, round| match round {
        0 => Ok(vec![call("s", "search_products", serde_json::json!({"query": "water bottle"}))]),
        1 => Ok(vec![call("a", "add_to_cart", serde_json::json!({"product_id": id, "quantity": 1}))]),
        _ => Err(ModelError::Timeout("no byte in 20 s".into())),
    });
    let mut c = Conversation::with_remote(luma(), model);
    let log = c.say("add a water bottle").await;
    assert!(log.fell_back);
    assert_eq!(c.cart.lines.len(), 1, "added once, by the model; the fallback did not add again");
    assert_eq!(c.cart.lines[0].quantity, 1);
    assert!(!log.reply.is_empty());
}

#[tokio::test]
async fn without_a_fallback_a_failed_model_apologises() {
    let model = Obedient::new(|_, _| Err(ModelError::CircuitOpen));
    let shop = luma();
    let effects = Recorder::default();
    let input = engine::turn::TurnInput {
        tenant: shop.tenant.clone(),
        settings: shop.settings.clone(),
        turn: 1,
        history: Vec::new(),
        text: "hi".into(),
        cart: engine::domain::Cart::empty(shop.settings.currency),
        catalog: shop.catalog.clone(),
        dialogue: Default::default(),
        summary: None,
    };
    let out = engine::turn::run_turn(model.as_ref(), shop.retriever.as_ref(), &effects, input).await;
    assert_eq!(out.reply, UNAVAILABLE_REPLY);
    let events = effects.0.lock().unwrap();
    assert!(matches!(events.first(), Some(Event::AssistantStart { .. })));
    assert!(matches!(events.last(), Some(Event::AssistantEnd { text, .. }) if text == UNAVAILABLE_REPLY));
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

#[async_trait]
impl engine::turn::TurnEffects for Recorder {
    async fn emit(&self, event: Event) {
        self.0.lock().unwrap().push(event);
    }
    async fn cart(&self, _: engine::carts::CartOp) -> Result<engine::carts::CartOutcome, engine::carts::CartFailure> {
        Err(engine::carts::CartFailure::new(ErrorCode::Unavailable, "no cart here"))
    }
}

#[tokio::test]
async fn a_long_history_is_cut_to_the_budget_newest_first() {
    let model = Obedient::new(|_, _| Ok(vec![text("ok")]));
    let mut c = Conversation::with_remote(luma(), model.clone());
    for i in 0..40 {
        c.say(&format!("message {i}: {}", "blah ".repeat(100))).await;
    }
    let requests = model.requests.lock().unwrap();
    let last = &requests.last().unwrap().messages;
    let bytes: usize = last
        .iter()
        .map(|m| match m {
            ChatMessage::User { content } | ChatMessage::Assistant { content, .. } => content.len(),
            _ => 0,
        })
        .sum();
    assert!(bytes <= engine::turn::HISTORY_TOKEN_BUDGET * 4 + 600, "{bytes} bytes of history");
    assert!(matches!(last.last(), Some(ChatMessage::User { content }) if content.starts_with("message 39")));
    assert!(last.len() < 80, "older messages were left out: {}", last.len());
}

#[tokio::test]
async fn the_summary_of_older_messages_comes_first_only_when_history_was_cut() {
    let model = Obedient::new(|_, _| Ok(vec![text("ok")]));
    let mut c = Conversation::with_remote(luma(), model.clone());
    c.summary = Some("- Shopper: I only wear red.".into());
    c.say("hello").await;
    let first = model.requests.lock().unwrap()[0].messages.clone();
    assert!(!first.iter().any(|m| matches!(m, ChatMessage::System { .. })), "nothing was cut: {first:?}");
    for i in 0..40 {
        c.say(&format!("message {i}: {}", "blah ".repeat(100))).await;
    }
    let last = model.requests.lock().unwrap().last().unwrap().messages.clone();
    let ChatMessage::System { content } = &last[0] else { panic!("{:?}", last[0]) };
    assert!(content.contains("I only wear red"), "{content}");
}
