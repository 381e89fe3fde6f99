//! `cart`: cart-command latency at a fixed, open-loop rate, to the `ack` and to the
//! `cart` event that shows the command's effect.
//!
//! Each client first opens a session and finds a product to put in its cart: it sends
//! `message` "do you have a duffle bag?" and picks, from the `products` event, an item
//! that is `in_stock` with exactly one variant (so `variant_id` may be omitted). Then
//! all clients together send `cart.set` (quantity 1, 2, 1, 2…) on a fixed schedule:
//! `rate / clients` per client, client `i` offset by `i / rate`, so the sends are spread
//! evenly. Two latencies run from the *scheduled* send time: to the `ack` with the same
//! `id`, and to the `cart` event that reflects the command (the *effect*). A stalled
//! server cannot slow the generator down and hide its stall (coordinated omission).
//!
//! Matching a `cart` event to its command: the conversation applies one socket's
//! commands in the order they were sent and emits exactly one `cart` event per applied
//! change (a refused command gets an `error` with its `id` instead, and no `cart`), so
//! the n-th `cart` event belongs to the n-th command still waiting for its effect. The
//! quantities alternate 1, 2, 1, 2…, so every `cart` event's line quantity is checked
//! against the command it is matched to: a lost, repeated or reordered `cart` event
//! shows as a mismatch (counted, never timed) rather than as a wrong latency. A send the timer fires early (tokio timers tick per millisecond; we wake
//! up to 1 ms early rather than late) is timed from when it was actually sent.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::{self, Latency, Outcome};
use crate::wsclient::{self, Ws};

/// How long a client may take to find a product.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// After the last scheduled send, how long to wait for outstanding acks.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// After the last ack, stop once no frame has come for this long.
const LINGER: Duration = Duration::from_secs(1);
/// Wake this much before a scheduled send (the timer rounds up to the next ms).
const EARLY: Duration = Duration::from_millis(1);
/// Hard caps per client, whatever the rate and duration.
pub const MAX_COMMANDS: u64 = 10_000_000;
const MAX_FRAMES: u64 = 100_000_000;

pub const DISCOVERY_TEXT: &str = "do you have a duffle bag?";

#[derive(Debug, Clone)]
pub struct CartOptions {
    pub url: String,
    pub origin: Option<String>,
    pub deployment_key: String,
    pub clients: usize,
    /// Commands per second, all clients together.
    pub rate: f64,
    pub duration: Duration,
    pub warmup: Duration,
    pub target: String,
}

#[derive(Default)]
struct ClientStats {
    acks: Option<hdrhistogram::Histogram<u64>>,
    /// Scheduled send → the `cart` event that shows the command's effect.
    effects: Option<hdrhistogram::Histogram<u64>>,
    lag: Option<hdrhistogram::Histogram<u64>>,
    sent_in_window: u64,
    sent_total: u64,
    acked_in_window: u64,
    effects_in_window: u64,
    cart_events: u64,
    /// `cart` events whose quantity is not the one of the command they matched.
    effect_mismatches: u64,
    /// `cart` events that came before their command's `ack` (the contract says the ack
    /// comes first).
    effects_before_ack: u64,
    /// `cart` events with no command waiting for one.
    unexpected_carts: u64,
    other_frames: u64,
    errors: BTreeMap<String, u64>,
    unanswered: u64,
    /// Measured commands acknowledged whose `cart` event never came.
    no_effect: u64,
    failure: Option<String>,
}

