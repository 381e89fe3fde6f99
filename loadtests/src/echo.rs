//! The baseline: a raw tokio-tungstenite WebSocket server doing the least a server
//! speaking contract §1 can do. It parses each text frame's `type` (as Aisle must),
//! answers `ping` with `{"type":"pong"}` and `hello` with a minimal `welcome`.
//!
//! With `fake_shop` it also answers `message` with one fake single-variant product
//! (`products`, then `assistant.end`) and `cart.set` with `ack` + `cart`, so the cart
//! scenario has a baseline too. Anything else is an `error` (`bad_request`).
//!
//! It also answers plain HTTP `GET /healthz` (200) and `GET /v1/demo`
//! (`{"tenant_id":"echo","deployment_key":"pk_echo"}`), so `bench` can be dry-run
//! end to end with the echo server standing in for Aisle.
//!
//! Every loop is bounded: the server stops at its deadline or when told, each
//! connection closes after [`IDLE_TIMEOUT`] without a frame, and at most
//! [`MAX_CONNECTIONS`] connections are served at once.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
pub const MAX_CONNECTIONS: usize = 10_000;

const PONG: &str = r#"{"type":"pong"}"#;
const WELCOME: &str = r#"{"type":"welcome","conversation_id":"echo","session_token":"echo","seq":0,"bot":{"name":"echo","greeting":""},"cart":{"version":0,"currency":"USD","subtotal_minor":0,"items":[]}}"#;
/// The fake product of `fake_shop`: one variant, in stock.
pub const FAKE_PRODUCT_ID: &str = "p_echo_duffle";

#[derive(Debug, Clone, Copy, Default)]
pub struct EchoOptions {
    pub fake_shop: bool,
}

/// A running echo server; dropping it (or [`EchoServer::stop`]) stops accepting.
pub struct EchoServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
}

