//! The `Store` conformance suite. Every test is written once, as an `async fn` taking
//! a store, and `store_tests!` runs it on each engine (`store::<test>::sqlite` and
//! `store::<test>::postgres`), in the manner of ripgrep's `rgtest!`: the embedded and
//! the distributed store must be interchangeable.

use std::sync::Arc;

use engine_sql::{PostgresStore, SqliteStore, connect_store};
use engine::domain::{
    Cart, CommandId, ConversationId, Currency, DeploymentId, Order, OrderId, Product, ProductId, Quantity, Sku,
    TenantId,
};
use engine::ports::store::{
    Deployment, Role, Store, StoreError, StoredEvent, TenantSettings, TranscriptMessage, Upserted,
};

use crate::support::{VariantSpec, now_ms, pg_url, sample_product, sample_tenant, seed_conversation, seed_tenant};

/// Instantiates each named test once per engine.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (store, _dir) = crate::support::sqlite_store().await;
                super::$name(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::support::postgres_store().await).await;
            }
        }
    )*};
}

pub(crate) use store_tests;

store_tests!(
    ping_and_backend,
    tenants_and_settings_round_trip,
    deployments_by_key_revoke_and_listing,
    upsert_creates_then_updates_keeping_ids,
    upsert_refuses_unknown_tenant_and_invalid_products,
    list_products_pages_by_sku,
    product_by_sku_delete_and_catalog_version,
    catalog_is_isolated_between_tenants,
    events_append_read_and_acks,
    event_log_is_isolated_between_tenants,
    conversations_and_transcript,
    carts_save_load_and_command_idempotency,
    carts_are_isolated_between_tenants,
    place_order_decrements_stock_and_empties_cart,
    out_of_stock_order_changes_nothing,
    orders_are_isolated_between_tenants,
    concurrent_checkouts_never_oversell,
    concurrent_upserts_of_one_sku_make_one_product,
    catalog_writes_and_checkouts_interleave_without_deadlock,
);

fn cmd(s: &str) -> CommandId {
    CommandId::parse(s).expect("command id")
}

