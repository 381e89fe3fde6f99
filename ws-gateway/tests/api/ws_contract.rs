//! Every row of contract §1: frames, events, error codes and close codes.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

fn add(id: &str, product: &str, variant: Option<&str>, quantity: i64) -> Value {
    let mut v = json!({"type":"cart.add","id":id,"product_id":product,"quantity":quantity});
    if let Some(var) = variant {
        v["variant_id"] = json!(var);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn welcome_carries_conversation_token_bot_and_empty_cart() {
    let app = spawn_app().await;
    let (_ws, w) = app.shopper().await;
    assert!(w["conversation_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(w["session_token"].as_str().is_some_and(|s| s.split('.').count() == 3), "a JWT");
    assert_eq!(w["seq"], 0);
    assert_eq!(w["bot"]["name"], "Luma Assistant");
    assert!(w["bot"]["greeting"].as_str().unwrap().len() > 10);
    assert_eq!(w["cart"]["items"], json!([]));
    assert_eq!(w["cart"]["subtotal_minor"], 0);
    assert_eq!(w["cart"]["currency"], "USD");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_hello_in_time_closes_4408() {
    let app = spawn_app_with(Options { hello_timeout: Duration::from_millis(300), ..Options::default() }).await;
    let mut ws = app.ws().await;
    assert_eq!(ws.close_code().await, Some(4408));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_revoked_key_is_unauthorized_4401() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    ws.send(json!({"type":"hello","deployment_key":"pk_nope","session_token":null,"resume_from_seq":null})).await;
    let e = ws.recv().await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["code"], "unauthorized");
    assert!(e.get("seq").is_none(), "no seq before welcome");
    assert_eq!(ws.close_code().await, Some(4401));

    let d = app.state.tenants.create_deployment(&app.demo.tenant_id, "tmp", vec![]).await.unwrap();
    app.store().revoke_deployment(&app.demo.tenant_id, &d.id).await.unwrap();
    let mut ws = app.ws().await;
    ws.send(json!({"type":"hello","deployment_key":d.key,"session_token":null,"resume_from_seq":null})).await;
    assert_eq!(ws.recv().await["code"], "unauthorized");
    assert_eq!(ws.close_code().await, Some(4401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_frame_must_be_hello() {
    let app = spawn_app().await;
    let mut ws = app.ws().await;
    ws.send(json!({"type":"cart.get","id":"1"})).await;
    assert_eq!(ws.recv().await["code"], "unauthorized");
    assert_eq!(ws.close_code().await, Some(4401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_outside_the_deployment_list_is_forbidden_4403() {
    let app = spawn_app().await;
    let d = app.state.tenants.create_deployment(&app.demo.tenant_id, "web", vec!["https://shop.example".into()]).await.unwrap();
    let mut ws = app.ws_with_origin("https://evil.example").await;
    ws.send(json!({"type":"hello","deployment_key":d.key,"session_token":null,"resume_from_seq":null})).await;
    let e = ws.recv().await;
    assert_eq!(e["code"], "forbidden");
    assert_eq!(ws.close_code().await, Some(4403));

    let mut ok = app.ws_with_origin("https://shop.example").await;
    ok.hello(&d.key, None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_foreign_session_token_is_unauthorized() {
    let app = spawn_app().await;
    let (_ws, w) = app.shopper().await;
    let token = w["session_token"].as_str().unwrap();
    let mut forged = token.to_string();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let mut ws = app.ws().await;
    ws.send(json!({"type":"hello","deployment_key":app.demo.deployment_key,"session_token":forged,"resume_from_seq":null})).await;
    assert_eq!(ws.recv().await["code"], "unauthorized");
    assert_eq!(ws.close_code().await, Some(4401));

    // A genuine token of the demo shop presented with another shop's key.
    let other = app.state.tenants.create_tenant(None, "Other", "free", Default::default()).await.unwrap();
    let d = app.state.tenants.create_deployment(&other.id, "web", vec![]).await.unwrap();
    let mut ws = app.ws().await;
    ws.send(json!({"type":"hello","deployment_key":d.key,"session_token":token,"resume_from_seq":null})).await;
    assert_eq!(ws.recv().await["code"], "unauthorized");
    assert_eq!(ws.close_code().await, Some(4401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_is_answered_with_pong_without_seq() {
    let app = spawn_app().await;
    let (mut ws, _) = app.shopper().await;
    ws.send(json!({"type":"ping"})).await;
    assert_eq!(ws.recv().await, json!({"type":"pong"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_commands_are_acked_then_applied() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let hoodie = app.product("Hero Hoodie").await;
    let v = hoodie.variants.iter().find(|v| v.options.get("size").map(String::as_str) == Some("M") && v.options.get("color").map(String::as_str) == Some("Black")).unwrap();
    let (mut ws, _) = app.shopper().await;

    ws.send(add("a1", bottle.id.as_str(), None, 2)).await;
    let ack = ws.recv().await;
    assert_eq!(ack, json!({"type":"ack","id":"a1","seq":1}));
    let cart = ws.recv().await;
    assert_eq!(cart["type"], "cart");
    assert_eq!(cart["seq"], 2);
    let item = &cart["cart"]["items"][0];
    assert_eq!(item["quantity"], 2);
    assert_eq!(item["unit_price_minor"], 700);
    assert_eq!(item["line_total_minor"], 1400);
    assert_eq!(cart["cart"]["subtotal_minor"], 1400);

    ws.send(add("a2", hoodie.id.as_str(), Some(v.id.as_str()), 1)).await;
    assert_eq!(ws.recv().await["type"], "ack");
    let cart = ws.recv().await;
    assert_eq!(cart["cart"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(cart["cart"]["items"][1]["options"], json!({"color":"Black","size":"M"}));
    assert_eq!(cart["cart"]["subtotal_minor"], 1400 + v.price_minor);

    ws.send(json!({"type":"cart.set","id":"s1","product_id":bottle.id.as_str(),"quantity":5})).await;
    ws.recv().await;
    assert_eq!(ws.recv().await["cart"]["items"][0]["quantity"], 5);

    ws.send(json!({"type":"cart.set","id":"s0","product_id":bottle.id.as_str(),"quantity":0})).await;
    ws.recv().await;
    assert_eq!(ws.recv().await["cart"]["items"].as_array().unwrap().len(), 1);

    ws.send(json!({"type":"cart.get","id":"g1"})).await;
    assert_eq!(ws.recv().await["type"], "ack");
    let got = ws.recv().await;
    assert_eq!(got["type"], "cart");
    assert_eq!(got["cart"]["items"].as_array().unwrap().len(), 1);

    ws.send(json!({"type":"cart.remove","id":"r1","product_id":hoodie.id.as_str(),"variant_id":v.id.as_str()})).await;
    ws.recv().await;
    let emptied = ws.recv().await;
    assert_eq!(emptied["cart"]["items"], json!([]));
    assert!(emptied["cart"]["version"].as_i64().unwrap() > got["cart"]["version"].as_i64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkout_places_an_order_and_empties_the_cart() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut ws, _) = app.shopper().await;
    ws.send(json!({"type":"checkout","id":"c0"})).await;
    assert_eq!(ws.recv().await["type"], "ack");
    let e = ws.recv().await;
    assert_eq!((e["type"].as_str(), e["code"].as_str(), e["id"].as_str()), (Some("error"), Some("empty_cart"), Some("c0")));
    assert!(e["seq"].is_i64());

    ws.send(add("a1", bottle.id.as_str(), None, 3)).await;
    ws.recv_until(|f| f["type"] == "cart").await;
    ws.send(json!({"type":"checkout","id":"c1"})).await;
    let frames = ws.recv_until(|f| f["type"] == "cart").await;
    let order = of_type(&frames, "order")[0];
    assert_eq!(order["total_minor"], 2100);
    assert_eq!(order["currency"], "USD");
    assert!(order["payment_url"].is_null());
    assert!(order["order_id"].as_str().is_some());
    assert_eq!(frames.last().unwrap()["cart"]["items"], json!([]));
    let after = app.product("Affirm Water Bottle").await;
    assert_eq!(after.variants[0].stock, bottle.variants[0].stock - 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_with_variants_needs_its_variant() {
    let app = spawn_app().await;
    let hoodie = app.product("Hero Hoodie").await;
    let (mut ws, _) = app.shopper().await;
    ws.send(add("a1", hoodie.id.as_str(), None, 1)).await;
    assert_eq!(ws.recv().await["type"], "ack");
    let e = ws.recv().await;
    assert_eq!(e["code"], "variant_required");
    assert_eq!(e["id"], "a1");
    let msg = e["message"].as_str().unwrap();
    assert!(msg.contains("size") && msg.contains("XL") && msg.contains("Black"), "lists the options: {msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_and_leave_the_cart_unchanged() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let stock = bottle.variants[0].stock;
    let (mut ws, _) = app.shopper().await;
    ws.send(add("a1", bottle.id.as_str(), None, 60)).await;
    ws.recv_until(|f| f["type"] == "cart").await;
    // 60 + 60 > 99: bad_request.
    ws.send(add("a2", bottle.id.as_str(), None, 60)).await;
    ws.recv().await;
    let e = ws.recv().await;
    assert_eq!((e["code"].as_str(), e["id"].as_str()), (Some("bad_request"), Some("a2")));
    // Above the stock: out_of_stock (the demo bottle has 100).
    assert!(stock < 160);
    app.store().list_products(&app.demo.tenant_id, None, 1).await.unwrap();
    ws.send(json!({"type":"cart.get","id":"g"})).await;
    ws.recv().await;
    assert_eq!(ws.recv().await["cart"]["items"][0]["quantity"], 60);
    // Quantity out of 1..=99 is refused by the frame check.
    ws.send(add("a3", bottle.id.as_str(), None, 100)).await;
    let e = ws.recv().await;
    assert_eq!((e["code"].as_str(), e["id"].as_str()), (Some("bad_request"), Some("a3")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_stock_is_refused() {
    let app = spawn_app().await;
    let tenant = &app.demo.tenant_id;
    let mut p = app.product("Affirm Water Bottle").await;
    p.variants[0].stock = 2;
    app.store().upsert_product(&mut p).await.unwrap();
    let (mut ws, _) = app.shopper().await;
    ws.send(add("a1", p.id.as_str(), None, 3)).await;
    ws.recv().await;
    let e = ws.recv().await;
    assert_eq!((e["code"].as_str(), e["id"].as_str()), (Some("out_of_stock"), Some("a1")));
    ws.send(json!({"type":"cart.get","id":"g"})).await;
    ws.recv().await;
    assert_eq!(ws.recv().await["cart"]["items"], json!([]));
    let _ = tenant;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_product_is_not_found() {
    let app = spawn_app().await;
    let other = app.state.tenants.create_tenant(None, "Other shop", "free", Default::default()).await.unwrap();
    let mut theirs = app.product("Affirm Water Bottle").await;
    theirs.tenant_id = other.id.clone();
    theirs.id = engine::domain::ProductId::generate();
    for v in &mut theirs.variants {
        v.id = engine::domain::VariantId::generate();
    }
    app.store().upsert_product(&mut theirs).await.unwrap();
    let (mut ws, _) = app.shopper().await;
    ws.send(add("x1", theirs.id.as_str(), None, 1)).await;
    assert_eq!(ws.recv().await["type"], "ack");
    let e = ws.recv().await;
    assert_eq!((e["code"].as_str(), e["id"].as_str()), (Some("not_found"), Some("x1")));
    ws.send(json!({"type":"cart.set","id":"x2","product_id":theirs.id.as_str(),"variant_id":theirs.variants[0].id.as_str(),"quantity":1})).await;
    ws.recv().await;
    assert_eq!(ws.recv().await["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_and_invalid_frames_keep_the_socket_open() {
    let app = spawn_app().await;
    let (mut ws, _) = app.shopper().await;
    for (frame, id) in [
        ("not json".to_string(), None),
        ("[1,2]".to_string(), None),
        (r#"{"type":"teleport","id":"t1"}"#.to_string(), Some("t1")),
        (r#"{"type":"cart.add","id":"b1","product_id":"p_1"}"#.to_string(), Some("b1")),
        (r#"{"type":"cart.add","id":"b2","product_id":"p_1","quantity":"two"}"#.to_string(), Some("b2")),
        (r#"{"type":"message","id":"b3","text":""}"#.to_string(), Some("b3")),
        (r#"{"type":"hello","deployment_key":"pk_x"}"#.to_string(), None),
    ] {
        ws.send_text(frame.clone()).await;
        let e = ws.recv().await;
        assert_eq!(e["type"], "error", "{frame}");
        assert_eq!(e["code"], "bad_request", "{frame}");
        assert_eq!(e["id"].as_str(), id, "{frame}");
        assert!(e["seq"].is_i64());
    }
    ws.send_binary(vec![1, 2, 3]).await;
    assert_eq!(ws.recv().await["code"], "bad_request");
    ws.send(json!({"type":"ping"})).await;
    assert_eq!(ws.recv().await["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_16_kib_is_too_large_and_the_socket_stays_open() {
    let app = spawn_app().await;
    let (mut ws, _) = app.shopper().await;
    let big = json!({"type":"message","id":"big","text":"x".repeat(17 * 1024)}).to_string();
    ws.send_text(big).await;
    let e = ws.recv().await;
    assert_eq!(e["code"], "too_large");
    ws.send(json!({"type":"ping"})).await;
    assert_eq!(ws.recv().await["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_command_id_is_acked_again_on_that_socket_only_and_applied_once() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut a, w) = app.shopper().await;
    let mut b = app.ws().await;
    b.hello(&app.demo.deployment_key, w["session_token"].as_str(), None).await;

    a.send(add("same", bottle.id.as_str(), None, 1)).await;
    let first = a.recv_until(|f| f["type"] == "cart").await;
    let ack_seq = first[0]["seq"].as_i64().unwrap();
    b.recv_until(|f| f["type"] == "cart").await;

    a.send(add("same", bottle.id.as_str(), None, 1)).await;
    assert_eq!(a.recv().await, json!({"type":"ack","id":"same","seq":ack_seq}));
    a.send(json!({"type":"cart.get","id":"g"})).await;
    let frames = a.recv_until(|f| f["type"] == "cart").await;
    assert_eq!(frames.last().unwrap()["cart"]["items"][0]["quantity"], 1, "applied once");
    // The other socket sees the cart.get's ack and cart, but not the repeated ack.
    let seen = b.recv_until(|f| f["type"] == "cart").await;
    assert_eq!(seen[0]["id"], "g");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sockets_see_every_event_in_the_same_order() {
    let app = spawn_app().await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut a, w) = app.shopper().await;
    let mut b = app.ws().await;
    b.hello(&app.demo.deployment_key, w["session_token"].as_str(), None).await;
    for i in 0..5 {
        a.send(add(&format!("a{i}"), bottle.id.as_str(), None, 1)).await;
        b.send(json!({"type":"cart.get","id":format!("b{i}")})).await;
    }
    let mut fa = Vec::new();
    let mut fb = Vec::new();
    while fa.len() < 20 {
        fa.push(a.recv().await);
    }
    while fb.len() < 20 {
        fb.push(b.recv().await);
    }
    assert_eq!(fa, fb);
    assert_eq!(seqs(&fa), (1..=20).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_messages_beyond_the_limit_are_rate_limited() {
    let app = spawn_app().await;
    let (mut ws, _) = app.shopper().await;
    for i in 0..30 {
        ws.send(json!({"type":"message","id":format!("m{i}"),"text":"do you have hoodies?"})).await;
    }
    let mut limited = false;
    for _ in 0..2000 {
        let Some(f) = ws.try_recv(Duration::from_secs(10)).await else { break };
        if f["type"] == "error" && f["code"] == "rate_limited" {
            limited = true;
            break;
        }
    }
    assert!(limited, "a flood of messages is refused with rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_past_the_plans_monthly_quota_are_quota_exceeded_and_the_cart_still_works() {
    use engine::domain::{ConversationId, Currency, DeploymentId};
    use engine::ports::store::{ConversationRecord, Role, TenantSettings, TranscriptMessage};
    let app = spawn_app().await;
    let store = app.store().clone();
    let tenant = app.state.tenants.create_tenant(None, "Small Shop", "free", TenantSettings::default()).await.unwrap();
    let csv = "sku,title,description,category,price,currency,stock,image_url,tags\nMUG-1,Camp Mug,Enamel.,Kitchen,9.50,USD,5,,\n";
    let parsed = engine::catalog::parse_aisle_csv(&tenant.id, Currency::USD, csv.as_bytes());
    engine::catalog::import_products(store.as_ref(), parsed.products).await.unwrap();
    let deployment = app.state.tenants.create_deployment(&tenant.id, "web", Vec::new()).await.unwrap();
    // The free plan's 1,000 messages of this month, already used by earlier shoppers.
    let earlier = ConversationRecord {
        id: ConversationId::generate(),
        tenant_id: tenant.id.clone(),
        deployment_id: DeploymentId::generate(),
        started_at: chrono::Utc::now(),
        last_message_at: None,
        messages: 0,
        dialogue_state: "{}".into(),
    };
    store.create_conversation(&earlier).await.unwrap();
    for _ in 0..engine::plans::monthly_message_quota("free").unwrap() {
        let m = TranscriptMessage { role: Role::Shopper, text: "hi".into(), at: chrono::Utc::now() };
        store.append_message(&tenant.id, &earlier.id, &m).await.unwrap();
    }

    let mut ws = app.ws().await;
    ws.hello(&deployment.key, None, None).await;
    ws.send(json!({"type":"message","id":"m1","text":"do you have mugs?"})).await;
    let frames = ws.recv_until(|f| f["type"] == "error" || f["type"] == "assistant.start").await;
    let last = frames.last().unwrap();
    assert_eq!((last["type"].as_str(), last["code"].as_str(), last["id"].as_str()), (Some("error"), Some("quota_exceeded"), Some("m1")), "{frames:?}");
    assert!(last["message"].as_str().is_some_and(|m| m.contains("cart still works")));

    let mug = crate::helpers::product_of(store.as_ref(), &tenant.id, "Camp Mug").await;
    ws.send(add("c1", mug.id.as_str(), None, 2)).await;
    let frames = ws.recv_until(|f| f["type"] == "cart" || f["type"] == "error").await;
    let cart = frames.last().unwrap();
    assert_eq!(cart["type"], "cart", "{frames:?}");
    assert_eq!(cart["cart"]["subtotal_minor"], 1900);

    // Another tenant (the demo shop) is not limited by this one's quota.
    let (mut demo, _) = app.shopper().await;
    demo.send(json!({"type":"message","id":"m1","text":"hi"})).await;
    let frames = demo.recv_until(|f| f["type"] == "error" || f["type"] == "assistant.end").await;
    assert_eq!(frames.last().unwrap()["type"], "assistant.end", "{frames:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_is_down_makes_hello_unavailable_with_try_again_later() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = engine_sql::SqliteStore::open(dir.path().join("aisle.db").to_str().unwrap()).await.unwrap();
    let config = ws_gateway::config::Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        demo: true,
        ..ws_gateway::config::Config::default()
    };
    let app = ws_gateway::startup::Application::build_with_store(config, Arc::new(sqlite.clone())).await.unwrap();
    let port = app.port();
    let key = app.state.demo.clone().unwrap().deployment_key;
    tokio::spawn(app.into_server());
    sqlite.close().await;

    let mut ws = Ws::connect(port, None).await;
    ws.send(json!({"type":"hello","deployment_key":key})).await;
    let f = ws.recv().await;
    assert_eq!((f["type"].as_str(), f["code"].as_str()), (Some("error"), Some("unavailable")), "{f}");
    assert_eq!(ws.close_code().await, Some(1013), "RFC 6455 try again later");
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
}
