//! What the conversation actor promises about its commands and sockets, on a real
//! SQLite store: an acknowledged cart command is applied exactly once even when the
//! process died between its ack and its effect; sockets are a set; a resume from any
//! depth never waits on the conversation; a write the store refuses leaves nothing
//! stuck.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actors::{Command, Conversations, Replay, Services, outbox};
use engine_sql::SqliteStore;
use engine_assistant::OfflineAssistant;
use engine::carts::{CartOp, CartService};
use engine::catalog::CatalogCache;
use engine::domain::{CommandId, ConversationId, Currency, DeploymentId, Product, ProductId, Sku, TenantId, Variant, VariantId};
use engine::ports::store::{ConversationRecord, Store, StoredEvent, Tenant, TenantSettings};
use engine::retrieval::KeywordRetriever;
use serde_json::Value;

use super::{next, until};

pub(crate) struct World {
    dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    pub(crate) tenant: TenantId,
    pub(crate) conversation: ConversationId,
    product: ProductId,
}

async fn open_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
    Arc::new(SqliteStore::open(dir.path().join("aisle.db").to_str().unwrap()).await.unwrap())
}

impl World {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&dir).await;
        let tenant = Tenant {
            id: TenantId::generate(),
            name: "Shop".into(),
            plan: "pro".into(),
            status: "active".into(),
            settings: TenantSettings::default(),
            created_at: chrono::Utc::now(),
        };
        store.create_tenant(&tenant).await.unwrap();
        let conversation = ConversationRecord {
            id: ConversationId::generate(),
            tenant_id: tenant.id.clone(),
            deployment_id: DeploymentId::generate(),
            started_at: chrono::Utc::now(),
            last_message_at: None,
            messages: 0,
            dialogue_state: "{}".into(),
        };
        store.create_conversation(&conversation).await.unwrap();
        let mut product = Product {
            id: ProductId::generate(),
            tenant_id: tenant.id.clone(),
            sku: Sku::parse("MUG").unwrap(),
            title: "Mug".into(),
            description_html: "A mug".into(),
            description_text: "A mug".into(),
            category: "Kitchen".into(),
            tags: vec![],
            image_url: None,
            options: vec![],
            currency: Currency::USD,
            variants: vec![Variant {
                id: VariantId::generate(),
                sku: Sku::parse("MUG").unwrap(),
                title: "Mug".into(),
                options: BTreeMap::new(),
                price_minor: 1200,
                stock: 10_000,
            }],
        };
        store.upsert_product(&mut product).await.unwrap();
        Self { dir, store, tenant: tenant.id, conversation: conversation.id, product: product.id }
    }

    /// A fresh set of actors over the same database, as after a restart, with the
    /// offline assistant.
    async fn start(&self, idle: Duration) -> Conversations {
        let catalog = Arc::new(CatalogCache::new(self.store.clone()));
        let retriever: Arc<dyn engine::ports::retriever::Retriever> = Arc::new(KeywordRetriever::new(catalog));
        self.start_with(idle, Arc::new(OfflineAssistant::new(retriever))).await
    }

    /// The same with another model.
    pub(crate) async fn start_with(&self, idle: Duration, model: Arc<dyn engine::ports::llm::LanguageModel>) -> Conversations {
        let store = open_store(&self.dir).await;
        let catalog = Arc::new(CatalogCache::new(store.clone()));
        let retriever: Arc<dyn engine::ports::retriever::Retriever> = Arc::new(KeywordRetriever::new(catalog.clone()));
        let services = Arc::new(Services {
            store: store.clone(),
            catalog: catalog.clone(),
            carts: Arc::new(CartService::new(catalog.clone())),
            retriever,
            model,
            remote: None,
            jobs: None,
            idle_timeout: idle,
        });
        Conversations::start(services).await.unwrap()
    }

    fn add(&self, id: &str, quantity: i64) -> Command {
        Command::Cart {
            id: CommandId::parse(id).unwrap(),
            op: CartOp::Add { product_id: self.product.clone(), variant_id: None, quantity },
        }
    }

    fn get(&self, id: &str) -> Command {
        Command::Cart { id: CommandId::parse(id).unwrap(), op: CartOp::Get }
    }

    async fn quantity_in_store(&self) -> i64 {
        let cart = self.store.load_cart(&self.tenant, &self.conversation).await.unwrap();
        cart.map_or(0, |c| c.lines.iter().map(|l| i64::from(l.quantity)).sum())
    }
}

