//! Acknowledged means applied, exactly once — the store's half, on both engines: an
//! `ack` event keeps its cart command, a cart keeps the `seq` of the last command it
//! applied (`applied_seq`), and `pending_commands` finds what was acknowledged but not
//! applied. And `CartService::apply`, which records that `seq` also for a refused
//! command and never applies a command at or below it twice.

use std::sync::Arc;

use engine::carts::{CartOp, CartOutcome, CartService};
use engine::catalog::CatalogCache;
use engine::domain::{Cart, Currency, ProductId};
use engine::events::ErrorCode;
use engine::ports::store::{CartSave, PendingCommand, Store, StoredEvent};

use crate::store::{cart_of, event, stocked, store_tests};
use crate::support::{seed_conversation, seed_tenant};

store_tests!(
    ack_events_keep_their_command_and_pending_ones_are_found,
    command_acks_window_and_single_lookup,
    carts_keep_applied_seq_in_every_write,
    cart_service_records_applied_seq_once,
);

fn ack_with(seq: i64, id: &str, op: &CartOp) -> StoredEvent {
    StoredEvent { command: Some(serde_json::to_string(op).unwrap()), ..event(seq, Some(id)) }
}

fn add(p: &ProductId, quantity: i64) -> CartOp {
    CartOp::Add { product_id: p.clone(), variant_id: None, quantity }
}

async fn ack_events_keep_their_command_and_pending_ones_are_found(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let c = seed_conversation(&*store, &a).await;
    let p = stocked(&*store, &a, "TEE", 50).await;
    let (op1, op2) = (add(&p.id, 1), add(&p.id, 2));
    let events = [ack_with(1, "c1", &op1), event(2, None), event(3, Some("get-1")), ack_with(4, "c2", &op2)];
    store.append_events(&a, &c, &events[..2]).await.unwrap();
    store.append_event_groups(&[engine::ports::store::EventGroup { tenant: &a, conversation: &c, events: &events[2..], cart: None }]).await.unwrap();
    assert_eq!(store.events_after(&a, &c, 0, 10).await.unwrap(), events.to_vec(), "the command is read back");

    let all = store.pending_commands(&a, &c, 0).await.unwrap();
    let body = |op: &CartOp| serde_json::to_string(op).unwrap();
    assert_eq!(
        all,
        vec![
            PendingCommand { seq: 1, command_id: "c1".into(), command: body(&op1) },
            PendingCommand { seq: 4, command_id: "c2".into(), command: body(&op2) },
        ],
        "only acks that carry a command, in order"
    );
    let after_first = store.pending_commands(&a, &c, 1).await.unwrap();
    assert_eq!(after_first.iter().map(|p| p.seq).collect::<Vec<_>>(), vec![4]);
    assert!(store.pending_commands(&a, &c, 4).await.unwrap().is_empty());
    let decoded: CartOp = serde_json::from_str(&after_first[0].command).unwrap();
    assert_eq!(decoded, op2, "the command round-trips");
    assert!(store.pending_commands(&b, &c, 0).await.unwrap().is_empty(), "another tenant sees nothing");
}

async fn command_acks_window_and_single_lookup(store: Arc<dyn Store>) {
    let a = seed_tenant(&*store, "A").await;
    let b = seed_tenant(&*store, "B").await;
    let c = seed_conversation(&*store, &a).await;
    let events: Vec<StoredEvent> = (1..=10).map(|seq| event(seq, Some(&format!("cmd-{seq}")))).collect();
    store.append_events(&a, &c, &events).await.unwrap();
    let newest = store.command_acks(&a, &c, 3).await.unwrap();
    assert_eq!(newest, vec![("cmd-8".into(), 8), ("cmd-9".into(), 9), ("cmd-10".into(), 10)], "the newest, in seq order");
    assert_eq!(store.command_ack(&a, &c, "cmd-2").await.unwrap(), Some(2), "an old id is found by itself");
    assert_eq!(store.command_ack(&a, &c, "cmd-11").await.unwrap(), None);
    assert_eq!(store.command_ack(&b, &c, "cmd-2").await.unwrap(), None, "never across tenants");
}