pub async fn run(o: &CartOptions) -> Result<Outcome> {
    wsclient::check_loopback(&o.url)?;
    if o.clients == 0 || o.duration.is_zero() || !(o.rate > 0.0 && o.rate.is_finite()) {
        bail!("cart needs at least one client, a positive rate and a non-zero duration");
    }
    let sessions =
        crate::ping::open_all_sessions(&o.url, o.origin.as_deref(), &o.deployment_key, o.clients)
            .await?;
    let ready = discover_all(sessions).await?;

    let start = Instant::now() + Duration::from_millis(50);
    let measure_from = start + o.warmup;
    let end = measure_from + o.duration;
    let interval = Duration::from_secs_f64(o.clients as f64 / o.rate);
    let tasks: Vec<_> = ready
        .into_iter()
        .enumerate()
        .map(|(i, (ws, product))| {
            let first = start + Duration::from_secs_f64(i as f64 / o.rate);
            let sched = Schedule { first, interval, measure_from, end };
            tokio::spawn(client_loop(ws, product, sched))
        })
        .collect();

    let (mut acks, mut effects, mut lag) = (stats::new_hist(), stats::new_hist(), stats::new_hist());
    let mut total = ClientStats::default();
    let (mut failed, mut first_failure) = (0u64, None);
    for t in tasks {
        let s = t.await.unwrap_or_else(|e| ClientStats {
            failure: Some(format!("client task panicked: {e}")),
            ..Default::default()
        });
        if let Some(h) = &s.acks {
            acks.add(h).expect("same bounds");
        }
        if let Some(h) = &s.effects {
            effects.add(h).expect("same bounds");
        }
        if let Some(h) = &s.lag {
            lag.add(h).expect("same bounds");
        }
        total.sent_in_window += s.sent_in_window;
        total.sent_total += s.sent_total;
        total.acked_in_window += s.acked_in_window;
        total.effects_in_window += s.effects_in_window;
        total.cart_events += s.cart_events;
        total.effect_mismatches += s.effect_mismatches;
        total.effects_before_ack += s.effects_before_ack;
        total.unexpected_carts += s.unexpected_carts;
        total.other_frames += s.other_frames;
        total.unanswered += s.unanswered;
        total.no_effect += s.no_effect;
        for (code, n) in s.errors {
            *total.errors.entry(code).or_default() += n;
        }
        if let Some(f) = s.failure {
            failed += 1;
            first_failure.get_or_insert(f);
        }
    }
    let secs = o.duration.as_secs_f64();
    let error_frames: u64 = total.errors.values().sum();
    let lag = Latency::of(&lag);
    let mut notes = format!(
        "sent {:.0}/s of {:.0}/s target; {} cart events for {} commands sent in all (warm-up included); send lag p99 {} µs max {} µs",
        total.sent_in_window as f64 / secs,
        o.rate,
        total.cart_events,
        total.sent_total,
        lag.p99,
        lag.max,
    );
    if error_frames > 0 {
        notes.push_str(&format!("; error frames {:?}", total.errors));
    }
    if total.unanswered > 0 {
        notes.push_str(&format!("; {} commands never answered", total.unanswered));
    }
    if total.no_effect > 0 {
        notes.push_str(&format!("; {} acknowledged commands without their `cart` event", total.no_effect));
    }
    if total.effect_mismatches > 0 {
        notes.push_str(&format!(
            "; {} `cart` events did not show their command's quantity (lost, repeated or reordered events)",
            total.effect_mismatches
        ));
    }
    if total.effects_before_ack > 0 {
        notes.push_str(&format!("; {} `cart` events came before their command's ack", total.effects_before_ack));
    }
    if total.unexpected_carts > 0 {
        notes.push_str(&format!("; {} `cart` events with no command waiting", total.unexpected_carts));
    }
    if let Some(f) = first_failure {
        notes.push_str(&format!("; {failed} clients failed, first: {f}"));
    }
    Ok(Outcome {
        scenario: "cart".into(),
        target: o.target.clone(),
        clients: o.clients,
        duration_s: secs,
        rate_target: Some(o.rate),
        achieved_rate: Some(total.sent_in_window as f64 / secs),
        throughput: total.acked_in_window as f64 / secs,
        latency: Latency::of(&acks),
        hist: acks,
        effect: Some(stats::Effect { latency: Latency::of(&effects), hist: effects }),
        errors: error_frames + total.unanswered + total.no_effect + total.effect_mismatches + failed,
        notes,
    })
}

