//! Store conformance, group commits: the events and carts of many conversations in
//! one write, never crossing tenants, on SQLite and PostgreSQL alike; and SQLite's
//! WAL checkpointed off the writer.

use std::sync::Arc;

use engine::domain::Quantity;
use engine::ports::store::{Store, StoredEvent};

use crate::store::{cart_of, event, stocked, store_tests};
use crate::support::{seed_conversation, seed_tenant};

store_tests!(
    event_groups_commit_together_or_not_at_all,
    cart_groups_save_together_or_not_at_all,
    events_and_their_carts_are_one_write
);

async fn event_groups_commit_together_or_not_at_all(store: Arc<dyn Store>) {
    use engine::ports::store::EventGroup;
    let (a, b) = (seed_tenant(&*store, "A").await, seed_tenant(&*store, "B").await);
    let (ca, cb) = (seed_conversation(&*store, &a).await, seed_conversation(&*store, &b).await);
    let ea = [event(1, Some("cmd-1")), event(2, None)];
    let eb: Vec<StoredEvent> = (1..=70).map(|i| event(i, None)).collect(); // more than one chunk
    let groups = [
        EventGroup { tenant: &a, conversation: &ca, events: &ea, cart: None },
        EventGroup { tenant: &b, conversation: &cb, events: &eb, cart: None },
    ];
    store.append_event_groups(&groups).await.expect("group write");
    assert_eq!(store.events_after(&a, &ca, 0, 100).await.unwrap(), ea.to_vec());
    assert_eq!(store.events_after(&b, &cb, 0, 100).await.unwrap(), eb);
    assert_eq!(store.command_acks(&a, &ca, 100).await.unwrap(), vec![("cmd-1".into(), 1)]);

    // A group naming B's conversation as A's writes nothing at all.
    let more_a = [event(3, None)];
    let forged = [event(71, None)];
    let bad = [
        EventGroup { tenant: &a, conversation: &ca, events: &more_a, cart: None },
        EventGroup { tenant: &a, conversation: &cb, events: &forged, cart: None },
    ];
    assert!(store.append_event_groups(&bad).await.is_err());
    assert_eq!(store.last_seq(&a, &ca).await.unwrap(), 2, "nothing of a refused group is written");
    assert_eq!(store.last_seq(&b, &cb).await.unwrap(), 70);

    // A used seq fails the whole group too.
    let dup = [event(2, None)];
    let conflict = [
        EventGroup { tenant: &b, conversation: &cb, events: &[event(71, None)], cart: None },
        EventGroup { tenant: &a, conversation: &ca, events: &dup, cart: None },
    ];
    assert!(store.append_event_groups(&conflict).await.is_err());
    assert_eq!(store.last_seq(&b, &cb).await.unwrap(), 70);
}

async fn cart_groups_save_together_or_not_at_all(store: Arc<dyn Store>) {
    use engine::ports::store::CartSave;
    let (a, b) = (seed_tenant(&*store, "A").await, seed_tenant(&*store, "B").await);
    let (ca, cb) = (seed_conversation(&*store, &a).await, seed_conversation(&*store, &b).await);
    let (pa, pb) = (stocked(&*store, &a, "TEE", 50).await, stocked(&*store, &b, "MUG", 50).await);
    let (a1, b1) = (cart_of(&pa, 1), cart_of(&pb, 4));
    store
        .save_carts(&[CartSave { tenant: &a, conversation: &ca, cart: &a1 }, CartSave { tenant: &b, conversation: &cb, cart: &b1 }])
        .await
        .expect("group save");
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.load_cart(&b, &cb).await.unwrap(), Some(b1.clone()));

    // Updates go through ON CONFLICT; a save naming B's conversation as A's is an
    // error and never touches B's cart (A's own may or may not be saved).
    let a2 = a1.add(&pa, None, Quantity::parse(2).unwrap()).unwrap();
    let forged = cart_of(&pa, 9);
    let bad = [CartSave { tenant: &a, conversation: &ca, cart: &a2 }, CartSave { tenant: &a, conversation: &cb, cart: &forged }];
    assert!(store.save_carts(&bad).await.is_err());
    let now = store.load_cart(&a, &ca).await.unwrap();
    assert!(now == Some(a1.clone()) || now == Some(a2.clone()), "{now:?}");
    assert_eq!(store.load_cart(&b, &cb).await.unwrap(), Some(b1), "B's cart is untouched");
    store.save_carts(&[CartSave { tenant: &a, conversation: &ca, cart: &a2 }]).await.unwrap();
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(a2));
}

