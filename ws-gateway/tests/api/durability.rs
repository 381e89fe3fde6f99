//! Acknowledged means applied, exactly once (issue 10 §1), proven against the real
//! `aisle` binary: shoppers send cart commands while the process is killed with
//! SIGKILL at random moments and restarted on the same data (SQLite, then PostgreSQL).
//!
//! Each shopper keeps its own log, which is the oracle: the commands it created (id,
//! operation), the acks it received (id → `seq`) and every event it saw (by `seq`).
//! After a kill it reconnects with its `session_token` and `resume_from_seq` = the last
//! `seq` it saw, reads the replay, and re-sends every command not yet acknowledged with
//! the SAME id (the contract: a repeated id gets the original ack and is never applied
//! twice). When the load stops, every command has been acknowledged, so after one more
//! kill and restart the cart must be exactly every command applied once, in ack order.
//! Also checked: the `seq`s a shopper saw are 1..=N without gap or duplicate, a repeated
//! ack carries the original `seq`, the replay matches what was seen live, and every
//! `cart` event shows the cart after some prefix of the acknowledged commands (so a lost
//! or doubled effect is caught at the first event that shows it).
//!
//! The kill schedule comes from a seeded RNG: the seed is printed, and
//! `AISLE_FAULT_SEED=<seed>` replays the same schedule and choices (the timing of the
//! processes themselves is not reproducible). `AISLE_FAULT_DUMP=<path>` writes the log
//! of each shopper whose `cart` events break the order to `<path>.<shopper>`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::helpers::Db;
use crate::killable::{Next, Server, Socket, connect, next, send};

/// Shoppers, each with its own conversation and socket.
const SHOPPERS: usize = 20;
/// Commands a shopper creates at most (the load normally stops before).
const MAX_COMMANDS: usize = 400;
/// Commands a shopper has sent and not yet seen acknowledged, at most.
const WINDOW: usize = 4;
/// Pause between two sends of a shopper, ms (random in this range).
const SEND_GAP_MS: std::ops::RangeInclusive<u64> = 2..=25;
/// Kills while the load runs, and the time the server lives before each, ms.
const KILLS: std::ops::RangeInclusive<u32> = 3..=5;
const KILL_AFTER_MS: std::ops::RangeInclusive<u64> = 200..=1500;
/// How long the killed server stays down before its restart, ms.
const DOWN_MS: std::ops::RangeInclusive<u64> = 0..=300;
/// Acknowledged commands a shopper sends again after each reconnect.
const REPEAT_ACKED: usize = 2;
/// Distinct variants a shopper puts in its cart.
const VARIANTS_PER_SHOPPER: usize = 4;
/// A line holds at most this many (the contract's limit); adds never go past it.
const LINE_MAX: u32 = 99;
/// The contract replays at least this many events on resume.
const REPLAY_WINDOW: i64 = 512;
/// No frame for this long while commands are unacknowledged: reconnect and re-send.
const STALL: Duration = Duration::from_secs(10);
/// The whole load phase, kills included, must end within this.
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------------
// The shopper and its log.

#[derive(Clone, Debug, PartialEq, Eq)]
struct Variant {
    product_id: String,
    variant_id: String,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    /// `cart.add` quantity 1 of the shopper's variant `.0`.
    Add(usize),
    /// `cart.set` of variant `.0` to `.1` (1..=3).
    Set(usize, u32),
    /// `cart.remove` of variant `.0` (sent only when its line is known to be there).
    Remove(usize),
}

struct Cmd {
    id: String,
    op: Op,
    /// The `seq` of its ack, once seen.
    acked: Option<i64>,
}

/// A cart as the oracle compares it: variant id → quantity.
type Lines = BTreeMap<String, u32>;

#[derive(Clone, Debug, PartialEq)]
struct Seen {
    ty: String,
    id: Option<String>,
    cart: Option<Lines>,
}

