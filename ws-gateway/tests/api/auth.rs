//! Issue 10's authentication and abuse items, black-box: session tokens bound to their
//! deployment, canceled shops closed, portal emails unique per tenant only, one signing
//! key per token kind, slow request bodies cut at a deadline, a cap on requests not yet
//! authenticated, and the demo password on the terminal whatever `RUST_LOG` says.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_gateway::config::{Config, Secret};
use ws_gateway::startup::Application;

use crate::helpers::{PLATFORM_TOKEN, TestApp, WAIT, Ws, spawn_app};

const SECRET: &str = "an-aisle-test-secret-of-more-than-32-bytes";

/// The real app on port 0 with the demo shop, the platform API, a known session
/// secret and whatever `edit` changes.
async fn spawn_with(edit: impl FnOnce(&mut Config)) -> (u16, actix_web::web::Data<ws_gateway::state::AppState>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        demo: true,
        platform_token: Some(Secret::new(PLATFORM_TOKEN)),
        session_secret: Some(Secret::new(SECRET)),
        ..Config::default()
    };
    edit(&mut config);
    let app = Application::build(config).await.expect("app builds");
    let (port, state) = (app.port(), app.state.clone());
    tokio::spawn(app.into_server());
    (port, state, dir)
}

async fn post(port: u16, path: &str, bearer: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(format!("http://127.0.0.1:{port}{path}")).json(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn get(port: u16, path: &str, bearer: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn create_tenant(port: u16, name: &str) -> (String, String) {
    let (s, b) = post(port, "/v1/platform/tenants", Some(PLATFORM_TOKEN), &json!({"name": name})).await;
    assert_eq!(s, 201, "{b}");
    (b["tenant_id"].as_str().unwrap().to_string(), b["api_key"].as_str().unwrap().to_string())
}

/// A `hello` that must be refused: the error frame's code and message, and the close code.
async fn refused_hello(ws: &mut Ws, key: &str, token: Option<&str>) -> (String, String, Option<u16>) {
    ws.send(json!({"type":"hello","deployment_key":key,"session_token":token,"resume_from_seq":null})).await;
    let e = ws.recv().await;
    assert_eq!(e["type"], "error", "{e}");
    (e["code"].as_str().unwrap().to_string(), e["message"].as_str().unwrap_or("").to_string(), ws.close_code().await)
}

// --- 1. session tokens and canceled shops ----------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_token_resumes_only_on_its_own_deployment() {
    let app = spawn_app().await;
    let (_ws, w) = app.shopper().await;
    let token = w["session_token"].as_str().unwrap();
    // Another deployment (site) of the same shop.
    let second = app.state.tenants.create_deployment(&app.demo.tenant_id, "second site", vec![]).await.unwrap();
    let mut ws = app.ws().await;
    let (code, _, close) = refused_hello(&mut ws, &second.key, Some(token)).await;
    assert_eq!((code.as_str(), close), ("unauthorized", Some(4401)));
    // On its own deployment it still resumes the same conversation.
    let mut ws = app.ws().await;
    let again = ws.hello(&app.demo.deployment_key, Some(token), None).await;
    assert_eq!(again["conversation_id"], w["conversation_id"]);
    // And the second deployment opens conversations of its own.
    let mut ws = app.ws().await;
    let fresh = ws.hello(&second.key, None, None).await;
    assert_ne!(fresh["conversation_id"], w["conversation_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canceled_shop_opens_no_conversations_new_or_resumed() {
    let app: TestApp = spawn_app().await;
    let tenant = app.demo.tenant_id.clone();
    let (_ws, w) = app.shopper().await;
    let token = w["session_token"].as_str().unwrap().to_string();

    // past_due still serves.
    app.store().set_tenant_status(&tenant, "past_due").await.unwrap();
    let (_ws, _) = app.shopper().await;

    app.store().set_tenant_status(&tenant, "canceled").await.unwrap();
    for token in [None, Some(token.as_str())] {
        let mut ws = app.ws().await;
        let (code, message, close) = refused_hello(&mut ws, &app.demo.deployment_key, token).await;
        assert_eq!((code.as_str(), close), ("forbidden", Some(4403)), "token {token:?}");
        assert!(message.contains("subscription is canceled"), "a clear reason: {message}");
    }

    // Reactivated, the same token resumes its conversation.
    app.store().set_tenant_status(&tenant, "active").await.unwrap();
    let mut ws = app.ws().await;
    let again = ws.hello(&app.demo.deployment_key, Some(&token), None).await;
    assert_eq!(again["conversation_id"], w["conversation_id"]);
}

// --- 2. portal emails unique per tenant -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_taken_in_another_tenant_is_not_revealed_and_logins_find_their_tenant() {
    let (port, state, _dir) = spawn_with(|_| {}).await;
    let (tenant_a, key_a) = create_tenant(port, "Shop A").await;
    let (tenant_b, key_b) = create_tenant(port, "Shop B").await;
    let users = "/v1/admin/users";

    let (s, in_a) = post(port, users, Some(&key_a), &json!({"email": "ann@shop.example", "password": "password of A"})).await;
    assert_eq!(s, 201, "{in_a}");
    // B adds the same address: answered exactly like a fresh address.
    let (s_taken, in_b) = post(port, users, Some(&key_b), &json!({"email": "ANN@shop.example", "password": "password of B"})).await;
    let (s_fresh, fresh) = post(port, users, Some(&key_b), &json!({"email": "zoe@shop.example", "password": "password of B"})).await;
    assert_eq!((s_taken, s_fresh), (201, 201), "{in_b} {fresh}");
    let shape = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        (keys, v["role"].clone())
    };
    assert_eq!(shape(&in_b), shape(&fresh));
    assert_eq!(in_b["email"], "ann@shop.example");
    assert_ne!(in_b["id"], in_a["id"], "another user");
    // The same address twice in one tenant is still the caller's own mistake.
    let (s, b) = post(port, users, Some(&key_b), &json!({"email": "ann@shop.example", "password": "yet another pw"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_request")), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("this shop"), "{b}");
    let stored = state.store.users_by_email("ann@shop.example", 8).await.unwrap();
    assert_eq!(stored.iter().map(|u| u.tenant_id.to_string()).collect::<Vec<_>>(), vec![tenant_a.clone(), tenant_b.clone()]);

    // Each password opens its own tenant.
    for (password, tenant) in [("password of A", &tenant_a), ("password of B", &tenant_b)] {
        let (s, login) = post(port, "/v1/auth/login", None, &json!({"email": "ann@shop.example", "password": password})).await;
        assert_eq!(s, 200, "{login}");
        let (s, me) = get(port, "/v1/admin/tenant", login["token"].as_str()).await;
        assert_eq!((s, me["id"].as_str()), (200, Some(tenant.as_str())), "{me}");
    }
    let (s, b) = post(port, "/v1/auth/login", None, &json!({"email": "ann@shop.example", "password": "nobody's password"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("unauthorized")), "{b}");

    // One password for both: the login asks which shop, and tenant_id picks it.
    let (s, _) = post(port, users, Some(&key_a), &json!({"email": "sam@shop.example", "password": "one password"})).await;
    assert_eq!(s, 201);
    let (s, _) = post(port, users, Some(&key_b), &json!({"email": "sam@shop.example", "password": "one password"})).await;
    assert_eq!(s, 201);
    let (s, b) = post(port, "/v1/auth/login", None, &json!({"email": "sam@shop.example", "password": "one password"})).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("bad_request")), "{b}");
    assert!(b["error"]["message"].as_str().unwrap().contains("tenant_id"), "{b}");
    let body = json!({"email": "sam@shop.example", "password": "one password", "tenant_id": tenant_b});
    let (s, login) = post(port, "/v1/auth/login", None, &body).await;
    assert_eq!(s, 200, "{login}");
    let (_, me) = get(port, "/v1/admin/tenant", login["token"].as_str()).await;
    assert_eq!(me["id"].as_str(), Some(tenant_b.as_str()));
    // A tenant_id where that email has no login, or a malformed one.
    let demo = state.demo.as_ref().unwrap().tenant_id.to_string();
    let (s, _) = post(port, "/v1/auth/login", None, &json!({"email": "sam@shop.example", "password": "one password", "tenant_id": demo})).await;
    assert_eq!(s, 401);
    let (s, _) = post(port, "/v1/auth/login", None, &json!({"email": "sam@shop.example", "password": "one password", "tenant_id": "not a tenant!"})).await;
    assert_eq!(s, 400);
}

// --- 3. one key per token kind ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_one_kind_signed_with_the_other_kinds_key_are_refused() {
    use ws_gateway::session_token::{Purpose, derive_key};
    let (port, state, _dir) = spawn_with(|_| {}).await;
    let (tenant, key) = create_tenant(port, "Keys").await;
    let (s, user) = post(port, "/v1/admin/users", Some(&key), &json!({"email": "kim@shop.example", "password": "kim's password", "role": "owner"})).await;
    assert_eq!(s, 201, "{user}");

    // A login token's claims, audience included, signed with each derived key.
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user["id"], "tid": tenant, "role": "owner", "aud": "aisle-admin", "iat": now, "exp": now + 600});
    let sign = |purpose: Purpose| {
        let key = jsonwebtoken::EncodingKey::from_secret(&derive_key(SECRET.as_bytes(), purpose));
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap()
    };
    let (s, me) = get(port, "/v1/admin/tenant", Some(&sign(Purpose::AdminLogin))).await;
    assert_eq!((s, me["id"].as_str()), (200, Some(tenant.as_str())), "control: the admin key signs logins");
    let (s, b) = get(port, "/v1/admin/tenant", Some(&sign(Purpose::ShopperSession))).await;
    assert_eq!((s, b["error"]["code"].as_str()), (401, Some("unauthorized")), "the shopper key does not: {b}");
    let raw = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes())).unwrap();
    assert_eq!(get(port, "/v1/admin/tenant", Some(&raw)).await.0, 401, "nor the raw secret");

    // And the other way round: a real login token is no shopper session.
    let (_, login) = post(port, "/v1/auth/login", None, &json!({"email": "kim@shop.example", "password": "kim's password"})).await;
    let admin_token = login["token"].as_str().unwrap();
    let demo_key = state.demo.as_ref().unwrap().deployment_key.clone();
    let mut ws = Ws::connect(port, None).await;
    let (code, _, close) = refused_hello(&mut ws, &demo_key, Some(admin_token)).await;
    assert_eq!((code.as_str(), close), ("unauthorized", Some(4401)));
    // A shopper session's claims signed with the admin key do not resume either.
    let mut ws = Ws::connect(port, None).await;
    let welcome = ws.hello(&demo_key, None, None).await;
    let session = welcome["session_token"].as_str().unwrap();
    let payload = session.split('.').nth(1).unwrap();
    let session_claims: Value = serde_json::from_slice(&base64_url_decode(payload)).unwrap();
    let admin_key = jsonwebtoken::EncodingKey::from_secret(&derive_key(SECRET.as_bytes(), Purpose::AdminLogin));
    let resigned = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &session_claims, &admin_key).unwrap();
    let mut ws = Ws::connect(port, None).await;
    let (code, _, close) = refused_hello(&mut ws, &demo_key, Some(&resigned)).await;
    assert_eq!((code.as_str(), close), ("unauthorized", Some(4401)));
    let mut ws = Ws::connect(port, None).await;
    assert_eq!(ws.hello(&demo_key, Some(session), None).await["conversation_id"], welcome["conversation_id"], "control");
}