/// A shopper command's `ack`, its outcome and the cart it leaves are one write: a
/// group with its cart saves both, and when any part is refused (a forged cart, a
/// used `seq`) neither the events nor any cart of the write is kept.
async fn events_and_their_carts_are_one_write(store: Arc<dyn Store>) {
    use engine::ports::store::EventGroup;
    let (a, b) = (seed_tenant(&*store, "A").await, seed_tenant(&*store, "B").await);
    let (ca, cb) = (seed_conversation(&*store, &a).await, seed_conversation(&*store, &b).await);
    let (pa, pb) = (stocked(&*store, &a, "TEE", 50).await, stocked(&*store, &b, "MUG", 50).await);
    let mut a1 = cart_of(&pa, 1);
    a1.applied_seq = 1;
    let mut b1 = cart_of(&pb, 3);
    b1.applied_seq = 1;
    let (ea, eb) = ([event(1, Some("cmd-a")), event(2, None)], [event(1, Some("cmd-b"))]);
    store
        .append_event_groups(&[
            EventGroup { tenant: &a, conversation: &ca, events: &ea, cart: Some(&a1) },
            EventGroup { tenant: &b, conversation: &cb, events: &eb, cart: Some(&b1) },
        ])
        .await
        .expect("events with their carts");
    assert_eq!(store.events_after(&a, &ca, 0, 10).await.unwrap(), ea.to_vec());
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.load_cart(&b, &cb).await.unwrap(), Some(b1.clone()));

    // A cart naming B's conversation as A's: A's events and A's cart are not kept.
    let mut a2 = a1.add(&pa, None, Quantity::parse(2).unwrap()).unwrap();
    a2.applied_seq = 3;
    let forged = cart_of(&pa, 9);
    let bad = [
        EventGroup { tenant: &a, conversation: &ca, events: &[event(3, Some("cmd-a2"))], cart: Some(&a2) },
        EventGroup { tenant: &a, conversation: &cb, events: &[], cart: Some(&forged) },
    ];
    assert!(store.append_event_groups(&bad).await.is_err());
    assert_eq!(store.last_seq(&a, &ca).await.unwrap(), 2, "the ack of a refused write is not kept");
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(a1.clone()), "nor its cart");
    assert_eq!(store.load_cart(&b, &cb).await.unwrap(), Some(b1.clone()), "B's cart is untouched");

    // A used seq: the cart of the same write is not kept either.
    let bad = [EventGroup { tenant: &a, conversation: &ca, events: &[event(2, None)], cart: Some(&a2) }];
    assert!(store.append_event_groups(&bad).await.is_err());
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(a1), "a cart goes with its events or not at all");

    // A cart alone (an assistant's tool call that told nothing) is a write too.
    store.append_event_groups(&[EventGroup { tenant: &a, conversation: &ca, events: &[], cart: Some(&a2) }]).await.unwrap();
    assert_eq!(store.load_cart(&a, &ca).await.unwrap(), Some(a2));
}

/// The SQLite writer does not checkpoint its WAL (that stalled writes); a background
/// task does, from a reader connection: written pages reach the main database file
/// without anyone asking. (1 MiB of events stays below SQLite's own automatic
/// checkpoint of 1,000 pages, so only the background task can have moved them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_wal_is_checkpointed_in_the_background() {
    let (store, dir) = crate::support::sqlite_store().await;
    let db = dir.path().join("aisle.db");
    let t = seed_tenant(&*store, "T").await;
    let c = seed_conversation(&*store, &t).await;
    let before = std::fs::metadata(&db).unwrap().len();
    let padding = "x".repeat(2000);
    let events: Vec<StoredEvent> = (1..=500)
        .map(|seq| StoredEvent { seq, kind: "cart".into(), json: format!(r#"{{"seq":{seq},"pad":"{padding}"}}"#), command_id: None, command: None })
        .collect();
    for chunk in events.chunks(50) {
        store.append_events(&t, &c, chunk).await.unwrap();
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let now = std::fs::metadata(&db).unwrap().len();
        if now > before + 900_000 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the main file stayed at {now} bytes (was {before}): no checkpoint");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(store.last_seq(&t, &c).await.unwrap(), 500);
}
