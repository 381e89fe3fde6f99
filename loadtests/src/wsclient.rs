//! The shopper-side WebSocket plumbing shared by the scenarios: connect on loopback,
//! `hello` → `welcome`, and a cheap frame header parse (`type`, `id`, `code`).
//!
//! The client parses only what it needs, so its CPU cost (which competes with the
//! server on the same machine) stays small and identical for echo and Aisle.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long connecting plus `hello` → `welcome` may take, per client.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames a client skips while waiting for one particular frame, at most.
pub const MAX_SKIPPED_FRAMES: usize = 10_000;

/// The header fields of a server frame; everything else is skipped unparsed.
#[derive(Debug, Deserialize)]
pub struct Head<'a> {
    #[serde(rename = "type", borrow)]
    pub ty: Cow<'a, str>,
    #[serde(default, borrow)]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub code: Option<Cow<'a, str>>,
}

/// Parses a frame's header; `None` when it is not a JSON object with a string `type`.
pub fn head(text: &str) -> Option<Head<'_>> {
    serde_json::from_str(text).ok()
}

/// Refuses anything but `ws://` on a loopback address: load never leaves this machine.
pub fn check_loopback(url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| anyhow!("{url}: only ws:// (or http://) URLs are supported"))?;
    let host_port = rest.split('/').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    let loopback = host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        bail!("{url}: load tests only target loopback addresses (got host {host:?})");
    }
    Ok(())
}

/// Opens a WebSocket (Nagle off), optionally with an `Origin` header.
pub async fn connect(url: &str, origin: Option<&str>) -> Result<Ws> {
    let mut req = url.into_client_request().with_context(|| format!("bad URL {url}"))?;
    if let Some(o) = origin {
        req.headers_mut().insert("Origin", HeaderValue::from_str(o).context("bad origin")?);
    }
    let (ws, _resp) = timeout(
        OPEN_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(req, None, true),
    )
    .await
    .map_err(|_| anyhow!("connecting to {url} timed out after {OPEN_TIMEOUT:?}"))?
    .with_context(|| format!("WebSocket upgrade to {url} failed"))?;
    Ok(ws)
}

/// Sends one text frame.
pub async fn send_text(ws: &mut Ws, text: String) -> Result<()> {
    send_frame(ws, Message::text(text)).await
}

/// Sends (and flushes) one frame.
pub async fn send_frame(ws: &mut Ws, msg: Message) -> Result<()> {
    ws.send(msg).await.context("sending a frame failed")
}

/// Next text frame within `wait`; `Ok(None)` on timeout. Control frames are skipped
/// (tungstenite answers pings itself); a close or a transport error is an error.
pub async fn next_text(ws: &mut Ws, wait: Duration) -> Result<Option<String>> {
    let deadline = tokio::time::Instant::now() + wait;
    for _ in 0..MAX_SKIPPED_FRAMES {
        let msg = match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return Ok(None),
            Ok(None) => bail!("the server closed the connection"),
            Ok(Some(Err(e))) => return Err(e).context("reading a frame failed"),
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(t) => return Ok(Some(t.as_str().to_owned())),
            Message::Close(c) => bail!("the server closed the connection: {c:?}"),
            Message::Binary(_) => bail!("unexpected binary frame"),
            _ => continue,
        }
    }
    bail!("more than {MAX_SKIPPED_FRAMES} control frames in a row")
}

/// The `hello` frame of contract §1 for a fresh shopper.
pub fn hello_frame(deployment_key: &str) -> String {
    serde_json::json!({
        "type": "hello",
        "deployment_key": deployment_key,
        "session_token": null,
        "resume_from_seq": null,
    })
    .to_string()
}

/// Connects, sends `hello` and waits for `welcome` (whole thing within
/// [`OPEN_TIMEOUT`]); an `error` frame or a close before it is reported verbatim.
pub async fn open_session(url: &str, origin: Option<&str>, key: &str) -> Result<Ws> {
    let mut ws = connect(url, origin).await?;
    send_text(&mut ws, hello_frame(key)).await?;
    let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
    for _ in 0..MAX_SKIPPED_FRAMES {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(text) = next_text(&mut ws, left).await.context("waiting for welcome")? else {
            bail!("no welcome within {OPEN_TIMEOUT:?} after hello");
        };
        match head(&text) {
            Some(h) if h.ty == "welcome" => return Ok(ws),
            Some(h) if h.ty == "error" => bail!("hello refused: {text}"),
            _ => continue,
        }
    }
    bail!("no welcome among the first {MAX_SKIPPED_FRAMES} frames")
}

/// Best-effort polite close, bounded in time.
pub async fn close(mut ws: Ws) {
    let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_parses_only_the_header() {
        let h = head(r#"{"type":"ack","id":"s12","seq":3,"x":{"deep":[1,2]}}"#).unwrap();
        assert_eq!(h.ty, "ack");
        assert_eq!(h.id.as_deref(), Some("s12"));
        assert!(h.code.is_none());
        assert!(head("not json").is_none());
        assert!(head(r#"{"id":"x"}"#).is_none());
    }

    #[test]
    fn only_loopback_urls_are_allowed() {
        assert!(check_loopback("ws://127.0.0.1:8080/v1/ws").is_ok());
        assert!(check_loopback("ws://localhost:1/v1/ws").is_ok());
        assert!(check_loopback("ws://[::1]:9/x").is_ok());
        assert!(check_loopback("ws://10.0.0.1:8080/v1/ws").is_err());
        assert!(check_loopback("ws://example.com/v1/ws").is_err());
        assert!(check_loopback("wss://127.0.0.1/v1/ws").is_err());
    }

    #[test]
    fn hello_has_the_contract_fields() {
        let v: serde_json::Value = serde_json::from_str(&hello_frame("pk_1")).unwrap();
        assert_eq!(v["type"], "hello");
        assert_eq!(v["deployment_key"], "pk_1");
        assert!(v["session_token"].is_null() && v["resume_from_seq"].is_null());
    }
}