pub(crate) fn event(seq: i64, command: Option<&str>) -> StoredEvent {
    let kind = if command.is_some() { "ack" } else { "cart" };
    StoredEvent {
        seq,
        kind: kind.into(),
        json: format!(r#"{{"type":"{kind}","seq":{seq}}}"#),
        command_id: command.map(str::to_string),
        command: None,
    }
}

fn order_for(tenant: &TenantId, conversation: &ConversationId, cart: &Cart) -> Order {
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

/// A stored product with one variant of `stock` units, and its tenant.
pub(crate) async fn stocked(store: &dyn Store, tenant: &TenantId, sku: &str, stock: i64) -> Product {
    let mut p = sample_product(tenant, sku, &[(sku, &[], 1500, stock)]);
    store.upsert_product(&mut p).await.expect("upsert");
    p
}

async fn stock_of(store: &dyn Store, p: &Product) -> Vec<i64> {
    let stored = store.get_product(&p.tenant_id, &p.id).await.expect("get").expect("product exists");
    stored.variants.iter().map(|v| v.stock).collect()
}

async fn ping_and_backend(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
    assert!(["sqlite", "postgres"].contains(&store.backend()));
}

async fn tenants_and_settings_round_trip(store: Arc<dyn Store>) {
    let tenant = sample_tenant("Acme");
    store.create_tenant(&tenant).await.expect("create");
    assert_eq!(store.get_tenant(&tenant.id).await.unwrap(), Some(tenant.clone()));
    assert_eq!(store.get_tenant(&TenantId::generate()).await.unwrap(), None);
    assert!(matches!(store.create_tenant(&tenant).await, Err(StoreError::Conflict(_))));

    let settings = TenantSettings {
        bot_name: "Rosie \"the\" bot ✨".into(),
        greeting: "Hello!\nWhat can I find for you?".into(),
        persona: "Cheerful, brief.".into(),
        language: "fr".into(),
        currency: Currency::parse("EUR").unwrap(),
        llm: engine::ports::store::LlmSettings { api_key: Some("gsk_tenant_own".into()), model: Some("openai/gpt-oss-20b".into()) },
    };
    store.update_tenant_settings(&tenant.id, &settings).await.expect("update settings");
    let stored = store.get_tenant(&tenant.id).await.unwrap().expect("tenant");
    assert_eq!(stored.settings, settings);
    assert_eq!(stored.name, "Acme");
    assert!(matches!(store.update_tenant_settings(&TenantId::generate(), &settings).await, Err(StoreError::NotFound)));
}

fn deployment(tenant: &TenantId, name: &str, origins: &[&str]) -> Deployment {
    Deployment {
        id: DeploymentId::generate(),
        tenant_id: tenant.clone(),
        name: name.into(),
        key: format!("pk_{}", uuid::Uuid::new_v4().simple()),
        allowed_origins: origins.iter().map(|o| o.to_string()).collect(),
        revoked: false,
        created_at: now_ms(),
    }
}

async fn deployments_by_key_revoke_and_listing(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let a1 = deployment(&a, "shop", &["https://shop.example", "https://www.shop.example"]);
    let a2 = deployment(&a, "staging", &[]);
    let b1 = deployment(&b, "b-shop", &["https://b.example"]);
    for d in [&a1, &a2, &b1] {
        store.create_deployment(d).await.expect("create deployment");
    }
    assert_eq!(store.deployment_by_key(&a1.key).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.deployment_by_key("pk_nope").await.unwrap(), None);

    let listed = store.list_deployments(&a).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|d| d.tenant_id == a));
    assert_eq!(store.list_deployments(&b).await.unwrap(), vec![b1.clone()]);

    // Another tenant's deployment is not found, and stays live.
    assert!(matches!(store.revoke_deployment(&b, &a1.id).await, Err(StoreError::NotFound)));
    assert!(!store.deployment_by_key(&a1.key).await.unwrap().unwrap().revoked);
    store.revoke_deployment(&a, &a1.id).await.expect("revoke");
    assert!(store.deployment_by_key(&a1.key).await.unwrap().unwrap().revoked);
    assert!(!store.deployment_by_key(&a2.key).await.unwrap().unwrap().revoked);

    let mut same_key = deployment(&b, "dup", &[]);
    same_key.key = a2.key.clone();
    assert!(matches!(store.create_deployment(&same_key).await, Err(StoreError::Conflict(_))));
    let mut unknown_tenant = deployment(&TenantId::generate(), "ghost", &[]);
    unknown_tenant.key.push('x');
    assert!(store.create_deployment(&unknown_tenant).await.is_err());
}

async fn upsert_creates_then_updates_keeping_ids(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let mut first = sample_product(
        &t,
        "MH01",
        &[
            ("MH01-S-Black", &[("size", "S"), ("color", "Black")], 4200, 3),
            ("MH01-M-Black", &[("size", "M"), ("color", "Black")], 4200, 5),
        ],
    );
    first.image_url = Some("https://img.example/mh01.jpg".into());
    let proposed_id = first.id.clone();
    assert_eq!(store.upsert_product(&mut first).await.unwrap(), Upserted::Created);
    assert_eq!(first.id, proposed_id, "a new product keeps the id it came with");
    assert_eq!(store.get_product(&t, &first.id).await.unwrap(), Some(first.clone()));

    // The same SKU again, as an import would build it: fresh ids, one variant
    // changed, one dropped, one added.
    let mut second = sample_product(
        &t,
        "MH01",
        &[
            ("MH01-M-Black", &[("size", "M"), ("color", "Black")], 3900, 7),
            ("MH01-L-Black", &[("size", "L"), ("color", "Black")], 3900, 2),
        ],
    );
    second.title = "Hero Hoodie".into();
    assert_eq!(store.upsert_product(&mut second).await.unwrap(), Upserted::Updated);
    assert_eq!(second.id, first.id, "the stored product id is kept and written back");
    assert_eq!(second.variants[0].id, first.variants[1].id, "a variant keeps its id by SKU");
    assert_ne!(second.variants[1].id, first.variants[0].id);

    let stored = store.get_product(&t, &first.id).await.unwrap().expect("product");
    assert_eq!(stored, second);
    assert_eq!(stored.title, "Hero Hoodie");
    assert_eq!(stored.variants.iter().map(|v| (v.price_minor, v.stock)).collect::<Vec<_>>(), [(3900, 7), (3900, 2)]);
    assert!(stored.variant(&first.variants[0].id).is_none(), "the dropped variant is deleted");

    // A new SKU proposing the id of a variant being dropped gets a fresh id.
    let mut third = second.clone();
    third.variants[1].sku = Sku::parse("MH01-XL-Black").unwrap();
    let reused = third.variants[1].id.clone();
    store.upsert_product(&mut third).await.expect("upsert with renamed variant");
    assert_ne!(third.variants[1].id, reused);
    assert_eq!(store.get_product(&t, &first.id).await.unwrap(), Some(third));
}

