//! Stock and prices are always true: cart commands validate against the store's
//! present (`Store::variant_states`), not against a catalog snapshot, so another
//! shopper's order or an import is seen by the very next command; the next `cart`
//! says what changed (`CartNotice`), and a checkout never charges a price the shopper
//! was not shown (`CartService` refuses it, and `place_order`'s price guard catches a
//! change that lands between the two). Every test runs on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use engine::carts::{CartFailure, CartOp, CartOutcome, CartService};
use engine::catalog::{CatalogCache, import_products};
use engine::domain::{Cart, CartNotice, ConversationId, Currency, Order, OrderId, Product, TenantId, VariantId};
use engine::events::ErrorCode;
use engine::ports::store::{Store, StoreError};

use crate::store::{cart_of, stocked, store_tests};
use crate::support::{now_ms, sample_product, seed_conversation, seed_tenant};

store_tests!(
    variant_states_reads_current_price_and_stock_of_one_tenant,
    place_order_refuses_a_price_that_changed,
    another_shoppers_order_refuses_add_and_set_above_what_is_left,
    a_line_above_what_is_left_is_cut_and_told_once,
    an_import_that_changes_a_price_is_noticed_by_the_next_cart_op,
    checkout_after_an_unseen_price_change_is_refused_then_succeeds,
    concurrent_shoppers_never_oversell_and_refused_adds_are_out_of_stock,
);

/// A cart service whose catalog snapshot is trusted for an hour: whatever these tests
/// see of a price or stock change, they see through the fresh read, not a reload.
fn service(store: &Arc<dyn Store>) -> CartService {
    CartService::new(Arc::new(CatalogCache::new(store.clone()).with_max_staleness(Duration::from_secs(3600))))
}

/// One shopper: a conversation and the cart it holds (as its cart actor would).
struct Shopper {
    tenant: TenantId,
    conversation: ConversationId,
    cart: Cart,
}

impl Shopper {
    async fn new(store: &dyn Store, tenant: &TenantId) -> Self {
        let conversation = seed_conversation(store, tenant).await;
        Self { tenant: tenant.clone(), conversation, cart: Cart::empty(Currency::USD) }
    }

    /// Applies `op` and keeps the cart it leaves, like `CartActor`.
    async fn apply(&mut self, carts: &CartService, op: CartOp) -> Result<CartOutcome, CartFailure> {
        let applied = carts.apply(&self.tenant, &self.conversation, &self.cart, &op, None).await;
        self.cart = applied.cart;
        applied.result
    }

    async fn add(&mut self, carts: &CartService, p: &Product, quantity: i64) -> Result<CartOutcome, CartFailure> {
        self.apply(carts, CartOp::Add { product_id: p.id.clone(), variant_id: None, quantity }).await
    }

    async fn set(&mut self, carts: &CartService, p: &Product, quantity: i64) -> Result<CartOutcome, CartFailure> {
        self.apply(carts, CartOp::Set { product_id: p.id.clone(), variant_id: None, quantity }).await
    }
}

fn notices(outcome: &Result<CartOutcome, CartFailure>) -> Vec<CartNotice> {
    match outcome {
        Ok(CartOutcome::Cart { notices, .. }) => notices.clone(),
        Ok(CartOutcome::Placed { .. }) => Vec::new(),
        Err(f) => f.notices.clone(),
    }
}

fn refused(outcome: Result<CartOutcome, CartFailure>) -> CartFailure {
    match outcome {
        Err(f) => f,
        Ok(o) => panic!("expected a refusal, got {o:?}"),
    }
}

fn placed(outcome: Result<CartOutcome, CartFailure>) -> Order {
    match outcome {
        Ok(CartOutcome::Placed { order, cart }) => {
            assert!(cart.is_empty());
            order
        }
        other => panic!("expected an order, got {other:?}"),
    }
}

async fn stock(store: &dyn Store, p: &Product) -> i64 {
    store.get_product(&p.tenant_id, &p.id).await.unwrap().expect("product").variants[0].stock
}

/// Writes a new price and/or stock for `p`'s only variant, as an import does (same
/// SKU: the variant keeps its id).
async fn reimport(store: &dyn Store, p: &Product, price_minor: i64, stock: i64) {
    let mut again = p.clone();
    again.variants[0].price_minor = price_minor;
    again.variants[0].stock = stock;
    let report = import_products(store, vec![again]).await.expect("import");
    assert_eq!(report.updated, 1);
}

// --- the store ----------------------------------------------------------------------