/// Base64url without padding (a JWT segment).
fn base64_url_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = alphabet.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

// --- 5. slow bodies and the cap on unauthenticated requests -----------------------

/// A raw HTTP/1.1 request whose body (`len` bytes announced, or chunked when `None`)
/// trickles one byte every 50 ms until the server answers; returns what the server
/// sent before closing the connection.
async fn trickle(port: u16, head: String, len: Option<usize>) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let framing = match len {
        Some(n) => format!("Content-Length: {n}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".to_string(),
    };
    write.write_all(format!("{head}{framing}\r\n").as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..100_000 {
            let piece: &[u8] = if len.is_some() { b" " } else { b"1\r\n \r\n" };
            if write.write_all(piece).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut answer = Vec::new();
    // The server answers and closes: read to the end (bounded, so a hang fails).
    let read_all = tokio::time::timeout(WAIT * 2, read.read_to_end(&mut answer)).await;
    writer.abort();
    assert!(read_all.is_ok(), "the server kept the slow connection open; got so far: {}", String::from_utf8_lossy(&answer));
    String::from_utf8_lossy(&answer).into_owned()
}

fn login_head(port: u16) -> String {
    format!("POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_bodies_are_cut_at_the_deadline_while_normal_requests_pass() {
    let (port, _state, _dir) = spawn_with(|c| {
        c.body_timeout = Duration::from_millis(600);
        c.max_unauthenticated = 64;
    })
    .await;
    let (_, key) = create_tenant(port, "Slow").await;
    let import_head = format!("POST /v1/admin/catalog/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: text/csv\r\n");
    let mut slow = Vec::new();
    for i in 0..12 {
        let head = if i % 3 == 2 { import_head.clone() } else { login_head(port) };
        let len = if i % 4 == 3 { None } else { Some(10_000) };
        slow.push(tokio::spawn(trickle(port, head, len)));
    }
    // Meanwhile normal requests are served.
    let (s, me) = get(port, "/v1/admin/tenant", Some(&key)).await;
    assert_eq!(s, 200, "{me}");
    let (s, b) = post(port, "/v1/auth/login", None, &json!({"email": "x@shop.example", "password": "not the password"})).await;
    assert_eq!(s, 401, "{b}");
    for (i, client) in slow.into_iter().enumerate() {
        let answer = client.await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "client {i}: {answer}");
        assert!(answer.contains(r#""code":"request_timeout""#), "client {i}: {answer}");
        assert!(answer.contains("did not arrive within 600 ms"), "client {i}: {answer}");
    }
    assert_eq!(get(port, "/v1/admin/tenant", Some(&key)).await.0, 200, "still serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_unauthenticated_cap_get_503_with_retry_after() {
    let (port, _state, _dir) = spawn_with(|c| {
        c.body_timeout = Duration::from_secs(120);
        c.max_unauthenticated = 3;
    })
    .await;
    let (_, key) = create_tenant(port, "Capped").await;
    // The probe: `GET /v1/demo`, unauthenticated (and not rate limited like logins).
    let probe = |port: u16| async move {
        let res = reqwest::get(format!("http://127.0.0.1:{port}/v1/demo")).await.unwrap();
        let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        (res.status().as_u16(), retry_after, res.json::<Value>().await.unwrap_or(Value::Null))
    };
    // Waits (boundedly) until the probe gets `want` (or anything else, with `not`).
    let until = |want: Option<u16>, not: Option<u16>| async move {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got = probe(port).await;
            if want.is_some_and(|w| got.0 == w) || not.is_some_and(|n| got.0 != n) {
                return got;
            }
            assert!(tokio::time::Instant::now() < deadline, "still {got:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };

    // Slow bodies of authenticated imports do not count: their key was checked.
    let import_head = format!("POST /v1/admin/catalog/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: text/csv\r\n");
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(format!("{import_head}Content-Length: 100000\r\n\r\nsku,").as_bytes()).await.unwrap();
        held.push(s);
    }
    let (s, _, _) = until(None, Some(503)).await;
    assert_eq!(s, 200, "a request is served beside three slow authenticated imports");

    // Three slow unauthenticated logins fill the cap: the next request is refused.
    let mut slow = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // (Under the JSON limit, or it would be refused at once as too large.)
        s.write_all(format!("{}Content-Length: 1000\r\n\r\n{{", login_head(port)).as_bytes()).await.unwrap();
        slow.push(s);
    }
    let (s, retry_after, body) = until(Some(503), None).await;
    assert_eq!(s, 503);
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(retry_after.is_some_and(|r| r.parse::<u64>().is_ok_and(|n| n >= 1)), "Retry-After in seconds");
    // Probes are exempt.
    assert_eq!(get(port, "/healthz", None).await.0, 200);
    assert_eq!(get(port, "/readyz", None).await.0, 200);

    // The slow clients go away: their places are free again.
    drop(slow);
    let (s, _, _) = until(None, Some(503)).await;
    assert_eq!(s, 200);
    drop(held);
}

// --- 3b and 6. the real binary: a short secret, the demo password -------------------

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn aisle(data_dir: &std::path::Path, port: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
    cmd.arg("serve")
        .env("AISLE_DEMO", "1")
        .env("AISLE_BIND", format!("127.0.0.1:{port}"))
        .env("AISLE_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("AISLE_SESSION_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

/// Lines of the child's stderr, read on a thread.
fn stderr_lines(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

async fn wait_healthy(port: u16) {
    for _ in 0..600 {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/healthz never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_password_reaches_the_terminal_under_rust_log_warn_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = aisle(&data, port).spawn().expect("the aisle binary starts");
    let lines = stderr_lines(&mut child);
    let _guard = Kill(child);
    let prefix = format!("Aisle demo portal login: {} / ", ws_gateway::demo::DEMO_USER);
    let line = loop {
        let line = lines.recv_timeout(Duration::from_secs(120)).expect("the password line on stderr");
        if line.contains(&prefix) {
            break line;
        }
    };
    let password = line.split(&prefix).nth(1).unwrap().split(' ').next().unwrap().to_string();
    assert!(password.len() >= 20, "{line}");
    wait_healthy(port).await;
    let (s, login) = post(port, "/v1/auth/login", None, &json!({"email": ws_gateway::demo::DEMO_USER, "password": password})).await;
    assert_eq!(s, 200, "the printed password logs in: {login}");
    let (s, me) = get(port, "/v1/admin/tenant", login["token"].as_str()).await;
    assert_eq!((s, me["id"].as_str()), (200, Some(ws_gateway::demo::DEMO_TENANT)));
    drop(_guard);

    // A restart keeps the user, and says nothing more about the password.
    let port = free_port();
    let mut child = aisle(&data, port).spawn().expect("the aisle binary starts again");
    let lines = stderr_lines(&mut child);
    let guard = Kill(child);
    wait_healthy(port).await;
    let (s, _) = post(port, "/v1/auth/login", None, &json!({"email": ws_gateway::demo::DEMO_USER, "password": password})).await;
    assert_eq!(s, 200, "the same password after a restart");
    drop(guard);
    let said: Vec<String> = lines.iter().collect();
    assert!(!said.iter().any(|l| l.contains(&password) || l.contains("demo portal login")), "{said:?}");
}

#[test]
fn a_short_session_secret_stops_the_binary_with_a_message_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = aisle(dir.path(), free_port()).env("AISLE_SESSION_SECRET", "short-secret").output().expect("runs");
    assert!(!output.status.success(), "refused to start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AISLE_SESSION_SECRET") && stderr.contains("32"), "{stderr}");
}