struct Shopper {
    n: usize,
    rng: StdRng,
    variants: Vec<Variant>,
    token: Option<String>,
    conversation: Option<String>,
    cmds: Vec<Cmd>,
    by_id: HashMap<String, usize>,
    /// Sent (or to be re-sent) and not yet acknowledged.
    unacked: usize,
    /// Every event seen, by `seq` (repeated acks are not events).
    events: BTreeMap<i64, Seen>,
    last_seq: i64,
    /// A `cart.remove` is waiting for every earlier command's ack.
    remove_waiting: Option<usize>,
    problems: Vec<String>,
    connections: u32,
    repeated_acks: u32,
    /// Acknowledged commands sent again.
    repeated_sent: u32,
    /// Those sent again on this socket whose original ack has not come back yet.
    awaiting_repeat: HashSet<String>,
    resent: u32,
}

enum Ended {
    /// The load is over and every command is acknowledged.
    Done,
    /// The socket went away (or stalled): reconnect.
    Dropped,
}

fn lines_of(cart: &Value) -> Lines {
    cart["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| (i["variant_id"].as_str().unwrap_or("?").to_string(), i["quantity"].as_u64().unwrap_or(0) as u32))
                .collect()
        })
        .unwrap_or_default()
}

impl Shopper {
    fn new(n: usize, seed: u64, pool: &[Variant]) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut variants = Vec::new();
        while variants.len() < VARIANTS_PER_SHOPPER.min(pool.len()) {
            let v = pool[rng.random_range(0..pool.len())].clone();
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        Shopper {
            n,
            rng,
            variants,
            token: None,
            conversation: None,
            cmds: Vec::new(),
            by_id: HashMap::new(),
            unacked: 0,
            events: BTreeMap::new(),
            last_seq: 0,
            remove_waiting: None,
            problems: Vec::new(),
            connections: 0,
            repeated_acks: 0,
            repeated_sent: 0,
            awaiting_repeat: HashSet::new(),
            resent: 0,
        }
    }

    fn problem(&mut self, p: String) {
        if self.problems.len() < 20 {
            self.problems.push(format!("shopper {}: {p}", self.n));
        }
    }

    fn frame_of(&self, c: &Cmd) -> Value {
        match c.op {
            Op::Add(v) => {
                let v = &self.variants[v];
                json!({"type":"cart.add","id":c.id,"product_id":v.product_id,"variant_id":v.variant_id,"quantity":1})
            }
            Op::Set(v, q) => {
                let v = &self.variants[v];
                json!({"type":"cart.set","id":c.id,"product_id":v.product_id,"variant_id":v.variant_id,"quantity":q})
            }
            Op::Remove(v) => {
                let v = &self.variants[v];
                json!({"type":"cart.remove","id":c.id,"product_id":v.product_id,"variant_id":v.variant_id})
            }
        }
    }

    /// The operations of the acknowledged commands, in ack order.
    fn ack_order(&self) -> Vec<Op> {
        let mut acked: Vec<&Cmd> = self.cmds.iter().filter(|c| c.acked.is_some()).collect();
        acked.sort_by_key(|c| c.acked);
        acked.into_iter().map(|c| c.op).collect()
    }

    /// Quantities by variant index after applying `ops` in order, once each.
    fn apply(&self, ops: &[Op]) -> Vec<u32> {
        let mut q = vec![0u32; self.variants.len()];
        for op in ops {
            match *op {
                Op::Add(v) => q[v] += 1,
                Op::Set(v, n) => q[v] = n,
                Op::Remove(v) => q[v] = 0,
            }
        }
        q
    }