async fn variant_states_reads_current_price_and_stock_of_one_tenant(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let mut hoodie =
        sample_product(&a, "MH01", &[("MH01-S", &[("size", "S")], 4200, 5), ("MH01-M", &[("size", "M")], 4500, 0)]);
    store.upsert_product(&mut hoodie).await.unwrap();
    let theirs = stocked(&*store, &b, "B-TEE", 7).await;
    let (s, m) = (hoodie.variants[0].id.clone(), hoodie.variants[1].id.clone());

    let mut states = store
        .variant_states(&a, &[m.clone(), s.clone(), s.clone(), theirs.variants[0].id.clone(), VariantId::generate()])
        .await
        .unwrap();
    states.sort_by_key(|st| st.price_minor);
    let got: Vec<(VariantId, i64, i64)> = states.into_iter().map(|st| (st.variant_id, st.price_minor, st.stock)).collect();
    assert_eq!(got, vec![(s.clone(), 4200, 5), (m.clone(), 4500, 0)], "another tenant's and unknown variants are absent");
    assert!(store.variant_states(&b, &[s.clone(), m]).await.unwrap().is_empty(), "A's variants are not B's");
    assert!(store.variant_states(&a, &[]).await.unwrap().is_empty());

    // An order moves it at once.
    let c = seed_conversation(&*store, &a).await;
    let cart = Cart::empty(Currency::USD).add(&hoodie, Some(&s), engine::domain::Quantity::parse(2).unwrap()).unwrap();
    store.place_order(&order_of(&a, &c, &cart), &cart.cleared(), None).await.unwrap();
    let now = store.variant_states(&a, std::slice::from_ref(&s)).await.unwrap();
    assert_eq!((now.len(), now[0].stock, now[0].price_minor), (1, 3, 4200));
}

fn order_of(tenant: &TenantId, conversation: &ConversationId, cart: &Cart) -> Order {
    Order {
        id: OrderId::generate(),
        tenant_id: tenant.clone(),
        conversation_id: conversation.clone(),
        lines: cart.lines.clone(),
        total_minor: cart.subtotal_minor(),
        currency: cart.currency,
        status: "placed".into(),
        created_at: now_ms(),
    }
}

async fn place_order_refuses_a_price_that_changed(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    let plenty = stocked(&*store, &t, "PLENTY", 10).await;
    let tee = stocked(&*store, &t, "TEE", 10).await;
    let cart = cart_of(&plenty, 2).add(&tee, None, engine::domain::Quantity::parse(3).unwrap()).unwrap();
    store.save_cart(&t, &c, &cart, None).await.unwrap();
    assert_eq!(cart.lines[1].unit_price_minor, 1500);

    // The price moves after the cart was validated (an import, an edit).
    reimport(&*store, &tee, 1700, 10).await;
    let order = order_of(&t, &c, &cart);
    match store.place_order(&order, &cart.cleared(), None).await {
        Err(StoreError::PriceChanged { sku, price_minor }) => assert_eq!((sku.as_str(), price_minor), ("TEE", 1700)),
        other => panic!("expected PriceChanged, got {other:?}"),
    }
    assert_eq!((stock(&*store, &plenty).await, stock(&*store, &tee).await), (10, 10), "nothing was decremented");
    assert_eq!(store.get_order(&t, &order.id).await.unwrap(), None);
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), Some(cart.clone()), "the cart is as it was");

    // Short stock at an unchanged price is still out of stock, not a price change.
    reimport(&*store, &tee, 1500, 1).await;
    assert!(matches!(
        store.place_order(&order_of(&t, &c, &cart), &cart.cleared(), None).await,
        Err(StoreError::OutOfStock { available: 1, .. })
    ));
    // At the price in the store, the order goes through.
    reimport(&*store, &tee, 1500, 10).await;
    store.place_order(&order_of(&t, &c, &cart), &cart.cleared(), None).await.expect("order at the current price");
    assert_eq!(stock(&*store, &tee).await, 7);
}

// --- cart commands ------------------------------------------------------------------

