//! The rate limits (`ws_gateway::limits`) and the import queue's cap, each at a small
//! configured bound: past it `rate_limited` (429 with `Retry-After` over HTTP, an
//! `error` frame over the socket), and the rest keeps working.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;
use ws_gateway::config::RateLimits;

use crate::helpers::*;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
/// Another client: Linux routes all of 127/8 to the loopback.
const STRANGER: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn limits(f: impl FnOnce(&mut RateLimits)) -> Options {
    let mut rate_limits = RateLimits::permissive();
    f(&mut rate_limits);
    Options { rate_limits, ..Options::default() }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> u64 {
    let v = headers.get("retry-after").expect("a Retry-After header").to_str().unwrap();
    v.parse().unwrap_or_else(|_| panic!("Retry-After is whole seconds, not {v:?}"))
}

/// Frames until every id in `ids` has its `ack` or `error`; returns (acked, refused).
async fn outcomes(ws: &mut Ws, ids: &[&str]) -> (Vec<String>, Vec<Value>) {
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    while acked.len() + refused.len() < ids.len() {
        let f = ws.recv().await;
        let id = f["id"].as_str().unwrap_or("").to_string();
        if !ids.contains(&id.as_str()) {
            continue;
        }
        match f["type"].as_str() {
            Some("ack") => acked.push(id),
            Some("error") => refused.push(f),
            _ => {}
        }
    }
    (acked, refused)
}

/// Units in the cart, from a `cart.get` (the first `cart` after its `ack`; callers
/// let earlier commands settle first).
async fn cart_quantity(ws: &mut Ws) -> i64 {
    let id = format!("get-{}", uuid::Uuid::new_v4().simple());
    ws.send(json!({"type":"cart.get","id":id})).await;
    ws.recv_until(|f| f["type"] == "ack" && f["id"] == id.as_str()).await;
    let cart = ws.recv_until(|f| f["type"] == "cart").await.pop().unwrap();
    cart["cart"]["items"].as_array().unwrap().iter().map(|i| i["quantity"].as_i64().unwrap()).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_connects_past_the_limit_per_address_are_429_before_the_upgrade() {
    let app = spawn_app_with(limits(|r| r.ws_connects_per_minute = 3)).await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(Ws::connect_from(app.port, HOME).await.expect("within the limit"));
    }
    match Ws::connect_from(app.port, HOME).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            let wait = response.headers().get("retry-after").expect("Retry-After").to_str().unwrap().parse::<u64>().unwrap();
            assert!((1..=20).contains(&wait), "a connect every 20 s: {wait}");
            let body: Value = serde_json::from_slice(response.body().as_deref().expect("a body")).unwrap();
            assert_eq!(body["error"]["code"], "rate_limited", "{body}");
        }
        Ok(_) => panic!("a fourth connect from one address within a minute is refused"),
        Err(e) => panic!("expected 429, got {e}"),
    }
    // Another address is not limited, and the sockets already open still work.
    let mut other = Ws::connect_from(app.port, STRANGER).await.expect("another address connects");
    other.hello(&app.demo.deployment_key, None, None).await;
    let ws = &mut open[0];
    ws.hello(&app.demo.deployment_key, None, None).await;
    ws.send(json!({"type":"cart.get","id":"g1"})).await;
    assert_eq!(ws.recv().await["type"], "ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_conversations_past_the_limit_per_deployment_are_refused_with_4429() {
    let app = spawn_app_with(limits(|r| r.new_conversations_per_minute = 2)).await;
    let (_a, first) = app.shopper().await;
    let (_b, _) = app.shopper().await;
    let mut ws = app.ws().await;
    ws.send(json!({"type":"hello","deployment_key":app.demo.deployment_key})).await;
    let refused = ws.recv().await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("rate_limited")), "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("try again in"), "{refused}");
    assert_eq!(ws.close_code().await, Some(4429));
    // Resuming a conversation is not a new one: it still works.
    let mut again = app.ws().await;
    let welcome = again.hello(&app.demo.deployment_key, first["session_token"].as_str(), None).await;
    assert_eq!(welcome["conversation_id"], first["conversation_id"]);
    again.send(json!({"type":"cart.get","id":"g1"})).await;
    assert_eq!(again.recv().await["type"], "ack");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cart_commands_past_the_limit_are_refused_unapplied_and_can_be_sent_again() {
    let app = spawn_app_with(limits(|r| r.cart_commands_per_second = 1)).await;
    let bottle = app.product("Affirm Water Bottle").await;
    let (mut ws, _) = app.shopper().await;
    let ids = ["a1", "a2", "a3", "a4"];
    for id in ids {
        ws.send(json!({"type":"cart.add","id":id,"product_id":bottle.id.as_str(),"quantity":1})).await;
    }
    let (acked, refused) = outcomes(&mut ws, &ids).await;
    assert!(!refused.is_empty(), "four adds at once pass one a second: acked {acked:?}");
    for f in &refused {
        assert_eq!(f["code"], "rate_limited", "{f}");
        assert!(f["message"].as_str().unwrap().contains("try again in"), "{f}");
    }
    // Only the acked adds were applied; the socket stays open.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(cart_quantity(&mut ws).await, acked.len() as i64);
    // A refused command sent again later, with the same id, is applied.
    let again = refused[0]["id"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ws.send(json!({"type":"cart.add","id":again,"product_id":bottle.id.as_str(),"quantity":1})).await;
    let (acked_again, refused_again) = outcomes(&mut ws, &[again.as_str()]).await;
    assert_eq!((acked_again.len(), refused_again.len()), (1, 0), "{refused_again:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(cart_quantity(&mut ws).await, acked.len() as i64 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_limited_per_conversation_across_its_sockets_and_cart_commands_still_work() {
    let app = spawn_app_with(limits(|r| r.messages_per_minute = 2)).await;
    let (mut a, welcome) = app.shopper().await;
    for id in ["m1", "m2"] {
        a.send(json!({"type":"message","id":id,"text":"do you have hoodies?"})).await;
        let (acked, refused) = outcomes(&mut a, &[id]).await;
        assert_eq!((acked.len(), refused.len()), (1, 0), "{refused:?}");
    }
    // A second socket of the same conversation shares its budget.
    let mut b = app.ws().await;
    b.hello(&app.demo.deployment_key, welcome["session_token"].as_str(), None).await;
    b.send(json!({"type":"message","id":"m3","text":"and jackets?"})).await;
    let (_, refused) = outcomes(&mut b, &["m3"]).await;
    assert_eq!(refused[0]["code"], "rate_limited", "{:?}", refused);
    assert_eq!(refused[0]["id"], "m3");
    // A new conversation has its own; cart commands have theirs.
    let (mut c, _) = app.shopper().await;
    c.send(json!({"type":"message","id":"m1","text":"hi"})).await;
    assert_eq!(outcomes(&mut c, &["m1"]).await.0, ["m1"]);
    b.send(json!({"type":"cart.get","id":"g1"})).await;
    assert_eq!(outcomes(&mut b, &["g1"]).await.0, ["g1"]);
}

struct Portal {
    base: String,
}

impl Portal {
    fn client(local: IpAddr) -> reqwest::Client {
        reqwest::Client::builder().local_address(local).build().unwrap()
    }

    async fn login(&self, from: IpAddr, email: &str, password: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let res = Self::client(from)
            .post(format!("{}/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("request");
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        (status, headers, res.json().await.unwrap_or(Value::Null))
    }

    /// A tenant with an owner `email` / `password`.
    async fn owner(&self, email: &str, password: &str) -> String {
        let http = Self::client(HOME);
        let tenant: Value = http
            .post(format!("{}/v1/platform/tenants", self.base))
            .bearer_auth(PLATFORM_TOKEN)
            .json(&json!({"name": "Shop", "plan": "pro"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = tenant["api_key"].as_str().expect("an api key").to_string();
        let res = http
            .post(format!("{}/v1/admin/users", self.base))
            .bearer_auth(&key)
            .json(&json!({"email": email, "password": password, "role": "owner"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
        key
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_wrong_passwords_do_not_lock_the_user_out_from_elsewhere() {
    use ws_gateway::routes::users::LOGINS_PER_EMAIL_PER_MINUTE;
    let app = spawn_app().await;
    let portal = Portal { base: format!("http://127.0.0.1:{}", app.port) };
    portal.owner("ann@shop.example", "the right password").await;
    let mut statuses = Vec::new();
    for _ in 0..=LOGINS_PER_EMAIL_PER_MINUTE {
        statuses.push(portal.login(STRANGER, "ann@shop.example", "a wrong guess").await);
    }
    assert!(statuses[..LOGINS_PER_EMAIL_PER_MINUTE as usize].iter().all(|(s, _, _)| *s == 401), "{:?}", statuses.iter().map(|s| s.0).collect::<Vec<_>>());
    let (s, headers, body) = statuses.pop().unwrap();
    assert_eq!((s, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert!(retry_after(&headers) >= 1);
    // The stranger stays limited even with the right password; Ann, elsewhere, is not.
    assert_eq!(portal.login(STRANGER, "ann@shop.example", "the right password").await.0, 429);
    let (s, _, body) = portal.login(HOME, "ANN@shop.example", "the right password").await;
    assert_eq!(s, 200, "{body}");
    assert!(body["token"].is_string());
    // A 10 KB "email" is just a wrong login (its limiter key is capped).
    let huge = format!("{}@shop.example", "x".repeat(10 * 1024));
    let (s, _, _) = portal.login(HOME, &huge, "whatever").await;
    assert!(s == 401 || s == 400, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_past_the_tenants_queued_bytes_are_429_and_one_too_big_for_it_413() {
    // No job workers: imports stay queued, holding their bytes.
    let app = spawn_app_with(Options { import_queue_bytes: 1000, job_workers: 0, ..Options::default() }).await;
    let base = format!("http://127.0.0.1:{}", app.port);
    let http = reqwest::Client::new();
    let create = |name: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let t: Value = http
                .post(format!("{base}/v1/platform/tenants"))
                .bearer_auth(PLATFORM_TOKEN)
                .json(&json!({"name": name}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (t["tenant_id"].as_str().unwrap().to_string(), t["api_key"].as_str().unwrap().to_string())
        }
    };
    let (tenant, key) = create("Acme").await;
    let (_, other_key) = create("Other").await;
    let csv = |n: usize| {
        let mut s = String::from("sku,title,description,category,price,currency,stock,image_url,tags\n");
        while s.len() < n {
            s.push_str(&format!("SKU-{0},Item {0},A thing.,Misc,1.00,USD,1,,\n", s.len()));
        }
        s
    };
    let import = |key: String, body: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let res = http
                .post(format!("{base}/v1/admin/catalog/import"))
                .bearer_auth(key)
                .header("Content-Type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap();
            let (status, headers) = (res.status().as_u16(), res.headers().clone());
            (status, headers, res.json::<Value>().await.unwrap())
        }
    };
    let first = csv(600);
    let (s, _, body) = import(key.clone(), first.clone()).await;
    assert_eq!(s, 202, "{body}");
    let tenant_id = engine::domain::TenantId::parse(tenant).unwrap();
    assert_eq!(app.state.jobs.queued_import_bytes(&tenant_id), first.len() as u64);
    let (s, headers, body) = import(key.clone(), csv(600)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert!(retry_after(&headers) >= 1);
    assert!(body["error"]["message"].as_str().unwrap().contains("queued"), "{body}");
    let (s, _, body) = import(key.clone(), csv(1500)).await;
    assert_eq!((s, body["error"]["code"].as_str()), (413, Some("too_large")), "{body}");
    // Another tenant's queue is its own.
    let (s, _, body) = import(other_key, csv(600)).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(app.state.jobs.queued_import_bytes(&tenant_id), first.len() as u64, "refused imports hold nothing");
}
