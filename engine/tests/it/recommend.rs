//! Recommendations ("goes well with", cross-sell from the cart) on the real demo
//! catalog: complementary kinds, never what the cart holds, in stock, each product
//! once, only the tenant's own products, through the keyword default and through the
//! hybrid retriever's vectors.

use std::collections::HashSet;
use std::sync::Arc;

use engine::catalog::{CatalogCache, CatalogSnapshot, demo_catalog, import_products};
use engine::domain::{Product, ProductId, TenantId};
use engine::ports::retriever::{Retriever, SearchHit};
use engine::retrieval::recommend::recommend;
use engine::retrieval::{HybridRetriever, KeywordRetriever};

fn demo() -> CatalogSnapshot {
    let parsed = demo_catalog(&TenantId::parse("t_demo").unwrap());
    assert!(parsed.errors.is_empty());
    CatalogSnapshot::new(1, parsed.products)
}

fn by_title<'a>(s: &'a CatalogSnapshot, title: &str) -> &'a Arc<Product> {
    s.products.iter().find(|p| p.title == title).unwrap_or_else(|| panic!("no {title} in the demo catalog"))
}

fn titles(hits: &[SearchHit]) -> Vec<&str> {
    hits.iter().map(|h| h.product.title.as_str()).collect()
}

/// The category path's leaf: "Hoodies & Sweatshirts".
fn leaf(p: &Product) -> &str {
    p.category.rsplit('/').next().unwrap_or("")
}

/// What must hold for any recommendation list.
fn check_rules(s: &CatalogSnapshot, seeds: &[ProductId], exclude: &[ProductId], hits: &[SearchHit], limit: usize) {
    assert!(hits.len() <= limit);
    let mut seen = HashSet::new();
    for h in hits {
        assert!(seen.insert(h.product.id.clone()), "{} twice in {:?}", h.product.title, titles(hits));
        assert!(s.product(&h.product.id).is_some(), "not of this catalog: {}", h.product.title);
        assert!(h.product.in_stock(), "{} is out of stock", h.product.title);
        assert!(!exclude.contains(&h.product.id), "{} is in the cart", h.product.title);
        assert!(!seeds.contains(&h.product.id), "{} recommended for itself", h.product.title);
        for seed in seeds.iter().filter_map(|id| s.product(id)) {
            // Clothing categories name one kind each: never the seed's own.
            if seed.category.contains("Tops") || seed.category.contains("Bottoms") || seed.category.contains("Bags") {
                assert_ne!(leaf(&h.product), leaf(seed), "{} is the same kind as {}", h.product.title, seed.title);
            }
        }
    }
}

#[test]
fn a_hoodie_suggests_bottoms_and_gear_of_its_audience_never_another_top_of_its_kind() {
    let s = demo();
    let hoodie = by_title(&s, "Hero Hoodie");
    let hits = recommend(&s, std::slice::from_ref(&hoodie.id), std::slice::from_ref(&hoodie.id), 3);
    assert_eq!(hits.len(), 3, "{:?}", titles(&hits));
    check_rules(&s, std::slice::from_ref(&hoodie.id), std::slice::from_ref(&hoodie.id), &hits, 3);
    // The best suggestion is a men's bottom; nothing for women among the first three.
    assert!(hits[0].product.category.starts_with("Men/Bottoms"), "{:?}", titles(&hits));
    assert!(hits.iter().all(|h| !h.product.category.starts_with("Women")), "{:?}", titles(&hits));
    // Different kinds first: not three pants.
    let kinds: HashSet<&str> = hits.iter().map(|h| leaf(&h.product)).collect();
    assert!(kinds.len() >= 2, "{:?}", titles(&hits));
    // Deterministic.
    let again = recommend(&s, std::slice::from_ref(&hoodie.id), std::slice::from_ref(&hoodie.id), 3);
    assert_eq!(titles(&hits), titles(&again));
}

#[test]
fn a_womens_pant_suggests_womens_tops_and_a_bag_suggests_gear() {
    let s = demo();
    let pant = s.products.iter().find(|p| p.category == "Women/Bottoms/Pants" && p.in_stock()).unwrap();
    let hits = recommend(&s, std::slice::from_ref(&pant.id), &[], 5);
    check_rules(&s, std::slice::from_ref(&pant.id), &[], &hits, 5);
    assert!(hits[0].product.category.starts_with("Women/Tops"), "{:?}", titles(&hits));
    assert!(hits.iter().all(|h| !h.product.category.starts_with("Men/")), "{:?}", titles(&hits));

    let bag = by_title(&s, "Fusion Backpack");
    let hits = recommend(&s, std::slice::from_ref(&bag.id), &[], 3);
    check_rules(&s, std::slice::from_ref(&bag.id), &[], &hits, 3);
    assert!(hits.iter().all(|h| h.product.category != "Gear/Bags"), "{:?}", titles(&hits));
    assert!(hits[0].product.category.starts_with("Gear/"), "{:?}", titles(&hits));
}