async fn upsert_refuses_unknown_tenant_and_invalid_products(store: Arc<dyn Store>) {
    let mut ghost = sample_product(&TenantId::generate(), "GHOST", &[]);
    assert!(matches!(store.upsert_product(&mut ghost).await, Err(StoreError::NotFound)));

    let t = seed_tenant(&*store, "T").await;
    let mut twice =
        sample_product(&t, "TWICE", &[("X-1", &[("size", "S")], 100, 1), ("X-1", &[("size", "M")], 100, 1)]);
    assert!(matches!(store.upsert_product(&mut twice).await, Err(StoreError::Conflict(_))));
    let mut negative = sample_product(&t, "NEG", &[("NEG", &[], 100, -1)]);
    assert!(matches!(store.upsert_product(&mut negative).await, Err(StoreError::Conflict(_))));
    assert!(store.list_products(&t, None, 10).await.unwrap().is_empty());
    assert_eq!(store.catalog_version(&t).await.unwrap(), 0, "a refused upsert changes nothing");
}

async fn list_products_pages_by_sku(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let other = seed_tenant(&*store, "Other").await;
    for sku in ["b-2", "A-1", "c-3", "B-1", "a-0"] {
        let mut p = sample_product(
            &t,
            sku,
            &[(&format!("{sku}-S"), &[("size", "S")], 100, 1), (&format!("{sku}-M"), &[("size", "M")], 200, 0)],
        );
        store.upsert_product(&mut p).await.unwrap();
    }
    let mut foreign = sample_product(&other, "A-0", &[]);
    store.upsert_product(&mut foreign).await.unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_products(&t, cursor.as_deref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        for p in &page {
            assert_eq!(p.tenant_id, t);
            let sizes: Vec<&str> = p.variants.iter().map(|v| v.options["size"].as_str()).collect();
            assert_eq!(sizes, ["S", "M"], "variants keep their order");
        }
        seen.extend(page.iter().map(|p| p.sku.to_string()));
        cursor = page.last().map(|p| p.sku.to_string());
    }
    // Bytewise order on both engines: upper case before lower case.
    assert_eq!(seen, ["A-1", "B-1", "a-0", "b-2", "c-3"]);
    assert_eq!(store.list_products(&t, Some("zzz"), 10).await.unwrap(), vec![]);
    assert_eq!(store.list_products(&t, None, 100).await.unwrap().len(), 5);
}