/// Runs [`discover`] on every session concurrently; fails with the first error.
async fn discover_all(sessions: Vec<Ws>) -> Result<Vec<(Ws, String)>> {
    let n = sessions.len();
    let tasks: Vec<_> = sessions.into_iter().map(|ws| tokio::spawn(discover(ws))).collect();
    let (mut ok, mut first) = (Vec::with_capacity(n), None);
    for t in tasks {
        match t.await {
            Ok(Ok(pair)) => ok.push(pair),
            Ok(Err(e)) => {
                first.get_or_insert(e);
            }
            Err(e) => {
                first.get_or_insert(anyhow!("discovery task panicked: {e}"));
            }
        }
    }
    if let Some(e) = first {
        for (ws, _) in ok {
            wsclient::close(ws).await;
        }
        return Err(e.context(format!(
            "cart: finding a product failed (asked {DISCOVERY_TEXT:?}, expected a `products` event with an in-stock single-variant item)"
        )));
    }
    Ok(ok)
}

/// Asks for a duffle bag and returns a single-variant, in-stock product id from the
/// `products` event; waits for the turn's `assistant.end` (bounded) so the reply's
/// tail does not spill into the measurement.
async fn discover(mut ws: Ws) -> Result<(Ws, String)> {
    let msg = serde_json::json!({"type":"message","id":"m1","text":DISCOVERY_TEXT});
    wsclient::send_text(&mut ws, msg.to_string()).await?;
    let mut deadline = Instant::now() + DISCOVERY_TIMEOUT;
    let (mut found, mut ended) = (None::<String>, false);
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    let mut offered: Vec<String> = Vec::new();
    for _ in 0..wsclient::MAX_SKIPPED_FRAMES {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(text) = wsclient::next_text(&mut ws, left).await? else { break };
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let ty = v["type"].as_str().unwrap_or("?").to_owned();
        *seen.entry(ty.clone()).or_default() += 1;
        match ty.as_str() {
            "products" if found.is_none() => {
                found = pick_product(&v, &mut offered);
                if found.is_some() && !ended {
                    deadline = deadline.min(Instant::now() + Duration::from_secs(5));
                }
            }
            "assistant.end" => {
                ended = true;
                // `products` may follow the reply's end; allow a short grace.
                deadline = deadline.min(Instant::now() + Duration::from_secs(2));
            }
            "error" if v["id"] == "m1" || v["id"].is_null() => {
                bail!("the server refused the message: {text}");
            }
            _ => {}
        }
        if found.is_some() && ended {
            break;
        }
    }
    match found {
        Some(p) => Ok((ws, p)),
        None if offered.is_empty() => bail!(
            "no `products` event with items within {DISCOVERY_TIMEOUT:?}; frames seen by type: {seen:?}"
        ),
        None => bail!(
            "no offered product is in stock with exactly one variant; offered: {}",
            offered.join(", ")
        ),
    }
}

/// The first `items[]` entry that is in stock and has exactly one (in-stock) variant.
fn pick_product(products: &Value, offered: &mut Vec<String>) -> Option<String> {
    for item in products["items"].as_array()? {
        let id = item["id"].as_str()?;
        let variants = item["variants"].as_array().map_or(0, Vec::len);
        let in_stock = item["in_stock"].as_bool() == Some(true)
            && item["variants"][0]["in_stock"].as_bool() != Some(false);
        offered.push(format!("{id} ({variants} variants, in_stock {in_stock})"));
        if variants == 1 && in_stock {
            return Some(id.to_owned());
        }
    }
    None
}

#[derive(Debug, Clone, Copy)]
struct Schedule {
    first: Instant,
    interval: Duration,
    measure_from: Instant,
    end: Instant,
}

impl Schedule {
    fn at(&self, k: u64) -> Instant {
        self.first + self.interval.mul_f64(k as f64)
    }
}

/// A command sent on one connection, waiting for its `ack` and its `cart` event.
#[derive(Debug)]
struct Pending {
    k: u64,
    start: Instant,
    measured: bool,
    /// The quantity the command sets (what its `cart` event must show).
    quantity: u64,
    acked: bool,
}

/// One connection's commands awaiting their effect, in send order (the order the
/// server applies them in).
#[derive(Debug, Default)]
struct InFlight {
    queue: VecDeque<Pending>,
}

impl InFlight {
    fn push(&mut self, p: Pending) {
        self.queue.push_back(p);
    }

    fn position(&self, k: u64) -> Option<usize> {
        self.queue.iter().position(|p| p.k == k)
    }

