//! `spawn_app()` and a typed WebSocket client for the tests.

use std::sync::Arc;
use std::time::Duration;

use engine_sql::PostgresStore;
use engine::domain::TenantId;
use engine::ports::store::Store;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use ws_gateway::config::{Config, RateLimits};
use ws_gateway::startup::Application;
use ws_gateway::state::{AppState, DemoShop};

pub const WAIT: Duration = Duration::from_secs(15);

/// The operator token test apps run with (see `Options::platform_api`).
pub const PLATFORM_TOKEN: &str = "test-platform-token-0123456789";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub port: u16,
    pub demo: DemoShop,
    pub state: actix_web::web::Data<AppState>,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub db: Db,
    pub idle_timeout: Duration,
    pub hello_timeout: Duration,
    /// Whether `AISLE_PLATFORM_TOKEN` is set (to `PLATFORM_TOKEN`).
    pub platform_api: bool,
    /// `AISLE_WS_OUTBOX_BYTES` and `AISLE_WS_WRITE_TIMEOUT_MS`.
    pub ws_outbox_bytes: usize,
    pub ws_write_timeout: Duration,
    /// Permissive unless a test is about the limits.
    pub rate_limits: RateLimits,
    pub import_queue_bytes: u64,
    /// Workers of the job queue; 0 holds jobs queued.
    pub job_workers: usize,
    /// A (fake) Groq's base URL: `GROQ_API_KEY` is then set to [`GROQ_KEY`].
    pub groq: Option<String>,
}

/// The deployment's Groq key in tests that talk to the fake Groq.
pub const GROQ_KEY: &str = "gsk_test_deployment_key";