async fn product_by_sku_delete_and_catalog_version(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    assert_eq!(store.catalog_version(&t).await.unwrap(), 0);
    assert!(matches!(store.catalog_version(&TenantId::generate()).await, Err(StoreError::NotFound)));

    let p = stocked(&*store, &t, "MUG", 4).await;
    assert_eq!(store.catalog_version(&t).await.unwrap(), 1);
    let mut again = p.clone();
    store.upsert_product(&mut again).await.unwrap();
    assert_eq!(store.catalog_version(&t).await.unwrap(), 2);

    let sku = Sku::parse("MUG").unwrap();
    assert_eq!(store.product_by_sku(&t, &sku).await.unwrap(), Some(p.clone()));
    assert_eq!(store.product_by_sku(&t, &Sku::parse("NOPE").unwrap()).await.unwrap(), None);
    assert_eq!(store.get_product(&t, &ProductId::generate()).await.unwrap(), None);

    store.delete_product(&t, &p.id).await.expect("delete");
    assert_eq!(store.catalog_version(&t).await.unwrap(), 3);
    assert_eq!(store.get_product(&t, &p.id).await.unwrap(), None);
    assert_eq!(store.product_by_sku(&t, &sku).await.unwrap(), None);
    assert!(matches!(store.delete_product(&t, &p.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.catalog_version(&t).await.unwrap(), 3, "a failed delete bumps nothing");

    // The SKU is free again, for a new product.
    let back = stocked(&*store, &t, "MUG", 1).await;
    assert_ne!(back.id, p.id);
}

async fn catalog_is_isolated_between_tenants(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let pb = stocked(&*store, &b, "SHARED-SKU", 3).await;
    let pa = stocked(&*store, &a, "SHARED-SKU", 9).await;
    assert_ne!(pa.id, pb.id, "the same SKU in two tenants is two products");
    let version_a = store.catalog_version(&a).await.unwrap();

    assert_eq!(store.get_product(&a, &pb.id).await.unwrap(), None);
    assert_eq!(store.product_by_sku(&a, &pb.sku).await.unwrap(), Some(pa.clone()));
    assert_eq!(store.list_products(&a, None, 100).await.unwrap(), vec![pa.clone()]);
    assert!(matches!(store.delete_product(&a, &pb.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.get_product(&b, &pb.id).await.unwrap(), Some(pb.clone()));
    assert_eq!(store.catalog_version(&a).await.unwrap(), version_a);

    // Tenant A cannot take over B's product by upserting under its id.
    let mut hijack = sample_product(&a, "OTHER-SKU", &[]);
    hijack.id = pb.id.clone();
    assert!(store.upsert_product(&mut hijack).await.is_err());
    assert_eq!(store.get_product(&b, &pb.id).await.unwrap(), Some(pb));
}

async fn events_append_read_and_acks(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    assert_eq!(store.last_seq(&t, &c).await.unwrap(), 0);
    assert!(store.events_after(&t, &c, 0, 10).await.unwrap().is_empty());

    let batch = [event(1, Some("cmd-1")), event(2, None), event(3, Some("cmd-2"))];
    store.append_events(&t, &c, &batch).await.expect("append");
    store.append_events(&t, &c, &[]).await.expect("an empty batch is fine");
    assert_eq!(store.events_after(&t, &c, 0, 10).await.unwrap(), batch.to_vec());
    assert_eq!(store.events_after(&t, &c, 1, 1).await.unwrap(), vec![batch[1].clone()]);
    assert!(store.events_after(&t, &c, 3, 10).await.unwrap().is_empty());
    assert_eq!(store.last_seq(&t, &c).await.unwrap(), 3);
    assert_eq!(store.command_acks(&t, &c, 100).await.unwrap(), vec![("cmd-1".into(), 1), ("cmd-2".into(), 3)]);

    // A batch with a used seq fails as a whole.
    let dup = store.append_events(&t, &c, &[event(4, None), event(3, None)]).await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    assert_eq!(store.last_seq(&t, &c).await.unwrap(), 3);
    // A command id is acknowledged once per conversation.
    let again = store.append_events(&t, &c, &[event(4, Some("cmd-1"))]).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");

    // Another conversation has its own seq and command ids.
    let c2 = seed_conversation(&*store, &t).await;
    store.append_events(&t, &c2, &[event(1, Some("cmd-1"))]).await.expect("own log");
    assert_eq!(store.last_seq(&t, &c2).await.unwrap(), 1);
    assert_eq!(store.last_seq(&t, &c).await.unwrap(), 3);
    assert!(matches!(
        store.append_events(&t, &ConversationId::generate(), &[event(1, None)]).await,
        Err(StoreError::NotFound)
    ));
}

async fn event_log_is_isolated_between_tenants(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let ca = seed_conversation(&*store, &a).await;
    store.append_events(&a, &ca, &[event(1, Some("x")), event(2, None)]).await.unwrap();

    assert!(store.events_after(&b, &ca, 0, 100).await.unwrap().is_empty());
    assert_eq!(store.last_seq(&b, &ca).await.unwrap(), 0);
    assert!(store.command_acks(&b, &ca, 100).await.unwrap().is_empty());
    assert!(matches!(store.append_events(&b, &ca, &[event(3, None)]).await, Err(StoreError::NotFound)));
    assert_eq!(store.last_seq(&a, &ca).await.unwrap(), 2);
}

async fn conversations_and_transcript(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let c1 = seed_conversation(&*store, &a).await;
    let c2 = seed_conversation(&*store, &a).await;
    let cb = seed_conversation(&*store, &b).await;

    let record = store.get_conversation(&a, &c1).await.unwrap().expect("conversation");
    assert_eq!((record.messages, record.last_message_at, record.dialogue_state.as_str()), (0, None, "{}"));
    assert_eq!(store.get_conversation(&b, &c1).await.unwrap(), None);

    store.save_dialogue_state(&a, &c1, r#"{"last_shown":["p_1"]}"#).await.unwrap();
    assert!(matches!(store.save_dialogue_state(&b, &c1, "{}").await, Err(StoreError::NotFound)));
    assert_eq!(store.get_conversation(&a, &c1).await.unwrap().unwrap().dialogue_state, r#"{"last_shown":["p_1"]}"#);

    let t0 = now_ms();
    let msgs = [
        TranscriptMessage { role: Role::Shopper, text: "do you have hoodies?".into(), at: t0 },
        TranscriptMessage {
            role: Role::Assistant,
            text: "Yes: the Hero Hoodie.".into(),
            at: t0 + chrono::Duration::milliseconds(5),
        },
        TranscriptMessage {
            role: Role::Staff,
            text: "Hi, Sam here 👋".into(),
            at: t0 + chrono::Duration::milliseconds(9),
        },
    ];
    for m in &msgs {
        store.append_message(&a, &c1, m).await.expect("append message");
    }
    assert_eq!(store.transcript(&a, &c1).await.unwrap(), msgs.to_vec());
    let record = store.get_conversation(&a, &c1).await.unwrap().unwrap();
    assert_eq!(record.messages, 3);
    assert_eq!(record.last_message_at, Some(msgs[2].at));

    assert!(store.transcript(&b, &c1).await.unwrap().is_empty());
    assert!(matches!(store.append_message(&b, &c1, &msgs[0]).await, Err(StoreError::NotFound)));
    assert_eq!(store.transcript(&a, &c1).await.unwrap().len(), 3);

    let listed = store.list_conversations(&a, 10).await.unwrap();
    let mut ids: Vec<_> = listed.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    let mut want = vec![c1.clone(), c2.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(store.list_conversations(&a, 1).await.unwrap().len(), 1);
    assert_eq!(store.list_conversations(&b, 10).await.unwrap().into_iter().map(|r| r.id).collect::<Vec<_>>(), vec![cb]);
}

/// A cart of `qty` units of `product`'s only variant.
pub(crate) fn cart_of(product: &Product, qty: i64) -> Cart {
    Cart::empty(Currency::USD).add(product, None, Quantity::parse(qty).unwrap()).expect("add to cart")
}

async fn carts_save_load_and_command_idempotency(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    let p = stocked(&*store, &t, "TEE", 50).await;
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), None);

    let v1 = cart_of(&p, 2);
    store.save_cart(&t, &c, &v1, Some(&cmd("add-1"))).await.expect("save");
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), Some(v1.clone()));
    assert_eq!(store.cart_command(&t, &c, &cmd("add-1")).await.unwrap(), Some(v1.version));
    assert_eq!(store.cart_command(&t, &c, &cmd("add-2")).await.unwrap(), None);

    // The same command again is refused, and the cart stays as it was.
    let v2 = v1.add(&p, None, Quantity::parse(3).unwrap()).unwrap();
    let again = store.save_cart(&t, &c, &v2, Some(&cmd("add-1"))).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), Some(v1.clone()));

    store.save_cart(&t, &c, &v2, Some(&cmd("add-2"))).await.unwrap();
    let v3 = v2.remove(&p.id, None).unwrap();
    store.save_cart(&t, &c, &v3, None).await.expect("save without a command");
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), Some(v3));
    assert_eq!(store.cart_command(&t, &c, &cmd("add-2")).await.unwrap(), Some(v2.version));
}