    fn as_lines(&self, q: &[u32]) -> Lines {
        q.iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(v, n)| (self.variants[v].variant_id.clone(), *n))
            .collect()
    }

    /// The most variant `v` can reach once every command sent so far is applied
    /// (unacknowledged ones come after the acknowledged, in any order).
    fn upper_bound(&self, v: usize) -> u32 {
        let base = self.apply(&self.ack_order())[v];
        let (mut adds, mut set) = (0, 0);
        for c in self.cmds.iter().filter(|c| c.acked.is_none()) {
            match c.op {
                Op::Add(x) if x == v => adds += 1,
                Op::Set(x, n) if x == v => set = set.max(n),
                _ => {}
            }
        }
        base.max(set) + adds
    }

    /// Picks and records the next command, or `None` when it must wait (a removal
    /// waits until every earlier command is acknowledged, so it knows the line is there).
    fn next_command(&mut self) -> Option<usize> {
        let op = if let Some(v) = self.remove_waiting {
            if self.unacked > 0 {
                return None;
            }
            self.remove_waiting = None;
            if self.apply(&self.ack_order())[v] > 0 { Op::Remove(v) } else { Op::Add(v) }
        } else {
            let v = self.rng.random_range(0..self.variants.len());
            match self.rng.random_range(0..100) {
                0..=9 => {
                    self.remove_waiting = Some(v);
                    return None;
                }
                10..=24 => Op::Set(v, self.rng.random_range(1..=3)),
                _ => Op::Add(v),
            }
        };
        let op = match op {
            Op::Add(v) if self.upper_bound(v) >= LINE_MAX => Op::Set(v, 1),
            op => op,
        };
        let id = format!("s{}-c{}", self.n, self.cmds.len());
        self.by_id.insert(id.clone(), self.cmds.len());
        self.cmds.push(Cmd { id, op, acked: None });
        self.unacked += 1;
        Some(self.cmds.len() - 1)
    }

    /// Takes in one event frame (after `welcome`).
    fn on_frame(&mut self, v: &Value) {
        let ty = v["type"].as_str().unwrap_or("?").to_string();
        let Some(seq) = v["seq"].as_i64() else {
            if ty != "pong" {
                self.problem(format!("a frame without seq: {v}"));
            }
            return;
        };
        let id = v["id"].as_str().map(str::to_string);
        if ty == "ack" {
            let known = id.as_ref().and_then(|id| self.by_id.get(id)).copied();
            match known.map(|i| self.cmds[i].acked) {
                None => self.problem(format!("an ack for an id never sent: {v}")),
                Some(Some(first)) if first == seq => {
                    // The original ack, repeated for a re-sent id: not a new event.
                    self.repeated_acks += 1;
                    if let Some(id) = &id {
                        self.awaiting_repeat.remove(id);
                    }
                    return;
                }
                Some(Some(first)) => {
                    self.problem(format!("the ack of {:?} changed seq: first {first}, now {seq}", id.as_deref().unwrap_or("")));
                }
                Some(None) => {
                    let i = known.unwrap();
                    self.cmds[i].acked = Some(seq);
                    self.unacked -= 1;
                }
            }
        }
        if seq != self.last_seq + 1 {
            self.problem(format!("expected seq {} next, got {seq} ({ty}); a gap or a duplicate", self.last_seq + 1));
        }
        if ty == "error" {
            self.problem(format!("an error event: {v}"));
        }
        let cart = (ty == "cart").then(|| lines_of(&v["cart"]));
        self.events.insert(seq, Seen { ty, id, cart });
        self.last_seq = self.last_seq.max(seq);
    }

    /// Opens a socket, says hello (resuming after the last seen `seq`), checks the
    /// welcome and reads the replay up to the welcome's `seq`.
    async fn open(&mut self, port: u16, key: &str, resume_from: Option<i64>) -> Option<Socket> {
        let mut ws = connect(port).await?;
        self.connections += 1;
        let hello = json!({"type":"hello","deployment_key":key,"session_token":self.token,"resume_from_seq":resume_from});
        if !send(&mut ws, &hello).await {
            return None;
        }
        let w = match next(&mut ws, Instant::now() + STALL).await {
            Next::Frame(w) => w,
            Next::Timeout | Next::Closed => return None,
        };
        if w["type"] != "welcome" {
            self.problem(format!("expected welcome, got {w}"));
            return None;
        }
        let wseq = w["seq"].as_i64().unwrap_or(-1);
        match &self.conversation {
            None => {
                self.conversation = w["conversation_id"].as_str().map(str::to_string);
                if wseq != 0 {
                    self.problem(format!("a new conversation welcomed at seq {wseq}"));
                }
            }
            Some(c) => {
                if w["conversation_id"].as_str() != Some(c) {
                    self.problem(format!("resumed into another conversation: {w}"));
                    return None;
                }
                if wseq < self.last_seq {
                    self.problem(format!("events seen were lost: welcome seq {wseq} < last seen {}", self.last_seq));
                }
            }
        }
        if let Some(t) = w["session_token"].as_str() {
            self.token = Some(t.to_string());
        }
        // The replay: every event after the last one seen, before any live event.
        while self.last_seq < wseq {
            match next(&mut ws, Instant::now() + STALL).await {
                Next::Frame(v) => self.on_frame(&v),
                Next::Timeout | Next::Closed => return None,
            }
        }
        Some(ws)
    }

    /// The load: connects, re-sends what is unacknowledged, sends new commands while
    /// `loading`, and comes back on every drop until everything is acknowledged.
    async fn run(mut self, port: u16, key: String, loading: Arc<AtomicBool>) -> Shopper {
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            if Instant::now() > deadline {
                let left = self.unacked;
                self.problem(format!("gave up after {RUN_TIMEOUT:?} with {left} commands unacknowledged"));
                return self;
            }
            let resume = self.token.as_ref().map(|_| self.last_seq);
            let Some(ws) = self.open(port, &key, resume).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            match self.session(ws, &loading).await {
                Ended::Done => return self,
                Ended::Dropped => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    async fn session(&mut self, mut ws: Socket, loading: &AtomicBool) -> Ended {
        // A cautious client also re-sends the last commands it saw acknowledged: each
        // must be answered with its original ack (same seq) and not applied again.
        let mut acked: Vec<usize> = (0..self.cmds.len()).filter(|&i| self.cmds[i].acked.is_some()).collect();
        acked.sort_by_key(|&i| self.cmds[i].acked);
        let again: Vec<usize> = acked.iter().rev().take(REPEAT_ACKED).copied().collect();
        self.awaiting_repeat.clear();
        for i in again {
            self.repeated_sent += 1;
            self.awaiting_repeat.insert(self.cmds[i].id.clone());
            let f = self.frame_of(&self.cmds[i]);
            if !send(&mut ws, &f).await {
                return Ended::Dropped;
            }
        }
        // Re-send, in their order and with the same ids, the commands not acknowledged.
        let unacked: Vec<usize> = (0..self.cmds.len()).filter(|&i| self.cmds[i].acked.is_none()).collect();
        for i in unacked {
            self.resent += 1;
            let f = self.frame_of(&self.cmds[i]);
            if !send(&mut ws, &f).await {
                return Ended::Dropped;
            }
        }
        let mut next_send = Instant::now();
        let mut last_frame = Instant::now();
        loop {
            let load = loading.load(Ordering::SeqCst) && self.cmds.len() < MAX_COMMANDS;
            let outstanding = self.unacked + self.awaiting_repeat.len();
            if !load && outstanding == 0 {
                let _ = ws.close(None).await;
                return Ended::Done;
            }
            if load
                && self.unacked < WINDOW
                && Instant::now() >= next_send
                && let Some(i) = self.next_command()
            {
                let f = self.frame_of(&self.cmds[i]);
                if !send(&mut ws, &f).await {
                    return Ended::Dropped;
                }
                next_send = Instant::now() + Duration::from_millis(self.rng.random_range(SEND_GAP_MS));
                continue;
            }
            let wake = if load { next_send.max(Instant::now() + Duration::from_millis(2)) } else { last_frame + STALL };
            match next(&mut ws, wake.min(last_frame + STALL)).await {
                Next::Frame(v) => {
                    last_frame = Instant::now();
                    self.on_frame(&v);
                }
                Next::Timeout => {
                    if outstanding > 0 && last_frame.elapsed() >= STALL {
                        return Ended::Dropped; // reconnect and re-send
                    }
                    if outstanding == 0 {
                        last_frame = Instant::now();
                    }
                }
                Next::Closed => return Ended::Dropped,
            }
        }
    }

    /// After the last restart: resumes from the start of the replay the contract
    /// guarantees, compares the replay with the log, and checks the cart and the
    /// `cart` events against the acknowledged commands.
    async fn verify(&mut self, port: u16, key: &str) {
        let seen_before = self.last_seq;
        let from = (seen_before - REPLAY_WINDOW).max(0);
        let mut ws = None;
        for _ in 0..20 {
            ws = connect(port).await;
            if ws.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut ws = ws.expect("the restarted server accepts sockets");
        let hello = json!({"type":"hello","deployment_key":key,"session_token":self.token,"resume_from_seq":from});
        assert!(send(&mut ws, &hello).await);
        let Next::Frame(w) = next(&mut ws, Instant::now() + STALL).await else { panic!("shopper {}: no welcome", self.n) };
        assert_eq!(w["type"], "welcome", "shopper {}: {w}", self.n);
        assert_eq!(w["conversation_id"].as_str(), self.conversation.as_deref(), "shopper {}", self.n);
        let wseq = w["seq"].as_i64().unwrap();
        if wseq < seen_before {
            self.problem(format!("after the last restart the conversation is at seq {wseq}, but {seen_before} was seen"));
        }
        let mut replayed = Vec::new();
        while replayed.last().map_or(from, |(s, _)| *s) < wseq {
            match next(&mut ws, Instant::now() + STALL).await {
                Next::Frame(v) => {
                    let seq = v["seq"].as_i64().unwrap_or(-1);
                    replayed.push((seq, v));
                }
                _ => {
                    self.problem(format!("the replay from {from} stopped at {:?} before seq {wseq}", replayed.last().map(|(s, _)| *s)));
                    break;
                }
            }
        }
        let replay_seqs: Vec<i64> = replayed.iter().map(|(s, _)| *s).collect();
        if replay_seqs != ((from + 1)..=wseq).collect::<Vec<_>>() {
            self.problem(format!("the replay after {from} is not {}..={wseq}: {replay_seqs:?}", from + 1));
        }
        for (seq, v) in &replayed {
            let ty = v["type"].as_str().unwrap_or("?").to_string();
            let seen = Seen { ty, id: v["id"].as_str().map(str::to_string), cart: (v["type"] == "cart").then(|| lines_of(&v["cart"])) };
            if *seq <= seen_before {
                if self.events.get(seq) != Some(&seen) {
                    self.problem(format!("replayed event {seq} differs from the one seen live: {seen:?} vs {:?}", self.events.get(seq)));
                }
            } else {
                // Emitted after this shopper stopped reading (the last commands' carts).
                self.on_frame(v);
            }
        }
        // Every seq from 1 to the end, each seen once.
        let seqs: Vec<i64> = self.events.keys().copied().collect();
        if seqs != (1..=wseq).collect::<Vec<_>>() {
            let missing: Vec<i64> = (1..=wseq).filter(|s| !self.events.contains_key(s)).take(10).collect();
            self.problem(format!("seqs seen are not 1..={wseq}: {} seen, missing {missing:?}", seqs.len()));
        }
        // Every command acknowledged, and its ack is the event at its seq.
        let wrong: Vec<String> = self
            .cmds
            .iter()
            .filter(|c| !c.acked.and_then(|s| self.events.get(&s)).is_some_and(|e| e.ty == "ack" && e.id.as_deref() == Some(&c.id)))
            .map(|c| format!("command {} ({:?}) acked at {:?}, which is not its ack event", c.id, c.op, c.acked))
            .collect();
        for p in wrong {
            self.problem(p);
        }
        // The oracle: every acknowledged command applied once, in ack order.
        let order = self.ack_order();
        let states: Vec<Lines> = (0..=order.len()).map(|j| self.as_lines(&self.apply(&order[..j]))).collect();
        let expected = states.last().unwrap().clone();
        let welcome_cart = lines_of(&w["cart"]);
        if welcome_cart != expected {
            let p = format!("the cart after the last restart is {welcome_cart:?}; the acknowledged commands make {expected:?}");
            self.problem(p);
        }
        // Each `cart` event shows the cart after a prefix of the acknowledged commands
        // (never past the acks before it), and the prefixes only grow.
        let (mut at, mut acks_before) = (0usize, 0usize);
        let mut cart_problem = None;
        for (seq, e) in &self.events {
            match (e.ty.as_str(), &e.cart) {
                ("ack", _) => acks_before += 1,
                ("cart", Some(lines)) => {
                    let limit = acks_before.min(order.len());
                    match (at..=limit).find(|&j| &states[j] == lines) {
                        Some(j) => at = j,
                        None => {
                            // Name the likely cause: effects of commands acknowledged
                            // only later, or an effect lost or doubled.
                            let why = match (limit + 1..=order.len()).find(|&j| &states[j] == lines) {
                                Some(j) => format!(
                                    "it shows the effect of {} command(s) acknowledged only after it (an ack must come before its effects)",
                                    j - limit
                                ),
                                None => "no sequence of the acknowledged commands, each applied once, passes through it (an effect lost or doubled)".into(),
                            };
                            cart_problem = Some(format!(
                                "cart event {seq} shows {lines:?}: {why}; after {at} of them the cart is {:?}, after the {limit} acknowledged before it {:?}",
                                states[at], states[limit]
                            ));
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(p) = cart_problem {
            self.problem(p);
            if let Ok(path) = std::env::var("AISLE_FAULT_DUMP") {
                let mut out = String::new();
                for (seq, e) in &self.events {
                    let op = e.id.as_ref().and_then(|id| self.by_id.get(id)).map(|&i| format!("{:?}", self.cmds[i].op)).unwrap_or_default();
                    out.push_str(&format!("{seq} {} {:?} {op} {:?}\n", e.ty, e.id, e.cart));
                }
                for (i, c) in self.cmds.iter().enumerate() {
                    out.push_str(&format!("cmd {i} {} {:?} acked {:?}\n", c.id, c.op, c.acked));
                }
                let _ = std::fs::write(format!("{path}.{}", self.n), out);
            }
        }
        // And `cart.get` says the same.
        let id = format!("s{}-final", self.n);
        assert!(send(&mut ws, &json!({"type":"cart.get","id":id})).await);
        let mut got = None;
        while got.is_none() {
            match next(&mut ws, Instant::now() + STALL).await {
                Next::Frame(v) if v["type"] == "cart" => got = Some(lines_of(&v["cart"])),
                Next::Frame(v) if v["type"] == "ack" && v["id"] == id.as_str() => {}
                Next::Frame(v) => self.problem(format!("unexpected frame after cart.get: {v}")),
                _ => {
                    self.problem("no cart event for cart.get".into());
                    break;
                }
            }
        }
        if let Some(got) = got
            && got != expected
        {
            self.problem(format!("cart.get after the last restart shows {got:?}; the acknowledged commands make {expected:?}"));
        }
        let _ = ws.close(None).await;
    }
}

// ---------------------------------------------------------------------------------
// The test.

/// In-stock variants of the demo catalog, from the `products` events of a scout
/// conversation (black box: what any shopper can see).
async fn discover_variants(port: u16, key: &str) -> Vec<Variant> {
    let mut ws = connect(port).await.expect("a socket");
    assert!(send(&mut ws, &json!({"type":"hello","deployment_key":key,"session_token":null,"resume_from_seq":null})).await);
    let Next::Frame(w) = next(&mut ws, Instant::now() + STALL).await else { panic!("no welcome") };
    assert_eq!(w["type"], "welcome");
    let mut pool = Vec::new();
    for (i, text) in ["do you have hoodies?", "do you have bags?"].iter().enumerate() {
        assert!(send(&mut ws, &json!({"type":"message","id":format!("m{i}"),"text":text})).await);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut ended = false;
        loop {
            let until = if ended { deadline.min(Instant::now() + Duration::from_millis(500)) } else { deadline };
            let Next::Frame(v) = next(&mut ws, until).await else { break };
            match v["type"].as_str() {
                Some("products") => {
                    for item in v["items"].as_array().into_iter().flatten() {
                        for var in item["variants"].as_array().into_iter().flatten() {
                            let variant = Variant {
                                product_id: item["id"].as_str().unwrap().to_string(),
                                variant_id: var["id"].as_str().unwrap().to_string(),
                            };
                            if var["in_stock"] == true && !pool.contains(&variant) {
                                pool.push(variant);
                            }
                        }
                    }
                }
                Some("assistant.end") => ended = true,
                _ => {}
            }
        }
    }
    let _ = ws.close(None).await;
    pool
}

async fn acknowledged_means_applied_exactly_once(db: Db) {
    let seed: u64 = std::env::var("AISLE_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("durability on {db:?}: seed {seed} (AISLE_FAULT_SEED={seed} replays the kill schedule)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let database_url = match db {
        Db::Sqlite => None,
        Db::Postgres => {
            // A schema of its own (created and migrated here), named in the URL.
            let schema = format!("fault_{}", uuid::Uuid::new_v4().simple());
            let base = "postgres://postgres@127.0.0.1:5432/test";
            let store = engine_sql::PostgresStore::connect_with_schema(base, &schema)
                .await
                .expect("PostgreSQL must be running on 127.0.0.1:5432 (user postgres, database test) for these tests");
            store.close().await;
            Some(format!("{base}?options=-c%20search_path%3D{schema}"))
        }
    };
    let mut server = Server::new(dir.path(), database_url);
    let key = server.start().await;
    let pool = discover_variants(server.port, &key).await;
    assert!(pool.len() >= VARIANTS_PER_SHOPPER * 2, "too few in-stock variants offered: {pool:?}");

    let loading = Arc::new(AtomicBool::new(true));
    let tasks: Vec<_> = (0..SHOPPERS)
        .map(|n| tokio::spawn(Shopper::new(n, seed, &pool).run(server.port, key.clone(), loading.clone())))
        .collect();
    let kills = rng.random_range(KILLS);
    let mut schedule = Vec::new();
    for _ in 0..kills {
        let after = rng.random_range(KILL_AFTER_MS);
        tokio::time::sleep(Duration::from_millis(after)).await;
        server.kill();
        let down = rng.random_range(DOWN_MS);
        schedule.push(format!("kill after {after} ms, down {down} ms"));
        tokio::time::sleep(Duration::from_millis(down)).await;
        assert_eq!(server.start().await, key, "the demo shop keeps its deployment key across restarts");
    }
    // Some load on the last incarnation, then everything unacknowledged is re-sent
    // until acknowledged.
    tokio::time::sleep(Duration::from_millis(rng.random_range(KILL_AFTER_MS))).await;
    loading.store(false, Ordering::SeqCst);
    let mut shoppers = Vec::new();
    for t in tasks {
        shoppers.push(t.await.expect("a shopper task panicked"));
    }
    // One more kill with everything acknowledged: what was acknowledged must survive.
    server.kill();
    assert_eq!(server.start().await, key);
    for s in shoppers.iter_mut() {
        s.verify(server.port, &key).await;
    }

    let commands: usize = shoppers.iter().map(|s| s.cmds.len()).sum();
    let events: i64 = shoppers.iter().map(|s| s.last_seq).sum();
    let repeated: u32 = shoppers.iter().map(|s| s.repeated_acks).sum();
    let repeated_sent: u32 = shoppers.iter().map(|s| s.repeated_sent).sum();
    let resent: u32 = shoppers.iter().map(|s| s.resent).sum();
    let connections: u32 = shoppers.iter().map(|s| s.connections).sum();
    eprintln!(
        "durability on {db:?} (seed {seed}): {kills} kills [{}], {commands} commands, {events} events, \
         {resent} unacknowledged re-sent, {repeated_sent} acknowledged sent again and {repeated} answered with their original ack, \
         {connections} connections",
        schedule.join("; ")
    );
    let problems: Vec<String> = shoppers.iter().flat_map(|s| s.problems.iter().cloned()).collect();
    assert!(
        problems.is_empty(),
        "seed {seed} on {db:?}: {} problems (first 30):\n{}",
        problems.len(),
        problems.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(commands >= SHOPPERS * 5, "the load ran: {commands} commands");
    assert!(shoppers.iter().all(|s| s.cmds.iter().all(|c| c.acked.is_some())), "every command was acknowledged");
    assert!(repeated > 0, "acknowledged commands were sent again after reconnects, and answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_cart_commands_survive_sigkill_exactly_once_on_sqlite() {
    acknowledged_means_applied_exactly_once(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_cart_commands_survive_sigkill_exactly_once_on_postgres() {
    acknowledged_means_applied_exactly_once(Db::Postgres).await;
}