#[test]
fn the_rules_hold_for_every_product_of_the_demo_catalog() {
    let s = demo();
    let mut empty = 0;
    for p in &s.products {
        // The cart: this product and the first product of another category.
        let other = s.products.iter().find(|q| q.category != p.category).unwrap();
        let cart = vec![p.id.clone(), other.id.clone()];
        let hits = recommend(&s, std::slice::from_ref(&p.id), &cart, 4);
        check_rules(&s, std::slice::from_ref(&p.id), &cart, &hits, 4);
        empty += usize::from(hits.is_empty());
    }
    assert_eq!(empty, 0, "every demo product has something to go with it");
}

#[test]
fn the_whole_cart_is_excluded_and_out_of_stock_products_never_come_back() {
    let s = demo();
    let hoodie = by_title(&s, "Hero Hoodie");
    let first = recommend(&s, std::slice::from_ref(&hoodie.id), &[], 10);
    // With the first three suggestions in the cart, none of them comes back.
    let mut cart: Vec<ProductId> = first.iter().take(3).map(|h| h.product.id.clone()).collect();
    cart.push(hoodie.id.clone());
    let next = recommend(&s, std::slice::from_ref(&hoodie.id), &cart, 10);
    check_rules(&s, std::slice::from_ref(&hoodie.id), &cart, &next, 10);
    assert!(!next.is_empty());

    // The best suggestion sold out: it is gone, and nothing else is.
    let best = first[0].product.id.clone();
    let products: Vec<Product> = s
        .products
        .iter()
        .map(|p| {
            let mut p = p.as_ref().clone();
            if p.id == best {
                p.variants.iter_mut().for_each(|v| v.stock = 0);
            }
            p
        })
        .collect();
    let sold_out = CatalogSnapshot::new(2, products);
    let hits = recommend(&sold_out, std::slice::from_ref(&hoodie.id), &[], 10);
    assert!(hits.iter().all(|h| h.product.id != best), "{:?}", titles(&hits));
    assert_eq!(hits.len(), 10);
}

/// Through the `Retriever` port, over a real store with two tenants selling the same
/// catalog: the keyword default and the hybrid retriever's vectors both answer with
/// the tenant's own products only, and another tenant's ids find nothing.
#[tokio::test]
async fn retrievers_recommend_only_the_tenants_own_products() {
    use engine_vectors::embed::StaticEmbedder;
    use engine::ports::embedder::Embedder;

    let (store, _db) = crate::support::sqlite_store().await;
    let shop = crate::support::seed_tenant(store.as_ref(), "Shop").await;
    let other = crate::support::seed_tenant(store.as_ref(), "Other").await;
    for t in [&shop, &other] {
        let parsed = demo_catalog(t);
        import_products(store.as_ref(), parsed.products).await.unwrap();
    }
    let cache = Arc::new(CatalogCache::new(store.clone()));
    let snap = cache.get(&shop).await.unwrap();
    let theirs = cache.get(&other).await.unwrap();
    let hoodie = by_title(&snap, "Hero Hoodie").id.clone();
    let their_hoodie = by_title(&theirs, "Hero Hoodie").id.clone();

    let keyword = KeywordRetriever::new(cache.clone());
    let dir = tempfile::tempdir().unwrap();
    let embedder = Arc::new(StaticEmbedder::bundled().unwrap());
    let dim = embedder.embed(&["x".to_string()]).await.unwrap()[0].len();
    let vectors = Arc::new(engine_vectors::qdrant_edge::QdrantEdgeStore::open(dir.path(), dim).unwrap());
    let hybrid = HybridRetriever::new(cache.clone(), vectors, embedder);
    // A search indexes the tenant's catalog; recommendations then use its vectors.
    hybrid.search(&shop, &engine::ports::retriever::SearchQuery { text: "hoodie".into(), limit: 3, ..Default::default() }).await.unwrap();

    let retrievers: [(&str, &dyn Retriever); 2] = [("keyword", &keyword), ("hybrid", &hybrid)];
    for (name, r) in retrievers {
        let hits = r.recommend(&shop, &snap, std::slice::from_ref(&hoodie), std::slice::from_ref(&hoodie), 3).await.unwrap();
        assert_eq!(hits.len(), 3, "{name}: {:?}", titles(&hits));
        check_rules(&snap, std::slice::from_ref(&hoodie), std::slice::from_ref(&hoodie), &hits, 3);
        assert!(hits.iter().all(|h| h.product.tenant_id == shop), "{name}: another tenant's product");
        assert!(hits.iter().any(|h| h.product.category.contains("Bottoms")), "{name}: {:?}", titles(&hits));
        // Another tenant's product is unknown here: nothing to suggest for it.
        let none = r.recommend(&shop, &snap, std::slice::from_ref(&their_hoodie), &[], 3).await.unwrap();
        assert!(none.is_empty(), "{name}: {:?}", titles(&none));
    }
}

