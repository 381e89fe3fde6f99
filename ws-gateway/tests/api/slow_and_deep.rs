//! A shopper that stops reading, and one that resumes from far back, over real
//! WebSockets: neither holds up the conversation or its other sockets.

use std::time::Duration;

use serde_json::json;

use crate::helpers::{Options, Ws, seqs, spawn_app_with};

/// Sends `n` `cart.get` in windows of `window` (below the conversation's limit of
/// cart commands in flight) and returns every frame received meanwhile.
async fn cart_gets(ws: &mut Ws, prefix: &str, n: usize, window: usize) -> Vec<serde_json::Value> {
    let mut frames = Vec::new();
    for start in (0..n).step_by(window) {
        let end = (start + window).min(n);
        for i in start..end {
            ws.send(json!({"type":"cart.get","id":format!("{prefix}{i}")})).await;
        }
        let mut carts = 0;
        while carts < end - start {
            let f = ws.recv().await;
            assert_ne!(f["type"], "error", "{f}");
            carts += usize::from(f["type"] == "cart");
            frames.push(f);
        }
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_5000_events_back_after_rehydration_replays_them_all_in_order() {
    let app = spawn_app_with(Options { idle_timeout: Duration::from_millis(200), ..Options::default() }).await;
    let (mut ws, welcome) = app.shopper().await;
    let token = welcome["session_token"].as_str().unwrap().to_string();
    // 2,500 `cart.get`: an ack and a cart event each.
    let frames = cart_gets(&mut ws, "g", 2500, 50).await;
    assert_eq!(frames.last().unwrap()["seq"], 5000);
    ws.close().await;
    // Let the conversation rest, so the resume starts from an empty memory window.
    for _ in 0..200 {
        if app.state.conversations.live().await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(app.state.conversations.live().await, 0, "the idle conversation was passivated");

    let mut ws = app.ws().await;
    let welcome = ws.hello(&app.demo.deployment_key, Some(&token), Some(0)).await;
    assert_eq!(welcome["seq"], 5000);
    ws.send(json!({"type":"cart.get","id":"after"})).await;
    let replay = ws.recv_until(|f| f["type"] == "ack" && f["id"] == "after").await;
    let got = seqs(&replay);
    assert_eq!(got, (1..=5001).collect::<Vec<_>>(), "every event once, in order, then the live ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_stops_reading_is_closed_alone_and_resumes() {
    let app = spawn_app_with(Options {
        ws_outbox_bytes: 64 * 1024,
        ws_write_timeout: Duration::from_millis(500),
        ..Options::default()
    })
    .await;
    let (mut reader, welcome) = app.shopper().await;
    let token = welcome["session_token"].as_str().unwrap().to_string();
    // A second socket of the same conversation that never reads.
    let mut stalled = app.ws().await;
    stalled.hello(&app.demo.deployment_key, Some(&token), None).await;

    // Fill the cart a little, so every cart event has some weight.
    let hoodie = app.product("Hero Hoodie").await;
    for (i, v) in hoodie.variants.iter().filter(|v| v.stock > 0).take(10).enumerate() {
        reader.send(json!({"type":"cart.add","id":format!("a{i}"),"product_id":hoodie.id.as_str(),"variant_id":v.id.as_str(),"quantity":1})).await;
    }
    let filled = reader.recv_until(|f| f["type"] == "error" || (f["type"] == "cart" && f["cart"]["items"].as_array().unwrap().len() == 10)).await;
    assert_eq!(filled.last().unwrap()["type"], "cart", "{filled:?}");
    // The reading socket is served throughout (no refusal, every cart event comes).
    let frames = cart_gets(&mut reader, "g", 3000, 10).await;
    // The stalled socket was let go: its stream ends (with 4008 when the close frame
    // gets through), while the conversation goes on.
    let ended = stalled.ended_within(Duration::from_secs(15)).await;
    assert!(matches!(ended, Ok(None | Some(4008))), "the stalled socket is closed (as too slow), got {ended:?}");
    reader.send(json!({"type":"cart.get","id":"still-here"})).await;
    reader.recv_until(|f| f["type"] == "ack" && f["id"] == "still-here").await;

    // It comes back and resumes where it can.
    let mut back = app.ws().await;
    let w = back.hello(&app.demo.deployment_key, Some(&token), Some(frames.last().unwrap()["seq"].as_i64().unwrap())).await;
    assert!(w["seq"].as_i64().unwrap() > 0);
    back.send(json!({"type":"cart.get","id":"back"})).await;
    let after = back.recv_until(|f| f["type"] == "cart").await;
    assert_eq!(after.last().unwrap()["cart"]["items"].as_array().unwrap().len(), 10);
}
