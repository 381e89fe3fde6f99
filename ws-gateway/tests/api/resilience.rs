//! Reconnects, resume, crashes, passivation and concurrent checkouts.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn add(id: &str, product: &str, quantity: i64) -> serde_json::Value {
    json!({"type":"cart.add","id":id,"product_id":product,"quantity":quantity})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_after_a_dropped_socket_replays_without_gap_or_duplicate() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut ws, w) = app.shopper().await;
    let token = w["session_token"].as_str().unwrap().to_string();
    ws.send(add("a1", bottle.id.as_str(), 1)).await;
    let seen = ws.recv_until(|f| f["type"] == "cart").await;
    let k = seqs(&seen).last().copied().unwrap();
    // More happens while this socket is gone (on a second socket of the same shopper).
    ws.close().await;
    let mut other = app.ws().await;
    other.hello(&app.demo.deployment_key, Some(&token), None).await;
    for i in 0..3 {
        other.send(add(&format!("b{i}"), bottle.id.as_str(), 1)).await;
        other.recv_until(|f| f["type"] == "cart").await;
    }
    let mut back = app.ws().await;
    let w2 = back.hello(&app.demo.deployment_key, Some(&token), Some(k)).await;
    assert_eq!(w2["conversation_id"], w["conversation_id"]);
    assert_eq!(w2["seq"], k + 6);
    assert_eq!(w2["cart"]["items"][0]["quantity"], 4);
    let mut replayed = Vec::new();
    for _ in 0..6 {
        replayed.push(back.recv().await);
    }
    assert_eq!(seqs(&replayed), ((k + 1)..=(k + 6)).collect::<Vec<_>>());
    // Then live events continue with the next seq.
    back.send(json!({"type":"cart.get","id":"g"})).await;
    assert_eq!(back.recv().await["seq"], k + 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_resent_after_reconnect_is_applied_once() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut ws, w) = app.shopper().await;
    let token = w["session_token"].as_str().unwrap().to_string();
    ws.send(add("once", bottle.id.as_str(), 2)).await;
    // Drop the socket without reading the ack.
    ws.close().await;
    let mut back = app.ws().await;
    back.hello(&app.demo.deployment_key, Some(&token), None).await;
    back.send(add("once", bottle.id.as_str(), 2)).await;
    let ack = back.recv().await;
    assert_eq!((ack["type"].as_str(), ack["seq"].as_i64()), (Some("ack"), Some(1)));
    back.send(json!({"type":"cart.get","id":"g"})).await;
    let frames = back.recv_until(|f| f["type"] == "cart" && f["seq"].as_i64() > Some(3)).await;
    assert_eq!(frames.last().unwrap()["cart"]["items"][0]["quantity"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_one_conversation_does_not_touch_another() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut a, wa) = app.shopper().await;
    let (mut b, _) = app.shopper().await;
    a.send(add("a1", bottle.id.as_str(), 1)).await;
    a.recv_until(|f| f["type"] == "cart").await;
    b.send(add("b1", bottle.id.as_str(), 2)).await;
    b.recv_until(|f| f["type"] == "cart").await;

    let tenant = &app.demo.tenant_id;
    let conv = engine::domain::ConversationId::parse(wa["conversation_id"].as_str().unwrap()).unwrap();
    app.state.conversations.get(tenant, &conv).await.unwrap().inject_panic();

    // B carries on untouched.
    b.send(add("b2", bottle.id.as_str(), 1)).await;
    let frames = b.recv_until(|f| f["type"] == "cart").await;
    assert_eq!(frames.last().unwrap()["cart"]["items"][0]["quantity"], 3);
    assert_eq!(seqs(&frames), vec![3, 4]);

    // A's socket is re-attached to a conversation rebuilt from the store: its cart is
    // there and its seq goes on from the last one, with no gap.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut reply = None;
    for i in 0..20 {
        a.send(json!({"type":"cart.get","id":format!("g{i}")})).await;
        if let Some(f) = a.try_recv(Duration::from_secs(2)).await {
            reply = Some(f);
            break;
        }
    }
    let ack = reply.expect("the conversation answers again");
    assert_eq!(ack["type"], "ack");
    assert_eq!(ack["seq"], 3);
    let cart = a.recv().await;
    assert_eq!(cart["cart"]["items"][0]["quantity"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_conversation_is_passivated_and_rehydrated() {
    let app = spawn_app_with(Options { idle_timeout: Duration::from_millis(200), ..Options::default() }).await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut ws, w) = app.shopper().await;
    let token = w["session_token"].as_str().unwrap().to_string();
    ws.send(add("a1", bottle.id.as_str(), 2)).await;
    ws.recv_until(|f| f["type"] == "cart").await;
    ws.send(json!({"type":"message","id":"m1","text":"do you have water bottles?"})).await;
    let frames = ws.recv_until(|f| f["type"] == "assistant.end").await;
    let last = seqs(&frames).last().copied().unwrap();
    ws.close().await;

    let mut gone = false;
    for _ in 0..100 {
        if app.state.conversations.live().await == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the idle conversation's actor stopped");

    let mut back = app.ws().await;
    let w2 = back.hello(&app.demo.deployment_key, Some(&token), None).await;
    assert_eq!(w2["seq"], last);
    assert_eq!(w2["cart"]["items"][0]["quantity"], 2);
    back.send(json!({"type":"cart.get","id":"g"})).await;
    assert_eq!(back.recv().await["seq"], last + 1);
    // It remembers the dialogue: the products just shown can be referred to.
    assert_eq!(app.state.conversations.live().await, 1);
}

async fn oversell(db: Db) {
    let app = spawn_app_on(db).await;
    let mut p = app.product("Affirm Water Bottle").await;
    p.variants[0].stock = 3;
    app.store().upsert_product(&mut p).await.unwrap();
    let mut shoppers = Vec::new();
    for i in 0..8 {
        let (mut ws, _) = app.shopper().await;
        ws.send(add(&format!("a{i}"), p.id.as_str(), 1)).await;
        ws.recv_until(|f| f["type"] == "cart").await;
        shoppers.push(ws);
    }
    for ws in shoppers.iter_mut() {
        ws.send(json!({"type":"checkout","id":"c"})).await;
    }
    let mut orders = 0;
    let mut refused = 0;
    for ws in shoppers.iter_mut() {
        let frames = ws.recv_until(|f| f["type"] == "cart" || f["type"] == "error").await;
        if of_type(&frames, "order").len() == 1 {
            orders += 1;
        } else {
            assert_eq!(frames.last().unwrap()["code"], "out_of_stock");
            refused += 1;
        }
    }
    assert_eq!((orders, refused), (3, 5));
    let after = app.product("Affirm Water Bottle").await;
    assert_eq!(after.variants[0].stock, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkouts_never_oversell_on_sqlite() {
    oversell(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checkouts_never_oversell_on_postgres() {
    oversell(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cart_flow_works_on_postgres() {
    let app = spawn_app_on(Db::Postgres).await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut ws, w) = app.shopper().await;
    ws.send(add("a1", bottle.id.as_str(), 2)).await;
    let frames = ws.recv_until(|f| f["type"] == "cart").await;
    assert_eq!(frames.last().unwrap()["cart"]["subtotal_minor"], 1400);
    ws.close().await;
    let mut back = app.ws().await;
    let w2 = back.hello(&app.demo.deployment_key, w["session_token"].as_str(), Some(0)).await;
    assert_eq!(w2["seq"], 2);
    assert_eq!(back.recv().await["type"], "ack");
    assert_eq!(back.recv().await["type"], "cart");
}