async fn carts_are_isolated_between_tenants(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let ca = seed_conversation(&*store, &a).await;
    let p = stocked(&*store, &a, "TEE", 50).await;
    let cart = cart_of(&p, 1);
    store.save_cart(&a, &ca, &cart, Some(&cmd("k"))).await.unwrap();

    assert_eq!(store.load_cart(&b, &ca).await.unwrap(), None);
    assert_eq!(store.cart_command(&b, &ca, &cmd("k")).await.unwrap(), None);
    let mut evil = cart.clone();
    evil.lines[0].unit_price_minor = 1;
    evil.version += 1;
    assert!(matches!(store.save_cart(&b, &ca, &evil, Some(&cmd("k2"))).await, Err(StoreError::NotFound)));
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(cart));
    assert_eq!(store.cart_command(&a, &ca, &cmd("k2")).await.unwrap(), None);
}

async fn place_order_decrements_stock_and_empties_cart(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    let mut hoodie =
        sample_product(&t, "MH01", &[("MH01-S", &[("size", "S")], 4200, 5), ("MH01-M", &[("size", "M")], 4500, 3)]);
    store.upsert_product(&mut hoodie).await.unwrap();
    let mug = stocked(&*store, &t, "MUG", 10).await;

    let cart = Cart::empty(Currency::USD)
        .add(&hoodie, Some(&hoodie.variants[0].id), Quantity::parse(2).unwrap())
        .and_then(|c| c.add(&hoodie, Some(&hoodie.variants[1].id), Quantity::parse(3).unwrap()))
        .and_then(|c| c.add(&mug, None, Quantity::parse(1).unwrap()))
        .unwrap();
    store.save_cart(&t, &c, &cart, None).await.unwrap();
    let order = order_for(&t, &c, &cart);
    assert_eq!(order.total_minor, 2 * 4200 + 3 * 4500 + 1500);
    let emptied = cart.cleared();
    store.place_order(&order, &emptied, Some(&cmd("checkout-1"))).await.expect("place order");

    assert_eq!(stock_of(&*store, &hoodie).await, [3, 0]);
    assert_eq!(stock_of(&*store, &mug).await, [9]);
    assert_eq!(store.get_order(&t, &order.id).await.unwrap(), Some(order.clone()));
    assert_eq!(store.list_orders(&t, 10).await.unwrap(), vec![order.clone()]);
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), Some(emptied.clone()));
    assert_eq!(store.cart_command(&t, &c, &cmd("checkout-1")).await.unwrap(), Some(emptied.version));
    assert_eq!(store.get_order(&t, &OrderId::generate()).await.unwrap(), None);

    // The same checkout command again is a conflict and places nothing.
    let replay = order_for(&t, &c, &cart_of(&mug, 1));
    let again = store.place_order(&replay, &emptied, Some(&cmd("checkout-1"))).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(stock_of(&*store, &mug).await, [9]);
    assert_eq!(store.get_order(&t, &replay.id).await.unwrap(), None);

    // A second order: listed newest first.
    let c2 = seed_conversation(&*store, &t).await;
    let mut second = order_for(&t, &c2, &cart_of(&mug, 2));
    second.created_at = order.created_at + chrono::Duration::seconds(1);
    store.place_order(&second, &Cart::empty(Currency::USD), None).await.unwrap();
    let ids: Vec<OrderId> = store.list_orders(&t, 10).await.unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![second.id.clone(), order.id.clone()]);
    assert_eq!(store.list_orders(&t, 1).await.unwrap(), vec![second]);
}

