//! Starts the real `aisle` binary the way the README's first command does (demo on,
//! a temporary data dir) and checks it end to end over the network.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::Ws;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_demo_shop() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_aisle"))
        .arg("serve")
        .env("AISLE_DEMO", "1")
        .env("AISLE_BIND", format!("127.0.0.1:{port}"))
        .env("AISLE_DATA_DIR", dir.path().join("data"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the aisle binary starts");
    let _guard = Kill(child);
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "/healthz answers");
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status(), 200);
    let demo: Value = http.get(format!("{base}/v1/demo")).send().await.unwrap().json().await.unwrap();
    let key = demo["deployment_key"].as_str().expect("a deployment key");
    assert!(key.starts_with("pk_"));
    assert!(demo["tenant_id"].as_str().is_some());
    let page = http.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("/v1/ws"), "the shop page has the chat");
    assert!(dir.path().join("data").join("aisle.db").exists(), "the data dir was created");

    let mut ws = Ws::connect(port, None).await;
    ws.hello(key, None, None).await;
    ws.send(json!({"type":"message","id":"m1","text":"do you have hoodies?"})).await;
    let frames = ws.recv_until(|f| f["type"] == "assistant.end").await;
    assert!(frames.iter().any(|f| f["type"] == "products"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_demo_there_is_no_demo_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let config = ws_gateway::config::Config { bind: "127.0.0.1:0".parse().unwrap(), data_dir: dir.path().to_path_buf(), ..Default::default() };
    let app = ws_gateway::startup::Application::build(config).await.unwrap();
    let port = app.port();
    tokio::spawn(app.into_server());
    let r = reqwest::get(format!("http://127.0.0.1:{port}/v1/demo")).await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let r = reqwest::get(format!("http://127.0.0.1:{port}/no/such/route")).await.unwrap();
    assert_eq!(r.status(), 404);
}

/// `/metrics` says whether search is hybrid: 1 on the embedded vector store, 0 when
/// the configured Qdrant server cannot be reached and search fell back to keywords
/// (and the shop still answers). `/readyz` is 503 then: a configured backend is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_say_when_search_fell_back_to_keywords() {
    let cases = [
        (None, "aisle_retrieval_hybrid 1", 200, "up"),
        (Some("http://127.0.0.1:1".to_string()), "aisle_retrieval_hybrid 0", 503, "unavailable"),
    ];
    for (qdrant_url, want, ready_status, vectors) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = ws_gateway::config::Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            demo: true,
            qdrant_url,
            ..Default::default()
        };
        let app = ws_gateway::startup::Application::build(config).await.unwrap();
        let port = app.port();
        tokio::spawn(app.into_server());
        let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await.unwrap().text().await.unwrap();
        assert!(metrics.lines().any(|l| l == want), "{want} missing from:\n{metrics}");
        let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz")).await.unwrap();
        assert_eq!(ready.status().as_u16(), ready_status, "{want}");
        let ready: Value = ready.json().await.unwrap();
        assert_eq!(ready["vectors"], vectors, "{ready}");
        let demo: Value = reqwest::get(format!("http://127.0.0.1:{port}/v1/demo")).await.unwrap().json().await.unwrap();
        let mut ws = Ws::connect(port, None).await;
        ws.hello(demo["deployment_key"].as_str().unwrap(), None, None).await;
        ws.send(json!({"type":"message","id":"m1","text":"do you have hoodies?"})).await;
        let frames = ws.recv_until(|f| f["type"] == "assistant.end").await;
        assert!(frames.iter().any(|f| f["type"] == "products"), "{want}: the shop still finds hoodies");
    }
}