async fn another_shoppers_order_refuses_add_and_set_above_what_is_left(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let p = stocked(&*store, &t, "LAST", 5).await;
    let carts = service(&store);
    let mut a = Shopper::new(&*store, &t).await;
    let mut b = Shopper::new(&*store, &t).await;
    b.add(&carts, &p, 1).await.expect("B adds one while 5 are left");

    // A buys 3 (the snapshot still says 5, and is trusted for an hour).
    a.add(&carts, &p, 3).await.unwrap();
    placed(a.apply(&carts, CartOp::Checkout).await);
    assert_eq!(stock(&*store, &p).await, 2);

    let before = b.cart.clone();
    let f = refused(b.add(&carts, &p, 2).await);
    assert_eq!(f.code, ErrorCode::OutOfStock);
    assert!(f.message.contains("only 2"), "{}", f.message);
    assert_eq!(f.cart, None);
    let f = refused(b.set(&carts, &p, 3).await);
    assert_eq!(f.code, ErrorCode::OutOfStock);
    assert_eq!(b.cart, before, "a refused command leaves the cart as it was");
    assert_eq!(store.load_cart(&t, &b.conversation).await.unwrap(), Some(before));
    b.set(&carts, &p, 2).await.expect("what is left can be had");

    // A buys the rest; B's add of one more is refused, B's line is what is left.
    let mut c = Shopper::new(&*store, &t).await;
    b.set(&carts, &p, 1).await.unwrap();
    c.add(&carts, &p, 1).await.unwrap();
    placed(c.apply(&carts, CartOp::Checkout).await);
    let f = refused(b.add(&carts, &p, 1).await);
    assert_eq!((f.code, f.message.contains("only 1")), (ErrorCode::OutOfStock, true), "{}", f.message);
    placed(b.apply(&carts, CartOp::Checkout).await);
    assert_eq!(stock(&*store, &p).await, 0);
    let mut d = Shopper::new(&*store, &t).await;
    let f = refused(d.add(&carts, &p, 1).await);
    assert_eq!((f.code, f.message.contains("only 0")), (ErrorCode::OutOfStock, true), "{}", f.message);
}

async fn a_line_above_what_is_left_is_cut_and_told_once(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let scarce = stocked(&*store, &t, "SCARCE", 5).await;
    let gone = stocked(&*store, &t, "GONE", 5).await;
    let deleted = stocked(&*store, &t, "DELETED", 5).await;
    let mug = stocked(&*store, &t, "MUG", 50).await;
    let carts = service(&store);
    let mut a = Shopper::new(&*store, &t).await;
    let mut b = Shopper::new(&*store, &t).await;
    b.add(&carts, &scarce, 4).await.unwrap();
    b.add(&carts, &gone, 2).await.unwrap();
    b.add(&carts, &deleted, 1).await.unwrap();

    a.add(&carts, &scarce, 3).await.unwrap();
    a.add(&carts, &gone, 5).await.unwrap();
    placed(a.apply(&carts, CartOp::Checkout).await);
    store.delete_product(&t, &deleted.id).await.unwrap();

    let out = b.add(&carts, &mug, 1).await;
    let cut = notices(&out);
    assert_eq!(cut.len(), 3, "{cut:?}");
    assert!(cut.contains(&CartNotice::QuantityReduced {
        product_id: scarce.id.clone(),
        variant_id: scarce.variants[0].id.clone(),
        sku: scarce.variants[0].sku.clone(),
        title: scarce.title.clone(),
        old_quantity: 4,
        new_quantity: 2,
    }));
    assert!(cut.iter().any(|n| matches!(n, CartNotice::OutOfStock { sku, old_quantity: 2, .. } if sku.as_str() == "GONE")));
    assert!(cut.iter().any(|n| matches!(n, CartNotice::Removed { sku, .. } if sku.as_str() == "DELETED")));
    let lines: Vec<(String, u32)> = b.cart.lines.iter().map(|l| (l.sku.to_string(), l.quantity)).collect();
    assert_eq!(lines, vec![("SCARCE".to_string(), 2), ("MUG".to_string(), 1)]);
    assert_eq!(store.load_cart(&t, &b.conversation).await.unwrap(), Some(b.cart.clone()));

    // Told once: the next command has nothing to tell, and the cut cart checks out.
    assert!(notices(&b.apply(&carts, CartOp::Get).await).is_empty());
    let order = placed(b.apply(&carts, CartOp::Checkout).await);
    assert_eq!(order.total_minor, 2 * 1500 + 1500);
    assert_eq!(stock(&*store, &scarce).await, 0);
}

async fn an_import_that_changes_a_price_is_noticed_by_the_next_cart_op(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let tee = stocked(&*store, &t, "TEE", 20).await;
    let mug = stocked(&*store, &t, "MUG", 20).await;
    let carts = service(&store);
    let mut s = Shopper::new(&*store, &t).await;
    s.add(&carts, &tee, 2).await.unwrap();
    assert!(notices(&s.apply(&carts, CartOp::Get).await).is_empty(), "nothing changed yet");

    reimport(&*store, &tee, 1800, 20).await;
    let out = s.add(&carts, &mug, 1).await;
    assert_eq!(
        notices(&out),
        vec![CartNotice::PriceChanged {
            product_id: tee.id.clone(),
            variant_id: tee.variants[0].id.clone(),
            sku: tee.variants[0].sku.clone(),
            title: tee.title.clone(),
            old_unit_price_minor: 1500,
            new_unit_price_minor: 1800,
        }]
    );
    assert_eq!(s.cart.line(&tee.variants[0].id).unwrap().unit_price_minor, 1800);
    assert_eq!(s.cart.subtotal_minor(), 2 * 1800 + 1500);
    assert!(notices(&s.add(&carts, &mug, 1).await).is_empty(), "a notice is told once");

    // A change of the line the command is about is told too, and `cart.get` tells it.
    reimport(&*store, &mug, 1200, 20).await;
    let out = s.add(&carts, &mug, 1).await;
    assert!(
        matches!(notices(&out).as_slice(), [CartNotice::PriceChanged { old_unit_price_minor: 1500, new_unit_price_minor: 1200, .. }]),
        "{out:?}"
    );
    reimport(&*store, &tee, 1600, 20).await;
    let out = s.apply(&carts, CartOp::Get).await;
    assert!(matches!(notices(&out).as_slice(), [CartNotice::PriceChanged { new_unit_price_minor: 1600, .. }]), "{out:?}");
    assert_eq!(store.load_cart(&t, &s.conversation).await.unwrap(), Some(s.cart.clone()), "the repriced cart is saved");
}

