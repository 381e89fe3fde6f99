//! `ping`: closed-loop WebSocket round trips. N clients each open a session
//! (`hello` → `welcome`) and then keep exactly one `ping` outstanding, sending the next
//! as soon as the `pong` arrives. Measures round trips/s and round-trip latency; this
//! is the server's raw per-frame cost, comparable between echo and Aisle.

use std::time::Duration;

use anyhow::{Result, bail};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::stats::{self, Latency, Outcome};
use crate::wsclient::{self, Ws};

const PING: &str = r#"{"type":"ping"}"#;
const PONG: &str = r#"{"type":"pong"}"#;
/// A `pong` later than this fails the client.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(5);
/// Hard cap on round trips per client, whatever the duration.
pub const MAX_ROUND_TRIPS: u64 = 50_000_000;

#[derive(Debug, Clone)]
pub struct PingOptions {
    pub url: String,
    pub origin: Option<String>,
    pub deployment_key: String,
    pub clients: usize,
    pub duration: Duration,
    /// Round trips before the measured window are sent but not recorded.
    pub warmup: Duration,
    /// Label of the server in the report (`echo`, `aisle`...).
    pub target: String,
}

#[derive(Default)]
struct ClientStats {
    hist: Option<hdrhistogram::Histogram<u64>>,
    round_trips: u64,
    error_frames: u64,
    other_frames: u64,
    failure: Option<String>,
}

pub async fn run(o: &PingOptions) -> Result<Outcome> {
    wsclient::check_loopback(&o.url)?;
    if o.clients == 0 || o.duration.is_zero() {
        bail!("ping needs at least one client and a non-zero duration");
    }
    let sessions = open_all(o).await?;
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + o.warmup;
    let end = measure_from + o.duration;
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|ws| tokio::spawn(client_loop(ws, start, measure_from, end)))
        .collect();
    let mut hist = stats::new_hist();
    let (mut rts, mut errs, mut other, mut failed, mut first_failure) = (0, 0, 0, 0, None);
    for t in tasks {
        let s = t.await.unwrap_or_else(|e| ClientStats {
            failure: Some(format!("client task panicked: {e}")),
            ..Default::default()
        });
        if let Some(h) = &s.hist {
            hist.add(h).expect("same histogram bounds");
        }
        rts += s.round_trips;
        errs += s.error_frames;
        other += s.other_frames;
        if let Some(f) = s.failure {
            failed += 1;
            first_failure.get_or_insert(f);
        }
    }
    let secs = o.duration.as_secs_f64();
    let mut notes = format!("{other} other frames");
    if let Some(f) = first_failure {
        notes.push_str(&format!("; {failed} clients failed, first: {f}"));
    }
    if errs > 0 {
        notes.push_str(&format!("; {errs} error frames"));
    }
    Ok(Outcome {
        scenario: "ping".into(),
        target: o.target.clone(),
        clients: o.clients,
        duration_s: secs,
        rate_target: None,
        achieved_rate: None,
        throughput: rts as f64 / secs,
        latency: Latency::of(&hist),
        hist,
        effect: None,
        errors: errs + failed,
        notes,
    })
}

/// Opens every client's session concurrently; fails if any cannot.
pub async fn open_all_sessions(
    url: &str,
    origin: Option<&str>,
    key: &str,
    clients: usize,
) -> Result<Vec<Ws>> {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (url, origin, key) = (url.to_owned(), origin.map(str::to_owned), key.to_owned());
            tokio::spawn(async move { wsclient::open_session(&url, origin.as_deref(), &key).await })
        })
        .collect();
    let (mut ok, mut failed, mut first) = (Vec::with_capacity(clients), 0usize, None);
    for t in tasks {
        match t.await {
            Ok(Ok(ws)) => ok.push(ws),
            Ok(Err(e)) => {
                failed += 1;
                first.get_or_insert(format!("{e:#}"));
            }
            Err(e) => {
                failed += 1;
                first.get_or_insert(format!("task panicked: {e}"));
            }
        }
    }
    if let Some(e) = first {
        for ws in ok {
            wsclient::close(ws).await;
        }
        bail!("{failed} of {clients} clients could not open a session at {url}; first error: {e}");
    }
    Ok(ok)
}

async fn open_all(o: &PingOptions) -> Result<Vec<Ws>> {
    open_all_sessions(&o.url, o.origin.as_deref(), &o.deployment_key, o.clients).await
}

async fn client_loop(mut ws: Ws, start: Instant, measure_from: Instant, end: Instant) -> ClientStats {
    let mut s = ClientStats { hist: Some(stats::new_hist()), ..Default::default() };
    tokio::time::sleep_until(start).await;
    let mut n = 0u64;
    while n < MAX_ROUND_TRIPS {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        n += 1;
        if let Err(e) = wsclient::send_frame(&mut ws, Message::Text(Utf8Bytes::from_static(PING))).await {
            s.failure = Some(format!("{e:#}"));
            break;
        }
        match wait_pong(&mut ws, &mut s).await {
            Ok(true) => {
                if sent >= measure_from {
                    stats::record(s.hist.as_mut().expect("set above"), sent.elapsed());
                    s.round_trips += 1;
                }
            }
            Ok(false) => {} // answered with an error frame: counted, not timed
            Err(e) => {
                s.failure = Some(format!("{e:#}"));
                break;
            }
        }
    }
    wsclient::close(ws).await;
    s
}

/// `Ok(true)` on `pong`, `Ok(false)` when an `error` frame answered instead.
async fn wait_pong(ws: &mut Ws, s: &mut ClientStats) -> Result<bool> {
    let deadline = Instant::now() + PONG_TIMEOUT;
    for _ in 0..wsclient::MAX_SKIPPED_FRAMES {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(text) = wsclient::next_text(ws, left).await? else {
            bail!("no pong within {PONG_TIMEOUT:?}");
        };
        if text == PONG {
            return Ok(true);
        }
        match wsclient::head(&text) {
            Some(h) if h.ty == "pong" => return Ok(true),
            Some(h) if h.ty == "error" => {
                s.error_frames += 1;
                return Ok(false);
            }
            _ => s.other_frames += 1,
        }
    }
    bail!("no pong among {} frames", wsclient::MAX_SKIPPED_FRAMES)
}