async fn out_of_stock_order_changes_nothing(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    let plenty = stocked(&*store, &t, "PLENTY", 10).await;
    let scarce = stocked(&*store, &t, "SCARCE", 5).await;
    let cart = cart_of(&plenty, 4).add(&scarce, None, Quantity::parse(3).unwrap()).unwrap();
    store.save_cart(&t, &c, &cart, Some(&cmd("add"))).await.unwrap();

    // Stock drops after the cart was filled (another shopper, an import).
    let mut lowered = scarce.clone();
    lowered.variants[0].stock = 1;
    store.upsert_product(&mut lowered).await.unwrap();

    let order = order_for(&t, &c, &cart);
    let err = store.place_order(&order, &cart.cleared(), Some(&cmd("checkout"))).await;
    match err {
        Err(StoreError::OutOfStock { sku, available }) => {
            assert_eq!(sku, "SCARCE");
            assert_eq!(available, 1);
        }
        other => panic!("expected OutOfStock, got {other:?}"),
    }
    assert_eq!(stock_of(&*store, &plenty).await, [10], "no line of a refused order is decremented");
    assert_eq!(stock_of(&*store, &scarce).await, [1]);
    assert_eq!(store.get_order(&t, &order.id).await.unwrap(), None);
    assert!(store.list_orders(&t, 10).await.unwrap().is_empty());
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), Some(cart));
    assert_eq!(store.cart_command(&t, &c, &cmd("checkout")).await.unwrap(), None);

    // A deleted product is out of stock, with nothing available.
    store.delete_product(&t, &plenty.id).await.unwrap();
    let gone = order_for(&t, &c, &cart_of(&plenty, 1));
    assert!(matches!(
        store.place_order(&gone, &Cart::empty(Currency::USD), None).await,
        Err(StoreError::OutOfStock { available: 0, .. })
    ));
}