impl EchoServer {
    pub fn url(&self) -> String {
        format!("ws://{}/v1/ws", self.addr)
    }
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `bind` and serves on the current runtime until stopped or `max_lifetime`.
pub async fn start(bind: &str, opts: EchoOptions, max_lifetime: Duration) -> Result<EchoServer> {
    let listener = TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(accept_loop(listener, opts, stop_rx, max_lifetime));
    Ok(EchoServer { addr, stop })
}

async fn accept_loop(
    listener: TcpListener,
    opts: EchoOptions,
    mut stop: watch::Receiver<bool>,
    max_lifetime: Duration,
) {
    let live = Arc::new(AtomicUsize::new(0));
    let deadline = tokio::time::Instant::now() + max_lifetime;
    loop {
        let accepted = tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(deadline) => break,
            a = listener.accept() => a,
        };
        let Ok((stream, _peer)) = accepted else { continue };
        if live.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            continue; // dropped: the client sees a reset
        }
        live.fetch_add(1, Ordering::Relaxed);
        let (live, stop) = (live.clone(), stop.clone());
        tokio::spawn(async move {
            let _ = serve(stream, opts, stop, deadline).await;
            live.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    #[serde(default, borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    quantity: Option<u32>,
}

/// Per-connection state of the fake shop.
#[derive(Default)]
struct Conn {
    seq: u64,
    cart_version: u64,
}

async fn serve(
    stream: TcpStream,
    opts: EchoOptions,
    mut stop: watch::Receiver<bool>,
    deadline: tokio::time::Instant,
) -> Result<()> {
    stream.set_nodelay(true)?;
    let mut stream = stream;
    if http_stub(&mut stream).await? {
        return Ok(());
    }
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let mut conn = Conn::default();
    loop {
        let next = tokio::select! {
            _ = stop.changed() => break,
            _ = tokio::time::sleep_until(deadline) => break,
            n = tokio::time::timeout(IDLE_TIMEOUT, ws.next()) => n,
        };
        let msg = match next {
            Err(_) | Ok(None) | Ok(Some(Err(_))) => break,
            Ok(Some(Ok(m))) => m,
        };
        let text = match msg {
            Message::Text(t) => t,
            Message::Close(_) => break,
            _ => continue,
        };
        for reply in answer(&text, opts, &mut conn) {
            ws.feed(Message::Text(reply)).await?;
        }
        ws.flush().await?;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
    Ok(())
}

/// Answers `GET /healthz` and `GET /v1/demo` (then closes); `Ok(false)` for
/// anything else, which is left unread for the WebSocket handshake.
async fn http_stub(stream: &mut TcpStream) -> Result<bool> {
    use tokio::io::AsyncWriteExt;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.peek(&mut buf))
        .await
        .context("no request within 5 s")??;
    let body = match &buf[..n] {
        b if b.starts_with(b"GET /healthz ") => "ok".to_owned(),
        b if b.starts_with(b"GET /v1/demo ") => {
            r#"{"tenant_id":"echo","deployment_key":"pk_echo"}"#.to_owned()
        }
        _ => return Ok(false),
    };
    let resp = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(resp.as_bytes()).await?;
    let _ = stream.shutdown().await;
    Ok(true)
}

/// The frames answering one client frame.
fn answer(text: &str, opts: EchoOptions, conn: &mut Conn) -> Vec<Utf8Bytes> {
    let Ok(f) = serde_json::from_str::<Frame<'_>>(text) else {
        return vec![error("bad_request", "malformed frame", None)];
    };
    match (f.ty.as_ref(), opts.fake_shop) {
        ("ping", _) => vec![Utf8Bytes::from_static(PONG)],
        ("hello", _) => vec![Utf8Bytes::from_static(WELCOME)],
        ("message", true) => {
            let id = f.id.unwrap_or_default();
            let ack = conn.event(serde_json::json!({"type":"ack","id":id}));
            let products = conn.event(serde_json::json!({
                "type":"products","turn":1,"items":[{
                    "id":FAKE_PRODUCT_ID,"sku":"ECHO-1","title":"Echo Duffle","description":"",
                    "category":"bags","tags":[],"price":{"amount_minor":4500,"currency":"USD"},
                    "in_stock":true,"image_url":null,"options":[],
                    "variants":[{"id":"v_echo_duffle","sku":"ECHO-1","title":"Default","options":{},
                                 "price":{"amount_minor":4500,"currency":"USD"},"in_stock":true}]}]}));
            let end = conn.event(serde_json::json!({"type":"assistant.end","turn":1,"text":"Yes."}));
            vec![ack, products, end]
        }
        ("cart.set", true) => {
            let id = f.id.unwrap_or_default();
            let q = f.quantity.unwrap_or(1);
            let ack = conn.event(serde_json::json!({"type":"ack","id":id}));
            conn.cart_version += 1;
            let cart = conn.event(serde_json::json!({"type":"cart","cart":{
                "version":conn.cart_version,"currency":"USD","subtotal_minor":4500 * q,
                "items":[{"product_id":FAKE_PRODUCT_ID,"variant_id":"v_echo_duffle","sku":"ECHO-1",
                          "title":"Echo Duffle","options":{},"quantity":q,
                          "unit_price_minor":4500,"line_total_minor":4500 * q}]}}));
            vec![ack, cart]
        }
        (_, _) => vec![error("bad_request", "unsupported frame type", f.id.as_deref())],
    }
}

impl Conn {
    fn event(&mut self, mut v: serde_json::Value) -> Utf8Bytes {
        self.seq += 1;
        v["seq"] = self.seq.into();
        v.to_string().into()
    }
}

fn error(code: &str, message: &str, id: Option<&str>) -> Utf8Bytes {
    serde_json::json!({"type":"error","code":code,"message":message,"id":id}).to_string().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(b: &Utf8Bytes) -> String {
        serde_json::from_str::<serde_json::Value>(b.as_str()).unwrap()["type"].as_str().unwrap().into()
    }

    #[test]
    fn ping_and_hello() {
        let mut c = Conn::default();
        let o = EchoOptions::default();
        assert_eq!(answer(r#"{"type":"ping"}"#, o, &mut c)[0].as_str(), PONG);
        assert_eq!(ty(&answer(&crate::wsclient::hello_frame("k"), o, &mut c)[0]), "welcome");
    }

    #[test]
    fn plain_echo_refuses_shop_frames() {
        let mut c = Conn::default();
        let r = answer(r#"{"type":"message","id":"m1","text":"hi"}"#, EchoOptions::default(), &mut c);
        assert_eq!(ty(&r[0]), "error");
        assert_eq!(ty(&answer("{", EchoOptions::default(), &mut c)[0]), "error");
    }

    #[test]
    fn fake_shop_acks_cart_set_with_increasing_seq() {
        let mut c = Conn::default();
        let o = EchoOptions { fake_shop: true };
        let r = answer(r#"{"type":"cart.set","id":"s1","product_id":"p","quantity":2}"#, o, &mut c);
        let v: Vec<serde_json::Value> =
            r.iter().map(|b| serde_json::from_str(b.as_str()).unwrap()).collect();
        assert_eq!((v[0]["type"].as_str(), v[0]["id"].as_str(), v[0]["seq"].as_u64()), (Some("ack"), Some("s1"), Some(1)));
        assert_eq!((v[1]["type"].as_str(), v[1]["seq"].as_u64()), (Some("cart"), Some(2)));
        assert_eq!(v[1]["cart"]["items"][0]["quantity"], 2);
    }
}