/// A model that calls the given tools once, then says "ok"; it keeps the tool results.
struct Caller {
    calls: Vec<engine::ports::llm::ToolCall>,
    results: std::sync::Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl engine::ports::llm::LanguageModel for Caller {
    fn name(&self) -> &'static str {
        "caller"
    }

    /// Executed as the offline assistant's calls are (this test is about the tool, not
    /// about what a remote model is allowed to name: `turn_safety` is).
    fn reads_catalog(&self) -> bool {
        true
    }

    async fn stream(
        &self,
        request: engine::ports::llm::ModelRequest,
    ) -> Result<engine::ports::llm::ModelStream, engine::ports::llm::ModelError> {
        use engine::ports::llm::{ChatMessage, ModelChunk};
        let chunks: Vec<ModelChunk> = match request.messages.last() {
            Some(ChatMessage::Tool { .. }) => {
                let mut results = self.results.lock().unwrap();
                for m in &request.messages {
                    if let ChatMessage::Tool { content, .. } = m {
                        results.push(content.clone());
                    }
                }
                vec![ModelChunk::Text("ok".into())]
            }
            _ => self.calls.iter().cloned().map(ModelChunk::ToolCall).collect(),
        };
        Ok(Box::pin(futures_util::stream::iter(chunks.into_iter().map(Ok))))
    }
}

struct Events(std::sync::Mutex<Vec<engine::events::Event>>, engine::domain::Cart);

#[async_trait::async_trait]
impl engine::turn::TurnEffects for Events {
    async fn emit(&self, event: engine::events::Event) {
        self.0.lock().unwrap().push(event);
    }

    async fn cart(&self, _op: engine::carts::CartOp) -> Result<engine::carts::CartOutcome, engine::carts::CartFailure> {
        Ok(engine::carts::CartOutcome::from(self.1.clone()))
    }
}

/// The `recommend_products` tool through the real turn pipeline: without ids it
/// suggests for the cart, never what the cart holds; another tenant's id finds
/// nothing; what "the second one" means is left alone.
#[tokio::test]
async fn the_recommend_tool_suggests_for_the_cart_and_knows_no_other_tenant() {
    use engine::domain::{Cart, Currency, Quantity};
    use engine::events::Event;
    use engine::ports::llm::ToolCall;
    use engine::turn::tools::ToolResult;
    use engine::turn::{DialogueState, TurnInput, run_turn};

    let s = Arc::new(demo());
    let hoodie = by_title(&s, "Hero Hoodie").clone();
    let cart = Cart::empty(Currency::USD).add(&hoodie, Some(&hoodie.variants[0].id), Quantity::parse(1).unwrap()).unwrap();
    let theirs = demo_catalog(&TenantId::parse("t_other").unwrap());
    let their_id = theirs.products[0].id.to_string();
    let call = |id: &str, args: serde_json::Value| ToolCall { id: id.into(), name: "recommend_products".into(), arguments: args };
    let model = Caller {
        calls: vec![call("c1", serde_json::json!({})), call("c2", serde_json::json!({"product_ids": [their_id]}))],
        results: Default::default(),
    };
    let effects = Events(Default::default(), cart.clone());
    let keyword = KeywordRetriever::new(Arc::new(CatalogCache::new(crate::support::sqlite_store().await.0)));
    let input = TurnInput {
        tenant: TenantId::parse("t_demo").unwrap(),
        settings: Default::default(),
        turn: 1,
        history: Vec::new(),
        text: "what else?".into(),
        cart,
        catalog: s.clone(),
        dialogue: DialogueState::default(),
        summary: None,
    };
    let out = run_turn(&model, &keyword, &effects, input).await;
    let results: Vec<ToolResult> =
        model.results.lock().unwrap().iter().map(|c| ToolResult::from_content(c).expect("a tool result")).collect();
    let [ToolResult::Products { items: for_cart }, ToolResult::Products { items: for_theirs }] = results.as_slice() else {
        panic!("{results:?}")
    };
    assert_eq!(for_cart.len(), 3);
    assert!(for_cart.iter().all(|p| p.id != hoodie.id.as_str() && !p.title.contains("Hoodie")), "{for_cart:?}");
    assert!(for_theirs.is_empty(), "another tenant's product is unknown: {for_theirs:?}");
    let events = effects.0.lock().unwrap();
    let shown: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Products { .. })).collect();
    assert_eq!(shown.len(), 1, "one products event, for the cart's suggestions");
    assert!(out.dialogue.last_products.is_empty(), "suggestions are not a list to pick from by position");
}