async fn carts_keep_applied_seq_in_every_write(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    let c2 = seed_conversation(&*store, &t).await;
    let p = stocked(&*store, &t, "TEE", 50).await;

    let mut cart = cart_of(&p, 2);
    cart.applied_seq = 7;
    store.save_cart(&t, &c, &cart, None).await.unwrap();
    assert_eq!(store.load_cart(&t, &c).await.unwrap().unwrap().applied_seq, 7);

    // The group commit writes it too.
    let mut other = cart_of(&p, 1);
    other.applied_seq = 3;
    cart.applied_seq = 9;
    store
        .save_carts(&[CartSave { tenant: &t, conversation: &c, cart: &cart }, CartSave { tenant: &t, conversation: &c2, cart: &other }])
        .await
        .unwrap();
    assert_eq!(store.load_cart(&t, &c).await.unwrap().unwrap().applied_seq, 9);
    assert_eq!(store.load_cart(&t, &c2).await.unwrap().unwrap().applied_seq, 3);

    // And a checkout, in the order's transaction.
    let mut emptied = cart.cleared();
    emptied.applied_seq = 12;
    let order = engine::domain::Order {
        id: engine::domain::OrderId::generate(),
        tenant_id: t.clone(),
        conversation_id: c.clone(),
        lines: cart.lines.clone(),
        total_minor: cart.subtotal_minor(),
        currency: cart.currency,
        status: "placed".into(),
        created_at: chrono::Utc::now(),
    };
    store.place_order(&order, &emptied, None).await.unwrap();
    let stored = store.load_cart(&t, &c).await.unwrap().unwrap();
    assert!(stored.is_empty());
    assert_eq!(stored.applied_seq, 12);
}

async fn cart_service_records_applied_seq_once(store: Arc<dyn Store>) {
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    let p = stocked(&*store, &t, "TEE", 50).await;
    let service = CartService::new(Arc::new(CatalogCache::new(store.clone())));
    let empty = Cart::empty(Currency::USD);

    let first = service.apply(&t, &c, &empty, &add(&p.id, 2), Some(5)).await;
    let cart = first.result.expect("applied").cart().clone();
    assert_eq!((cart.item_count(), cart.applied_seq), (2, 5));
    assert_eq!(store.load_cart(&t, &c).await.unwrap(), Some(cart.clone()));

    // The same command again (a redo after a crash that came after the write) changes
    // nothing: its seq is not above the cart's.
    let again = service.apply(&t, &c, &cart, &add(&p.id, 2), Some(5)).await;
    assert_eq!(again.result.expect("no-op").cart().item_count(), 2);
    assert_eq!(store.load_cart(&t, &c).await.unwrap().unwrap().item_count(), 2);

    // A refused command is decided too: the lines stay, `applied_seq` moves on, so a
    // redo would not apply it later when it might succeed.
    let refused = service.apply(&t, &c, &cart, &add(&p.id, 98), Some(6)).await;
    assert_eq!(refused.result.as_ref().map_err(|f| f.code), Err(ErrorCode::BadRequest), "past 99 on a line");
    assert_eq!((refused.cart.item_count(), refused.cart.applied_seq), (2, 6));
    let stored = store.load_cart(&t, &c).await.unwrap().unwrap();
    assert_eq!((stored.item_count(), stored.applied_seq, stored.version), (2, 6, cart.version));

    // An assistant's change keeps the cart's applied_seq.
    let by_model = service.apply(&t, &c, &refused.cart, &add(&p.id, 1), None).await;
    assert_eq!(by_model.cart.applied_seq, 6);
    assert_eq!(store.load_cart(&t, &c).await.unwrap().unwrap().applied_seq, 6);

    // A checkout records it in the order's transaction.
    let placed = service.apply(&t, &c, &by_model.cart, &CartOp::Checkout, Some(8)).await;
    assert!(matches!(placed.result, Ok(CartOutcome::Placed { .. })));
    let stored = store.load_cart(&t, &c).await.unwrap().unwrap();
    assert_eq!((stored.is_empty(), stored.applied_seq), (true, 8));
    // Reading the cart records nothing.
    let got = service.apply(&t, &c, &stored, &CartOp::Get, Some(9)).await;
    assert_eq!(got.cart.applied_seq, 8);
    assert_eq!(store.load_cart(&t, &c).await.unwrap().unwrap().applied_seq, 8);
}