fn quantity(cart_event: &Value) -> i64 {
    cart_event["cart"]["items"].as_array().unwrap().iter().map(|i| i["quantity"].as_i64().unwrap()).sum()
}

async fn wait_until_passivated(conversations: &Conversations) {
    for _ in 0..400 {
        if conversations.live().await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the idle conversation was never passivated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_acknowledged_before_a_crash_is_applied_once_on_rehydration() {
    let w = World::new().await;
    // The crash: the ack (with its command) is durable, the cart was never written.
    let op = CartOp::Add { product_id: w.product.clone(), variant_id: None, quantity: 3 };
    let ack = StoredEvent {
        seq: 1,
        kind: "ack".into(),
        json: r#"{"seq":1,"type":"ack","id":"add-1"}"#.into(),
        command_id: Some("add-1".into()),
        command: Some(serde_json::to_string(&op).unwrap()),
    };
    w.store.append_events(&w.tenant, &w.conversation, &[ack]).await.unwrap();
    assert_eq!(w.quantity_in_store().await, 0);

    let conversations = w.start(Duration::from_secs(300)).await;
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, attached) = conversations.attach(&w.tenant, &w.conversation, socket, tx, Some(1)).await.unwrap();
    // Applied before the conversation took its first socket: the welcome shows it,
    // and the resume replays its `cart` event.
    assert_eq!(attached.cart.items.iter().map(|i| i.quantity).sum::<u32>(), 3, "the acknowledged command was applied");
    assert_eq!(attached.seq, 2);
    let Replay::Frames(frames) = &attached.replay else { panic!("{:?}", attached.replay) };
    let cart: Value = serde_json::from_str(&frames[0]).unwrap();
    assert_eq!((cart["type"].as_str(), cart["seq"].as_i64(), quantity(&cart)), (Some("cart"), Some(2), 3), "its effect is the next event, with no gap");
    let stored = w.store.load_cart(&w.tenant, &w.conversation).await.unwrap().unwrap();
    assert_eq!(stored.applied_seq, 1);

    // The shopper re-sends it (it never saw the ack): the original ack, nothing applied.
    handle.command(socket, w.add("add-1", 3)).unwrap();
    let again = next(&mut rx).await;
    assert_eq!((again["type"].as_str(), again["seq"].as_i64()), (Some("ack"), Some(1)), "{again}");
    handle.command(socket, w.get("look")).unwrap();
    let cart = until(&mut rx, |f| f["type"] == "cart").await.pop().unwrap();
    assert_eq!(quantity(&cart), 3, "never applied twice: {cart}");
    handle.detach(socket);
    drop(conversations);

    // Another restart: nothing is left to apply, so nothing is applied again.
    let conversations = w.start(Duration::from_secs(300)).await;
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, attached) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    assert_eq!(attached.cart.items.iter().map(|i| i.quantity).sum::<u32>(), 3);
    handle.command(socket, w.add("add-2", 1)).unwrap();
    let frames = until(&mut rx, |f| f["type"] == "cart").await;
    assert_eq!(frames[0]["seq"].as_i64(), Some(attached.seq + 1), "{frames:?}");
    assert_eq!(quantity(frames.last().unwrap()), 4);
    assert_eq!(w.quantity_in_store().await, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_acknowledged_before_a_crash_places_one_order_on_rehydration() {
    let w = World::new().await;
    let conversations = w.start(Duration::from_secs(300)).await;
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    handle.command(socket, w.add("add-1", 2)).unwrap();
    let frames = until(&mut rx, |f| f["type"] == "cart").await;
    // An add's ack and its effect are one write: numbered one after the other.
    assert_eq!((frames[0]["type"].as_str(), frames[0]["seq"].as_i64()), (Some("ack"), Some(1)), "{frames:?}");
    assert_eq!(frames.last().unwrap()["seq"], 2);
    assert_eq!(w.store.load_cart(&w.tenant, &w.conversation).await.unwrap().unwrap().applied_seq, 1, "the cart records its ack");
    handle.detach(socket);
    drop(conversations);

    // The crash: the checkout's ack (with its command) is durable, the order was never
    // placed.
    let ack = StoredEvent {
        seq: 3,
        kind: "ack".into(),
        json: r#"{"seq":3,"type":"ack","id":"pay"}"#.into(),
        command_id: Some("pay".into()),
        command: Some(serde_json::to_string(&CartOp::Checkout).unwrap()),
    };
    w.store.append_events(&w.tenant, &w.conversation, &[ack]).await.unwrap();
    assert!(w.store.list_orders(&w.tenant, 10).await.unwrap().is_empty());

    let conversations = w.start(Duration::from_secs(300)).await;
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let (handle, attached) = conversations.attach(&w.tenant, &w.conversation, socket, tx, Some(3)).await.unwrap();
    assert!(attached.cart.items.is_empty(), "the acknowledged checkout emptied the cart");
    let Replay::Frames(frames) = &attached.replay else { panic!("{:?}", attached.replay) };
    let kinds: Vec<String> = frames.iter().map(|f| serde_json::from_str::<Value>(f).unwrap()["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(kinds, ["order", "cart"], "its outcome follows, with no gap");
    let orders = w.store.list_orders(&w.tenant, 10).await.unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].total_minor, 2400);
    // The shopper re-sends it: the original ack, and no second order.
    handle.command(socket, Command::Cart { id: CommandId::parse("pay").unwrap(), op: CartOp::Checkout }).unwrap();
    let again = next(&mut rx).await;
    assert_eq!((again["type"].as_str(), again["seq"].as_i64()), (Some("ack"), Some(3)), "{again}");
    handle.command(socket, w.add("add-2", 1)).unwrap();
    let frames = until(&mut rx, |f| f["type"] == "cart").await;
    assert_eq!(frames[0]["seq"].as_i64(), Some(attached.seq + 1), "{frames:?}");
    assert_eq!(quantity(frames.last().unwrap()), 1);
    assert_eq!(w.store.list_orders(&w.tenant, 10).await.unwrap().len(), 1, "one order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_repeated_while_it_is_applied_is_applied_and_acknowledged_once() {
    let w = World::new().await;
    let conversations = w.start(Duration::from_secs(300)).await;
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    // The same id three times in a row (a client re-sending on a flaky link), then
    // another command: the repeats arrive while the first is being decided.
    for _ in 0..3 {
        handle.command(socket, w.add("twice", 2)).unwrap();
    }
    handle.command(socket, w.add("after", 1)).unwrap();
    let mut frames = Vec::new();
    while !frames.iter().any(|f: &Value| f["type"] == "ack" && f["id"] == "after") || frames.iter().filter(|f| f["type"] == "cart").count() < 2 {
        frames.push(next(&mut rx).await);
    }
    let acks: Vec<&Value> = frames.iter().filter(|f| f["type"] == "ack" && f["id"] == "twice").collect();
    assert_eq!(acks.len(), 1, "one ack for the repeated id: {frames:?}");
    let carts: Vec<i64> = frames.iter().filter(|f| f["type"] == "cart").map(quantity).collect();
    assert_eq!(carts, [2, 3], "applied once, then the next command: {frames:?}");
    assert_eq!(w.quantity_in_store().await, 3);
    // Once answered, a repeat gets the original ack again, to this socket only.
    handle.command(socket, w.add("twice", 2)).unwrap();
    let again = next(&mut rx).await;
    assert_eq!((again["type"].as_str(), again["seq"].as_i64()), (Some("ack"), acks[0]["seq"].as_i64()), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_conversation_rests_after_a_reattach_a_dropped_socket_or_an_abandoned_attach() {
    let w = World::new().await;
    let conversations = w.start(Duration::from_millis(100)).await;

    // The same socket attaches twice (a re-attach) and detaches once.
    let socket = actors::next_socket_id();
    let (tx, _rx1) = outbox(actors::OUTBOX_BYTES);
    conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    let (tx, _rx2) = outbox(actors::OUTBOX_BYTES);
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    handle.detach(socket);
    wait_until_passivated(&conversations).await;

    // An attach whose caller gave up (its receiver is gone) and never detached.
    let (tx, rx) = outbox(actors::OUTBOX_BYTES);
    conversations.attach(&w.tenant, &w.conversation, actors::next_socket_id(), tx, None).await.unwrap();
    drop(rx);
    wait_until_passivated(&conversations).await;

    // A slow consumer the log drops: it never reads, another socket keeps sending.
    let (slow_tx, slow_rx) = outbox(256);
    let slow = actors::next_socket_id();
    conversations.attach(&w.tenant, &w.conversation, slow, slow_tx, None).await.unwrap();
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let reader = actors::next_socket_id();
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, reader, tx, None).await.unwrap();
    for i in 0..20 {
        handle.command(reader, w.get(&format!("get-{i}"))).unwrap();
    }
    let frames = until(&mut rx, |f| f["type"] == "cart" && f["seq"].as_i64() >= Some(40)).await;
    assert!(frames.iter().all(|f| f["type"] != "error"), "{frames:?}");
    assert!(slow_rx.overflowed(), "the slow socket was dropped");
    handle.detach(reader);
    drop(rx);
    // `slow_rx` is still held: a dropped socket does not count as attached.
    wait_until_passivated(&conversations).await;
    drop(slow_rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_from_deep_history_never_holds_up_the_conversation() {
    let w = World::new().await;
    let events: Vec<StoredEvent> = (1..=5000)
        .map(|seq| StoredEvent {
            seq,
            kind: "cart".into(),
            json: format!(r#"{{"seq":{seq},"type":"cart","cart":{{}}}}"#),
            command_id: None,
            command: None,
        })
        .collect();
    w.store.append_events(&w.tenant, &w.conversation, &events).await.unwrap();
    let conversations = w.start(Duration::from_secs(300)).await;

    // A socket resumes from the very start and does not read at all.
    let (tx, idle_rx) = outbox(actors::OUTBOX_BYTES);
    let (_, attached) = conversations.attach(&w.tenant, &w.conversation, actors::next_socket_id(), tx, Some(0)).await.unwrap();
    assert_eq!(attached.seq, 5000);
    assert!(matches!(attached.replay, Replay::Store { after: 0, upto: 5000 }), "{:?}", attached.replay);

    // Meanwhile another socket is served at once.
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    handle.command(socket, w.add("a", 1)).unwrap();
    let frames = until(&mut rx, |f| f["type"] == "cart").await;
    assert_eq!(frames[0]["seq"], 5001);
    assert_eq!(quantity(frames.last().unwrap()), 1);

    // A resume within the memory window gets its frames from memory.
    let (tx, _rx) = outbox(actors::OUTBOX_BYTES);
    let (_, attached) = conversations.attach(&w.tenant, &w.conversation, actors::next_socket_id(), tx, Some(5000)).await.unwrap();
    match attached.replay {
        Replay::Frames(frames) => assert_eq!(frames.len(), 2, "the ack and the cart after 5000"),
        other => panic!("{other:?}"),
    }
    drop(idle_rx);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_the_store_refuses_leaves_no_conversation_stuck() {
    let w = World::new().await;
    let conversations = w.start(Duration::from_secs(300)).await;
    let socket = actors::next_socket_id();
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    handle.command(socket, w.add("first", 1)).unwrap();
    until(&mut rx, |f| f["type"] == "cart").await;

    // The real store refuses every new event (a trigger, through another connection).
    let db = format!("sqlite://{}", w.dir.path().join("aisle.db").display());
    let mut admin = <sqlx::SqliteConnection as sqlx::Connection>::connect(&db).await.unwrap();
    sqlx::query("CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END")
        .execute(&mut admin)
        .await
        .unwrap();
    handle.command(socket, w.add("refused", 1)).unwrap();
    // The log could not write: the conversation's sockets are closed (no ack came).
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = Vec::new();
        while let Some(f) = rx.recv().await {
            seen.push(f);
        }
        seen
    })
    .await
    .expect("the socket is closed");
    assert!(ended.iter().all(|f| !f.contains("\"refused\"")), "the refused command was never acknowledged: {ended:?}");

    sqlx::query("DROP TRIGGER refuse").execute(&mut admin).await.unwrap();
    // The next command works, on the conversation rebuilt from the store.
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let (handle, attached) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    assert_eq!(attached.seq, 2, "only what was written counts: the ack and cart of the first command");
    handle.command(socket, w.add("refused", 1)).unwrap();
    let frames = until(&mut rx, |f| f["type"] == "cart").await;
    assert_eq!(frames[0]["type"], "ack");
    assert_eq!(frames[0]["seq"], 3, "seq stays gap-free");
    assert_eq!(quantity(frames.last().unwrap()), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_ids_older_than_the_memory_window_are_found_in_the_store() {
    let w = World::new().await;
    let n = actors::ACK_WINDOW as i64 + 100;
    let events: Vec<StoredEvent> = (1..=n)
        .map(|seq| StoredEvent {
            seq,
            kind: "ack".into(),
            json: format!(r#"{{"seq":{seq},"type":"ack","id":"c{seq}"}}"#),
            command_id: Some(format!("c{seq}")),
            command: None,
        })
        .collect();
    w.store.append_events(&w.tenant, &w.conversation, &events).await.unwrap();
    let conversations = w.start(Duration::from_secs(300)).await;
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    // The oldest id is not in memory any more: the store answers, and it is the
    // original ack, not a second application.
    handle.command(socket, w.add("c1", 1)).unwrap();
    // Commands behind the lookup keep their order.
    handle.command(socket, w.add("new-1", 1)).unwrap();
    handle.command(socket, w.add(&format!("c{n}"), 1)).unwrap();
    let first = next(&mut rx).await;
    assert_eq!((first["type"].as_str(), first["id"].as_str(), first["seq"].as_i64()), (Some("ack"), Some("c1"), Some(1)), "{first}");
    // The new command's ack comes with its effect (after the cart decided it), so
    // the old id's original ack, answered from memory, may come first.
    let mut frames = Vec::new();
    while !(frames.iter().any(|f: &Value| f["type"] == "ack" && f["id"] == format!("c{n}"))
        && frames.iter().any(|f: &Value| f["type"] == "cart"))
    {
        frames.push(next(&mut rx).await);
    }
    let ack = |id: &str| frames.iter().find(|f| f["type"] == "ack" && f["id"] == id).cloned();
    assert_eq!(ack("new-1").expect("new-1 acked")["seq"], n + 1, "a new command gets a new seq: {frames:?}");
    assert_eq!(ack(&format!("c{n}")).unwrap()["seq"], n, "the newest old id is answered from memory");
    let cart = frames.iter().find(|f| f["type"] == "cart").unwrap();
    assert_eq!(cart["seq"], n + 2, "the effect follows its ack: {frames:?}");
    assert_eq!(quantity(cart), 1, "only the new command was applied: {cart}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_commands_past_the_in_flight_bound_are_refused_and_none_is_lost() {
    let w = World::new().await;
    let conversations = w.start(Duration::from_secs(300)).await;
    let (tx, mut rx) = outbox(actors::OUTBOX_BYTES);
    let socket = actors::next_socket_id();
    let (handle, _) = conversations.attach(&w.tenant, &w.conversation, socket, tx, None).await.unwrap();
    let sent = actors::MAX_INFLIGHT_CART * 3;
    for i in 0..sent {
        handle.command(socket, w.add(&format!("burst-{i}"), 1)).unwrap();
    }
    let (mut acked, mut refused, mut carts, mut last) = (0, 0, 0, 0);
    while acked + refused < sent || carts < acked {
        let f = next(&mut rx).await;
        match f["type"].as_str() {
            Some("ack") => acked += 1,
            Some("error") => {
                assert_eq!(f["code"], "rate_limited", "{f}");
                refused += 1;
            }
            Some("cart") => {
                carts += 1;
                last = quantity(&f);
            }
            _ => {}
        }
    }
    assert!(acked >= actors::MAX_INFLIGHT_CART, "at least a window's worth is taken: {acked}");
    assert_eq!(acked + refused, sent, "every command is answered once");
    assert_eq!(last as usize, acked, "every acknowledged add is in the cart once");
    assert_eq!(w.quantity_in_store().await as usize, acked);
}