impl Default for Options {
    fn default() -> Self {
        Self {
            db: Db::Sqlite,
            idle_timeout: Duration::from_secs(300),
            hello_timeout: Duration::from_secs(10),
            platform_api: true,
            ws_outbox_bytes: actors::OUTBOX_BYTES,
            ws_write_timeout: Duration::from_secs(10),
            rate_limits: RateLimits::permissive(),
            import_queue_bytes: Config::default().import_queue_bytes,
            job_workers: Config::default().job_workers,
            groq: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_on(db: Db) -> TestApp {
    spawn_app_with(Options { db, ..Options::default() }).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        demo: true,
        idle_timeout: opts.idle_timeout,
        hello_timeout: opts.hello_timeout,
        platform_token: opts.platform_api.then(|| ws_gateway::config::Secret::new(PLATFORM_TOKEN)),
        ws_outbox_bytes: opts.ws_outbox_bytes,
        ws_write_timeout: opts.ws_write_timeout,
        rate_limits: opts.rate_limits,
        import_queue_bytes: opts.import_queue_bytes,
        job_workers: opts.job_workers,
        groq_api_key: opts.groq.as_ref().map(|_| ws_gateway::config::Secret::new(GROQ_KEY)),
        groq_base_url: opts.groq.clone().unwrap_or_else(|| Config::default().groq_base_url),
        // A stalled fake Groq is given up on quickly.
        groq_read_timeout: Duration::from_millis(800),
        ..Config::default()
    };
    let app = match opts.db {
        Db::Sqlite => Application::build(config).await.expect("app builds on SQLite"),
        Db::Postgres => {
            let schema = format!("gw_{}", uuid::Uuid::new_v4().simple());
            let store = PostgresStore::connect_with_schema("postgres://postgres@127.0.0.1:5432/test", &schema)
                .await
                .expect("PostgreSQL must be running on 127.0.0.1:5432 (user postgres, database test) for these tests");
            let store: Arc<dyn Store> = Arc::new(store);
            Application::build_with_store(config, store).await.expect("app builds on PostgreSQL")
        }
    };
    let port = app.port();
    let state = app.state.clone();
    let demo = state.demo.clone().expect("demo shop seeded");
    tokio::spawn(app.into_server());
    TestApp { port, demo, state, _dir: dir }
}

impl TestApp {
    pub async fn ws(&self) -> Ws {
        Ws::connect(self.port, None).await
    }

    pub async fn ws_with_origin(&self, origin: &str) -> Ws {
        Ws::connect(self.port, Some(origin)).await
    }

    /// A socket past `welcome` on a new conversation of the demo shop.
    pub async fn shopper(&self) -> (Ws, Value) {
        let mut ws = self.ws().await;
        let welcome = ws.hello(&self.demo.deployment_key, None, None).await;
        (ws, welcome)
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.state.store
    }

    /// A demo product by title, as the store has it.
    pub async fn product(&self, title: &str) -> engine::domain::Product {
        product_of(self.store().as_ref(), &self.demo.tenant_id, title).await
    }
}

pub async fn product_of(store: &dyn Store, tenant: &TenantId, title: &str) -> engine::domain::Product {
    let mut after: Option<String> = None;
    loop {
        let page = store.list_products(tenant, after.as_deref(), 200).await.unwrap();
        if let Some(p) = page.iter().find(|p| p.title == title) {
            return p.clone();
        }
        if page.len() < 200 {
            panic!("no product titled {title:?}");
        }
        after = page.last().map(|p| p.sku.to_string());
    }
}

pub struct Ws {
    inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    pub async fn connect(port: u16, origin: Option<&str>) -> Ws {
        let mut req = format!("ws://127.0.0.1:{port}/v1/ws").into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("Origin", o.parse().unwrap());
        }
        let (inner, _) = tokio_tungstenite::connect_async(req).await.expect("websocket connects");
        Ws { inner }
    }

    /// Connects from a given local address (127.0.0.2 is another client on Linux,
    /// whose loopback is all of 127/8); the server's refusal is an `Err`.
    pub async fn connect_from(port: u16, local: std::net::IpAddr) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(std::net::SocketAddr::new(local, 0)).expect("bind the client address");
        let tcp = socket.connect(std::net::SocketAddr::from(([127, 0, 0, 1], port))).await.expect("tcp connects");
        let req = format!("ws://127.0.0.1:{port}/v1/ws").into_client_request().unwrap();
        let (inner, _) = tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(tcp)).await?;
        Ok(Ws { inner })
    }

    pub async fn send(&mut self, v: Value) {
        self.inner.send(Message::text(v.to_string())).await.expect("send");
    }

    pub async fn send_text(&mut self, s: impl Into<String>) {
        self.inner.send(Message::text(s.into())).await.expect("send");
    }

    pub async fn send_binary(&mut self, b: Vec<u8>) {
        self.inner.send(Message::binary(b)).await.expect("send");
    }

    /// The next JSON frame (control frames skipped). Panics after `WAIT`.
    pub async fn recv(&mut self) -> Value {
        self.try_recv(WAIT).await.expect("a frame in time")
    }

    /// The next JSON frame within `d`, or `None` (timeout or closed).
    pub async fn try_recv(&mut self, d: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.inner.next()).await.ok()??;
            match msg {
                Ok(Message::Text(t)) => return Some(serde_json::from_str(&t).expect("server frames are JSON")),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// Frames until one matches `done` (included).
    pub async fn recv_until(&mut self, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.recv().await;
            let stop = done(&v);
            out.push(v);
            if stop {
                return out;
            }
        }
    }

    /// The close code the server ends with (skipping frames before it).
    pub async fn close_code(&mut self) -> Option<u16> {
        loop {
            match tokio::time::timeout(WAIT, self.inner.next()).await.ok()? {
                Some(Ok(Message::Close(Some(frame)))) => return Some(u16::from(frame.code)),
                Some(Ok(Message::Close(None))) => return None,
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    }

    /// Reads until the server ends the connection: `Ok(close code)` (`None` when it
    /// ended without a close frame), or `Err(())` when it is still open after `d`.
    pub async fn ended_within(&mut self, d: Duration) -> Result<Option<u16>, ()> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.inner.next()).await {
                Err(_) => return Err(()),
                Ok(Some(Ok(Message::Close(frame)))) => return Ok(frame.map(|f| u16::from(f.code))),
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(_)) | None) => return Ok(None),
            }
        }
    }

    pub async fn hello(&mut self, key: &str, token: Option<&str>, resume: Option<i64>) -> Value {
        self.send(json!({"type":"hello","deployment_key":key,"session_token":token,"resume_from_seq":resume})).await;
        let w = self.recv().await;
        assert_eq!(w["type"], "welcome", "expected welcome, got {w}");
        w
    }

    pub async fn close(mut self) {
        let _ = self.inner.close(None).await;
    }
}

/// Frames of a list with a given type.
pub fn of_type<'a>(frames: &'a [Value], t: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["type"] == t).collect()
}

/// The `seq` values of frames that carry one, in order.
pub fn seqs(frames: &[Value]) -> Vec<i64> {
    frames.iter().filter_map(|f| f["seq"].as_i64()).collect()
}
