//! A real `aisle` process that can be killed with SIGKILL and started again on the
//! same port and data (`Server`), and a WebSocket client that never panics when the
//! server vanishes under it. Used by the fault test (`durability.rs`).

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A start of the debug binary (demo seeding and indexing on the first).
const START_TIMEOUT: Duration = Duration::from_secs(180);

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

// ---------------------------------------------------------------------------------
// The server process.

pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) port: u16,
    data_dir: PathBuf,
    database_url: Option<String>,
    log: PathBuf,
    starts: u32,
}

impl Server {
    pub(crate) fn new(dir: &std::path::Path, database_url: Option<String>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Server { child: None, port, data_dir: dir.join("data"), database_url, log: dir.join("aisle.log"), starts: 0 }
    }

    /// Starts the binary on the same port and data and waits until it serves; returns
    /// the demo shop's deployment key.
    pub(crate) async fn start(&mut self) -> String {
        assert!(self.child.is_none(), "the server is already running");
        self.starts += 1;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_aisle"));
        cmd.arg("serve")
            .env("AISLE_DEMO", "1")
            .env("AISLE_BIND", format!("127.0.0.1:{}", self.port))
            .env("AISLE_DATA_DIR", &self.data_dir)
            .env("RUST_LOG", "warn")
            // The shoppers here are a load generator on one address: the rate limits
            // (tested in `limits.rs`) would refuse them, so they are off.
            .env("AISLE_RATE_WS_CONNECTS", "0")
            .env("AISLE_RATE_NEW_CONVERSATIONS", "0")
            .env("AISLE_RATE_CART_COMMANDS", "0")
            .env("AISLE_RATE_MESSAGES", "0")
            .env_remove("GROQ_API_KEY")
            .env_remove("AISLE_DATABASE_URL")
            .env_remove("AISLE_QDRANT_URL")
            .env_remove("AISLE_AMQP_URL")
            .env_remove("AISLE_REDIS_URL")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        if let Some(url) = &self.database_url {
            cmd.env("AISLE_DATABASE_URL", url);
        }
        self.child = Some(cmd.spawn().expect("the aisle binary starts"));
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(5)).build().unwrap();
        let base = format!("http://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("aisle exited during start {} ({status}); log tail:\n{}", self.starts, self.log_tail());
            }
            if let Ok(r) = http.get(format!("{base}/v1/demo")).send().await
                && r.status() == 200
                && let Ok(demo) = r.json::<Value>().await
                && let Some(key) = demo["deployment_key"].as_str()
            {
                return key.to_string();
            }
            assert!(Instant::now() < deadline, "aisle did not serve within {START_TIMEOUT:?}; log tail:\n{}", self.log_tail());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn log_tail(&self) -> String {
        let Ok(mut f) = std::fs::File::open(&self.log) else { return String::new() };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = f.seek(SeekFrom::Start(len.saturating_sub(6000)));
        let mut s = String::new();
        let _ = f.read_to_string(&mut s);
        s
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---------------------------------------------------------------------------------
// A socket that never panics: the server may vanish at any moment.

pub(crate) enum Next {
    Frame(Value),
    Timeout,
    Closed,
}

pub(crate) async fn connect(port: u16) -> Option<Socket> {
    let url = format!("ws://127.0.0.1:{port}/v1/ws");
    match tokio::time::timeout(Duration::from_secs(5), tokio_tungstenite::connect_async(url)).await {
        Ok(Ok((ws, _))) => Some(ws),
        _ => None,
    }
}

pub(crate) async fn send(ws: &mut Socket, v: &Value) -> bool {
    ws.send(Message::text(v.to_string())).await.is_ok()
}

pub(crate) async fn next(ws: &mut Socket, until: Instant) -> Next {
    loop {
        match tokio::time::timeout_at(until, ws.next()).await {
            Err(_) => return Next::Timeout,
            Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str(&t) {
                Ok(v) => return Next::Frame(v),
                Err(_) => return Next::Closed,
            },
            Ok(Some(Ok(Message::Close(_)))) | Ok(Some(Err(_))) | Ok(None) => return Next::Closed,
            Ok(Some(Ok(_))) => continue,
        }
    }
}