async fn orders_are_isolated_between_tenants(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let ca = seed_conversation(&*store, &a).await;
    let cb = seed_conversation(&*store, &b).await;
    let pa = stocked(&*store, &a, "A-TEE", 5).await;
    let order = order_for(&a, &ca, &cart_of(&pa, 1));
    store.place_order(&order, &Cart::empty(Currency::USD), None).await.unwrap();

    assert_eq!(store.get_order(&b, &order.id).await.unwrap(), None);
    assert!(store.list_orders(&b, 10).await.unwrap().is_empty());

    // B ordering A's variant: not B's stock, so none is available, and A's is untouched.
    let stolen = order_for(&b, &cb, &cart_of(&pa, 1));
    let err = store.place_order(&stolen, &Cart::empty(Currency::USD), None).await;
    assert!(matches!(err, Err(StoreError::OutOfStock { available: 0, .. })), "{err:?}");
    assert_eq!(stock_of(&*store, &pa).await, [4]);
    // B emptying A's cart through an order of its own fails and changes nothing.
    let pb = stocked(&*store, &b, "B-TEE", 5).await;
    let cart_a = cart_of(&pa, 2);
    store.save_cart(&a, &ca, &cart_a, None).await.unwrap();
    let sneaky = order_for(&b, &ca, &cart_of(&pb, 1));
    assert!(matches!(store.place_order(&sneaky, &Cart::empty(Currency::USD), None).await, Err(StoreError::NotFound)));
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(cart_a));
    assert_eq!(stock_of(&*store, &pb).await, [5]);
}

async fn concurrent_checkouts_never_oversell(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let p = stocked(&*store, &t, "LIMITED", 5).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        let t = t.clone();
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let c = seed_conversation(&*store, &t).await;
            let cart = cart_of(&p, 1);
            store.save_cart(&t, &c, &cart, None).await.expect("save cart");
            store.place_order(&order_for(&t, &c, &cart), &cart.cleared(), None).await
        }));
    }
    let (mut placed, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => placed += 1,
            Err(StoreError::OutOfStock { available, .. }) => {
                assert!(available >= 0);
                refused += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((placed, refused), (5, 5));
    assert_eq!(stock_of(&*store, &p).await, [0]);
    assert_eq!(store.list_orders(&t, 100).await.unwrap().len(), 5);
}

async fn concurrent_upserts_of_one_sku_make_one_product(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut p = sample_product(&t, "RACE", &[("RACE", &[], 100 + i, 1)]);
            store.upsert_product(&mut p).await.map(|outcome| (outcome, p.id))
        }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for task in tasks {
        let (outcome, id) = task.await.expect("task").expect("upsert");
        created += usize::from(outcome == Upserted::Created);
        ids.push(id);
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "every upsert wrote back the one stored id");
    assert_eq!(store.list_products(&t, None, 10).await.unwrap().len(), 1);
    assert_eq!(store.catalog_version(&t).await.unwrap(), 8);
}