    /// The command `k` is acknowledged: its start and whether it is measured, the
    /// first time only.
    fn ack(&mut self, k: u64) -> Option<(Instant, bool)> {
        let i = self.position(k)?;
        let p = &mut self.queue[i];
        if p.acked {
            return None;
        }
        p.acked = true;
        Some((p.start, p.measured))
    }

    /// The command `k` was refused: no `cart` event will come for it.
    fn refused(&mut self, k: u64) -> Option<Pending> {
        let i = self.position(k)?;
        self.queue.remove(i)
    }

    /// A `cart` event showing `quantity`: the oldest command still waiting for its
    /// effect, and whether the quantity is the one it set.
    fn effect(&mut self, quantity: u64) -> Option<(Pending, bool)> {
        let p = self.queue.pop_front()?;
        let matches = p.quantity == quantity;
        Some((p, matches))
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

async fn client_loop(mut ws: Ws, product: String, sched: Schedule) -> ClientStats {
    let mut s = ClientStats {
        acks: Some(stats::new_hist()),
        effects: Some(stats::new_hist()),
        lag: Some(stats::new_hist()),
        ..Default::default()
    };
    let product = serde_json::to_string(&product).expect("a string serializes");
    let drain_until = sched.end + DRAIN_TIMEOUT;
    let mut pending = InFlight::default();
    let mut k = 0u64;
    // Once everything is answered, keep reading the trailing `cart` events until none
    // has come for LINGER (bounded by the drain deadline).
    let mut linger_until: Option<Instant> = None;
    for _ in 0..MAX_FRAMES {
        let next = sched.at(k);
        let sending = next < sched.end && k < MAX_COMMANDS;
        if !sending && pending.is_empty() {
            linger_until.get_or_insert(Instant::now() + LINGER);
        }
        let stop_at = linger_until.map_or(drain_until, |l| l.min(drain_until));
        if Instant::now() >= stop_at {
            break;
        }
        let wake = if sending { next.checked_sub(EARLY).unwrap_or(next) } else { stop_at };
        tokio::select! {
            biased;
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(c))) => { s.failure = Some(format!("server closed: {c:?}")); break }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => { s.failure = Some(format!("read failed: {e}")); break }
                    None => { s.failure = Some("server closed the connection".into()); break }
                };
                on_frame(&text, &mut pending, &mut s);
                if let Some(l) = linger_until.as_mut() {
                    *l = Instant::now() + LINGER; // linger until the stream goes quiet
                }
            }
            _ = tokio::time::sleep_until(wake) => {
                if !sending {
                    continue; // the linger or drain deadline: checked at the top
                }
                let now = Instant::now();
                let measured = next >= sched.measure_from;
                if measured {
                    s.sent_in_window += 1;
                    stats::record(s.lag.as_mut().expect("set"), now.saturating_duration_since(next));
                }
                let quantity = 1 + k % 2;
                let frame = format!(
                    r#"{{"type":"cart.set","id":"s{k}","product_id":{product},"quantity":{quantity}}}"#
                );
                pending.push(Pending { k, start: now.min(next), measured, quantity, acked: false });
                k += 1;
                if let Err(e) = wsclient::send_text(&mut ws, frame).await {
                    s.failure = Some(format!("{e:#}"));
                    break;
                }
            }
        }
    }
    s.sent_total = k;
    s.unanswered = pending.queue.iter().filter(|p| p.measured && !p.acked).count() as u64;
    s.no_effect = pending.queue.iter().filter(|p| p.measured && p.acked).count() as u64;
    wsclient::close(ws).await;
    s
}

/// The line quantity a `cart` event shows (the bench's cart has one line; 0 when
/// empty), parsed only for `cart` frames.
fn cart_quantity(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Line {
        quantity: u64,
    }
    #[derive(serde::Deserialize)]
    struct Cart {
        items: Vec<Line>,
    }
    #[derive(serde::Deserialize)]
    struct Frame {
        cart: Cart,
    }
    let f: Frame = serde_json::from_str(text).ok()?;
    Some(f.cart.items.first().map_or(0, |l| l.quantity))
}