async fn checkout_after_an_unseen_price_change_is_refused_then_succeeds(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let tee = stocked(&*store, &t, "TEE", 20).await;
    let carts = service(&store);
    let mut s = Shopper::new(&*store, &t).await;
    s.add(&carts, &tee, 2).await.unwrap();
    let shown = s.cart.clone();

    reimport(&*store, &tee, 2100, 20).await;
    let f = refused(s.apply(&carts, CartOp::Checkout).await);
    assert_eq!(f.code, ErrorCode::PriceChanged);
    assert!(f.message.contains("1500") && f.message.contains("2100"), "{}", f.message);
    assert!(matches!(f.notices.as_slice(), [CartNotice::PriceChanged { old_unit_price_minor: 1500, new_unit_price_minor: 2100, .. }]));
    let updated = f.cart.expect("the refusal carries the updated cart");
    assert_eq!(updated.lines[0].unit_price_minor, 2100);
    assert!(updated.version > shown.version);
    assert_eq!(store.load_cart(&t, &s.conversation).await.unwrap(), Some(*updated));
    assert!(store.list_orders(&t, 10).await.unwrap().is_empty(), "nothing was charged");
    assert_eq!(stock(&*store, &tee).await, 20);

    // The shopper has now seen the new price: the next checkout charges it.
    let order = placed(s.apply(&carts, CartOp::Checkout).await);
    assert_eq!(order.total_minor, 2 * 2100);
    assert_eq!(order.lines[0].unit_price_minor, 2100);
    assert_eq!(stock(&*store, &tee).await, 18);

    // Stock that fell below the cart refuses the checkout with out_of_stock and the cut cart.
    s.add(&carts, &tee, 5).await.unwrap();
    reimport(&*store, &tee, 2100, 3).await;
    let f = refused(s.apply(&carts, CartOp::Checkout).await);
    assert_eq!(f.code, ErrorCode::OutOfStock);
    assert!(matches!(f.notices.as_slice(), [CartNotice::QuantityReduced { old_quantity: 5, new_quantity: 3, .. }]));
    assert_eq!(placed(s.apply(&carts, CartOp::Checkout).await).total_minor, 3 * 2100);
}

async fn concurrent_shoppers_never_oversell_and_refused_adds_are_out_of_stock(store: Arc<dyn Store>) {
    const STOCK: i64 = 7;
    const SHOPPERS: usize = 16;
    let t = seed_tenant(&*store, "T").await;
    let p = stocked(&*store, &t, "LIMITED", STOCK).await;
    let carts = Arc::new(service(&store));
    let mut tasks = Vec::new();
    for _ in 0..SHOPPERS {
        let (store, carts, t, p) = (store.clone(), carts.clone(), t.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = Shopper::new(&*store, &t).await;
            // Each shopper tries until it has bought one or none is left.
            for _ in 0..SHOPPERS {
                if let Err(f) = s.add(&carts, &p, 1).await {
                    assert_eq!(f.code, ErrorCode::OutOfStock, "a refused add is out_of_stock: {f:?}");
                    return false;
                }
                match s.apply(&carts, CartOp::Checkout).await {
                    Ok(CartOutcome::Placed { order, .. }) => {
                        assert_eq!(order.total_minor, 1500);
                        return true;
                    }
                    Err(f) => {
                        assert_eq!(f.code, ErrorCode::OutOfStock, "a refused checkout is out_of_stock: {f:?}");
                        assert!(s.cart.is_empty(), "the line was cut to what is left (none)");
                    }
                    Ok(other) => panic!("unexpected outcome {other:?}"),
                }
            }
            panic!("a shopper neither bought nor was refused");
        }));
    }
    let mut bought = 0;
    for task in tasks {
        bought += usize::from(task.await.expect("shopper task"));
    }
    assert_eq!(bought, STOCK as usize);
    assert_eq!(stock(&*store, &p).await, 0);
    assert_eq!(store.list_orders(&t, 100).await.unwrap().len(), STOCK as usize);
}