/// Imports rewriting a product (its variants listed in another order each time) while
/// shoppers check out carts holding all of its variants: every write takes its locks
/// in one order, so nothing deadlocks and nothing fails but for stock.
async fn catalog_writes_and_checkouts_interleave_without_deadlock(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let specs: [VariantSpec<'static>; 3] = [
        ("K-S", &[("size", "S")], 100, 1000),
        ("K-M", &[("size", "M")], 100, 1000),
        ("K-L", &[("size", "L")], 100, 1000),
    ];
    let mut product = sample_product(&t, "K", &specs);
    store.upsert_product(&mut product).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, t, product) = (store.clone(), t.clone(), product.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                let c = seed_conversation(&*store, &t).await;
                let mut cart = Cart::empty(Currency::USD);
                for k in 0..3 {
                    let v = &product.variants[(i + k) % 3];
                    cart = cart.add(&product, Some(&v.id), Quantity::ONE).unwrap();
                }
                store.save_cart(&t, &c, &cart, None).await?;
                store.place_order(&order_for(&t, &c, &cart), &cart.cleared(), None).await?;
            }
            Ok::<(), StoreError>(())
        }));
    }
    for i in 0..2 {
        let (store, t) = (store.clone(), t.clone());
        tasks.push(tokio::spawn(async move {
            for round in 0..5 {
                let mut order = specs;
                order.rotate_left((i + round) % 3);
                let mut p = sample_product(&t, "K", &order);
                store.upsert_product(&mut p).await?;
            }
            Ok(())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("no write fails");
    }
    let stored = store.get_product(&t, &product.id).await.unwrap().expect("product");
    assert_eq!(stored.variants.len(), 3);
    assert!(stored.variants.iter().all(|v| v.stock >= 0 && v.stock <= 1000));
    assert_eq!(store.list_orders(&t, 100).await.unwrap().len(), 30);
}

// --- engine-specific checks ---------------------------------------------------------

/// Data that does not parse is reported, never a panic.
async fn corrupt_rows_are_errors(store: &dyn Store, t: &TenantId, c: &ConversationId) {
    assert!(matches!(store.load_cart(t, c).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.get_tenant(t).await, Err(StoreError::Corrupt(_))));
}

const CORRUPT_CART: &str = "UPDATE carts SET lines = '[{\"oops\":' WHERE conversation_id = $1";
const CORRUPT_TENANT: &str = "UPDATE tenants SET settings = 'not json' WHERE id = $1";

#[tokio::test]
async fn sqlite_corrupt_json_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("a.db").to_str().unwrap()).await.unwrap();
    let t = seed_tenant(&store, "T").await;
    let c = seed_conversation(&store, &t).await;
    store.save_cart(&t, &c, &Cart::empty(Currency::USD), None).await.unwrap();
    sqlx::query(CORRUPT_CART).bind(c.as_str()).execute(store.pool()).await.unwrap();
    sqlx::query(CORRUPT_TENANT).bind(t.as_str()).execute(store.pool()).await.unwrap();
    corrupt_rows_are_errors(&store, &t, &c).await;
}

#[tokio::test]
async fn postgres_corrupt_json_is_an_error() {
    let schema = format!("aisle_test_{}_{}", chrono::Utc::now().timestamp(), uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect_with_schema(&pg_url(), &schema)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required at {}: {e}", pg_url()));
    let t = seed_tenant(&store, "T").await;
    let c = seed_conversation(&store, &t).await;
    store.save_cart(&t, &c, &Cart::empty(Currency::USD), None).await.unwrap();
    sqlx::query(CORRUPT_CART).bind(c.as_str()).execute(store.pool()).await.unwrap();
    sqlx::query(CORRUPT_TENANT).bind(t.as_str()).execute(store.pool()).await.unwrap();
    corrupt_rows_are_errors(&store, &t, &c).await;
}

#[tokio::test]
async fn connect_store_picks_the_engine_by_scheme() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("nested/dir/aisle.db").display());
    let sqlite = connect_store(&url).await.expect("sqlite URL");
    assert_eq!(sqlite.backend(), "sqlite");
    let t = seed_tenant(&*sqlite, "T").await;
    drop(sqlite);
    let reopened = connect_store(&url).await.expect("reopen");
    assert!(reopened.get_tenant(&t).await.unwrap().is_some(), "data survives a reopen");

    let memory = connect_store("sqlite::memory:").await.expect("in-memory");
    seed_tenant(&*memory, "M").await;

    // PostgreSQL, in a schema of its own (named by the URL's `options[search_path]`)
    // rather than the shared database's default one.
    let schema = format!("aisle_test_{}_{}", chrono::Utc::now().timestamp(), uuid::Uuid::new_v4().simple());
    let first = PostgresStore::connect_with_schema(&pg_url(), &schema)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL is required at {}: {e}", pg_url()));
    let t = seed_tenant(&first, "P").await;
    let sep = if pg_url().contains('?') { '&' } else { '?' };
    let pg = connect_store(&format!("{}{sep}options[search_path]={schema}", pg_url())).await.expect("postgres URL");
    assert_eq!(pg.backend(), "postgres");
    assert!(pg.get_tenant(&t).await.unwrap().is_some());

    assert!(connect_store("mysql://localhost/x").await.is_err());
}