fn on_frame(text: &str, pending: &mut InFlight, s: &mut ClientStats) {
    let now = Instant::now();
    let Some(h) = wsclient::head(text) else {
        s.other_frames += 1;
        return;
    };
    let k = h.id.as_deref().and_then(|id| id.strip_prefix('s')).and_then(|n| n.parse::<u64>().ok());
    match h.ty.as_ref() {
        "ack" => {
            if let Some((start, true)) = k.and_then(|k| pending.ack(k)) {
                stats::record(s.acks.as_mut().expect("set"), now.saturating_duration_since(start));
                s.acked_in_window += 1;
            }
        }
        "cart" => {
            s.cart_events += 1;
            match cart_quantity(text).and_then(|q| pending.effect(q)) {
                Some((p, true)) => {
                    if !p.acked {
                        s.effects_before_ack += 1;
                    }
                    if p.measured {
                        stats::record(s.effects.as_mut().expect("set"), now.saturating_duration_since(p.start));
                        s.effects_in_window += 1;
                    }
                }
                Some((p, false)) => {
                    s.effect_mismatches += 1;
                    if !p.acked {
                        s.effects_before_ack += 1;
                    }
                }
                None => s.unexpected_carts += 1,
            }
        }
        "error" => {
            let code = h.code.as_deref().unwrap_or("?").to_owned();
            *s.errors.entry(code).or_default() += 1;
            if let Some(k) = k {
                pending.refused(k);
            }
        }
        _ => s.other_frames += 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_first_single_variant_in_stock_product() {
        let v: Value = serde_json::json!({"type":"products","items":[
            {"id":"a","in_stock":true,"variants":[{"id":"a1","in_stock":true},{"id":"a2","in_stock":true}]},
            {"id":"b","in_stock":false,"variants":[{"id":"b1","in_stock":false}]},
            {"id":"c","in_stock":true,"variants":[{"id":"c1","in_stock":true}]}
        ]});
        let mut offered = vec![];
        assert_eq!(pick_product(&v, &mut offered).as_deref(), Some("c"));
        assert_eq!(offered.len(), 3);
    }

    #[test]
    fn no_pick_without_a_fitting_product() {
        let v: Value = serde_json::json!({"items":[{"id":"a","in_stock":true,"variants":[]}]});
        assert!(pick_product(&v, &mut vec![]).is_none());
    }

    #[test]
    fn schedule_spreads_sends_evenly() {
        let t = Instant::now();
        let s = Schedule { first: t, interval: Duration::from_millis(25), measure_from: t, end: t };
        assert_eq!(s.at(4) - s.at(0), Duration::from_millis(100));
    }

    fn stats() -> ClientStats {
        ClientStats { acks: Some(stats::new_hist()), effects: Some(stats::new_hist()), ..Default::default() }
    }

    fn sent(k: u64, measured: bool) -> Pending {
        Pending { k, start: Instant::now(), measured, quantity: 1 + k % 2, acked: false }
    }

    fn cart(seq: u64, quantity: u64) -> String {
        format!(r#"{{"type":"cart","seq":{seq},"cart":{{"version":{seq},"currency":"USD","subtotal_minor":0,"items":[{{"product_id":"p","quantity":{quantity}}}]}}}}"#)
    }

    #[test]
    fn ack_and_error_resolve_pending_commands() {
        let mut s = stats();
        let mut pending = InFlight::default();
        pending.push(sent(0, true));
        pending.push(sent(1, true));
        on_frame(r#"{"type":"ack","id":"s0","seq":1}"#, &mut pending, &mut s);
        on_frame(&cart(2, 1), &mut pending, &mut s);
        on_frame(r#"{"type":"ack","id":"s1","seq":3}"#, &mut pending, &mut s);
        on_frame(r#"{"type":"error","code":"out_of_stock","id":"s1","seq":4}"#, &mut pending, &mut s);
        assert!(pending.is_empty());
        assert_eq!((s.acked_in_window, s.effects_in_window, s.cart_events), (2, 1, 1));
        assert_eq!(s.errors.get("out_of_stock"), Some(&1));
        assert_eq!((s.acks.unwrap().len(), s.effects.unwrap().len()), (2, 1));
    }

    /// Acks run ahead of the effects (several commands in flight): the n-th `cart`
    /// event is the n-th command's, each timed from its own start.
    #[test]
    fn cart_events_match_commands_in_send_order() {
        let mut s = stats();
        let mut pending = InFlight::default();
        let t0 = Instant::now() - Duration::from_millis(100);
        for k in 0..3 {
            pending.push(Pending { k, start: t0 + Duration::from_millis(10 * k), measured: true, quantity: 1 + k % 2, acked: false });
        }
        for k in 0..3 {
            on_frame(&format!(r#"{{"type":"ack","id":"s{k}","seq":{}}}"#, k + 1), &mut pending, &mut s);
        }
        assert_eq!(pending.queue.len(), 3, "acked commands still wait for their effect");
        on_frame(&cart(4, 1), &mut pending, &mut s);
        assert_eq!(pending.queue.front().map(|p| p.k), Some(1));
        on_frame(&cart(5, 2), &mut pending, &mut s);
        on_frame(&cart(6, 1), &mut pending, &mut s);
        assert!(pending.is_empty());
        assert_eq!((s.effects_in_window, s.effect_mismatches, s.effects_before_ack), (3, 0, 0));
        // The last command started 20 ms after the first: its effect latency is shorter.
        let h = s.effects.unwrap();
        assert!(h.max() - h.min() >= 15_000, "each effect timed from its own command: {}..{}", h.min(), h.max());
    }

    /// A lost `cart` event shifts the matching by one; the alternating quantities show
    /// it as mismatches, which are counted and never timed.
    #[test]
    fn a_lost_cart_event_is_a_mismatch_not_a_latency() {
        let mut s = stats();
        let mut pending = InFlight::default();
        for k in 0..3 {
            pending.push(sent(k, true));
            on_frame(&format!(r#"{{"type":"ack","id":"s{k}","seq":{}}}"#, k + 1), &mut pending, &mut s);
        }
        // The event for s0 (quantity 1) never comes: s1's (2) and s2's (1) do.
        on_frame(&cart(4, 2), &mut pending, &mut s);
        on_frame(&cart(5, 1), &mut pending, &mut s);
        assert_eq!((s.effects_in_window, s.effect_mismatches), (0, 2));
        assert_eq!(pending.queue.len(), 1, "one command still waits for a cart event");
        // A `cart` event with nothing waiting is counted apart.
        pending.effect(0);
        on_frame(&cart(6, 2), &mut pending, &mut s);
        assert_eq!(s.unexpected_carts, 1);
    }

    #[test]
    fn a_cart_event_before_its_ack_is_counted() {
        let mut s = stats();
        let mut pending = InFlight::default();
        pending.push(sent(0, true));
        on_frame(&cart(1, 1), &mut pending, &mut s);
        on_frame(r#"{"type":"ack","id":"s0","seq":2}"#, &mut pending, &mut s);
        assert_eq!((s.effects_before_ack, s.effects_in_window), (1, 1));
        // The ack of a command no longer waiting is not timed.
        assert_eq!(s.acked_in_window, 0);
    }

    #[test]
    fn warm_up_commands_are_matched_but_not_timed() {
        let mut s = stats();
        let mut pending = InFlight::default();
        pending.push(sent(0, false));
        pending.push(sent(1, true));
        on_frame(r#"{"type":"ack","id":"s0","seq":1}"#, &mut pending, &mut s);
        on_frame(r#"{"type":"ack","id":"s1","seq":2}"#, &mut pending, &mut s);
        on_frame(&cart(3, 1), &mut pending, &mut s);
        on_frame(&cart(4, 2), &mut pending, &mut s);
        assert_eq!((s.acked_in_window, s.effects_in_window, s.effect_mismatches), (1, 1, 0));
    }

    #[test]
    fn cart_quantity_reads_the_line_or_zero() {
        assert_eq!(cart_quantity(&cart(1, 2)), Some(2));
        assert_eq!(cart_quantity(r#"{"type":"cart","seq":1,"cart":{"items":[]}}"#), Some(0));
        assert_eq!(cart_quantity(r#"{"type":"cart","seq":1}"#), None);
    }
}
