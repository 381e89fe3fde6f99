//! `groq`: a shopper's answer streamed from a (fake) Groq through Aisle, beside the
//! same streams taken straight from the fake with reqwest (the baseline).
//!
//! The fake Groq (`engine_llm::fake`) runs in this process on its own tokio runtime and
//! answers every request with the same `--tokens`-token text, paced at the scenario's
//! rate (it waits one token interval before each token). Its script records when each
//! conversation's request arrived, by the tag (`bench-17`, `direct-17`) in the last user
//! message. For each scenario (rate × concurrent conversations) the baseline and then
//! Aisle get that many conversations released together by a barrier; per conversation
//! the client records the send instant, the first and last token instants, the number
//! of tokens and the final text. See `loadtests/README.md`, "groq".

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use engine_llm::fake::{FakeGroq, Reply, tokens};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Barrier;

use crate::bench::{self, Aisle, AisleLaunch};
use crate::report::{KEPT_MARKER, RunInfo};
use crate::wsclient::{self, Ws};

/// Aisle's added time to the first token, p99, at most (issue 12).
pub const GOAL_ADDED_P99_MS: f64 = 5.0;
/// Aisle's delivered token rate, as a fraction of the fake's own, at least (issue 12).
pub const GOAL_RATE_RATIO: f64 = 0.98;
/// The heading of this bench's section of `RESULTS.md` (after [`KEPT_MARKER`]).
pub const SECTION: &str = "## Groq streaming (fake Groq)";
pub const CSV_HEADER: &str = "date,commit,nproc,cpu,background_cpu_pct,rate,conversations,tokens,target,ok,errors,mismatched,added_p50_ms,added_p90_ms,added_p99_ms,added_max_ms,to_groq_p50_ms,to_groq_p99_ms,groq_to_first_p50_ms,groq_to_first_p99_ms,rate_ratio_p50,rate_ratio_p1,tok_per_s_p50,tok_per_s_p1,target_cpu_pct,bench_cpu_pct,wall_s,added_last_p50_ms,added_last_p99_ms,all_tok_per_s";

/// The shopper's words; the tag in front identifies the conversation to the fake.
const QUESTION: &str = "do you have hoodies?";
/// The words the fake's answer cycles through (one token each, with its space).
const WORDS: &str = "We have several warm hoodies in stock right now, in a few colours and sizes; \
    tell me which fit and colour you like and I can show you the matching ones.";

#[derive(Debug, Clone)]
pub struct GroqOptions {
    pub rates: Vec<f64>,
    pub conversations: Vec<usize>,
    pub tokens: usize,
    /// Conversations of one untimed pass against each target before the scenarios.
    pub warmup_conversations: usize,
    /// Per conversation, from its send to the end of its answer.
    pub reply_timeout: Duration,
    /// Shopper sessions opened at once while preparing a scenario (untimed).
    pub open_concurrency: usize,
    pub fake_threads: usize,
    pub aisle_bin: PathBuf,
    pub health_timeout: Duration,
    pub out_dir: PathBuf,
    pub write: bool,
    pub keep_data: bool,
    pub quiet_wait: Duration,
}

/// The fake's answer: `n` tokens cycling through [`WORDS`].
pub fn answer_pieces(n: usize) -> Vec<String> {
    let words = tokens(WORDS);
    (0..n)
        .map(|i| {
            let w = words[i % words.len()].trim_start();
            if i == 0 { w.to_string() } else { format!(" {w}") }
        })
        .collect()
}

/// The conversation tag (`bench-17`, `direct-3`) in a shopper's text, if any.
pub fn find_tag(text: &str) -> Option<String> {
    for prefix in ["bench-", "direct-"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(prefix) {
            let start = from + at;
            let digits: String = text[start + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
            let boundary = start == 0 || !text[..start].ends_with(|c: char| c.is_alphanumeric());
            if !digits.is_empty() && boundary {
                return Some(format!("{prefix}{digits}"));
            }
            from = start + prefix.len();
        }
    }
    None
}

/// The tag in the last user message of a chat-completions request.
pub fn request_tag(req: &Value) -> Option<String> {
    let messages = req["messages"].as_array()?;
    let last_user = messages.iter().rev().find(|m| m["role"] == "user")?;
    find_tag(last_user["content"].as_str()?)
}

/// What the fake's script shares with the bench.
struct FakeState {
    /// Tokens per second (f64 bits) of the scenario being run.
    rate: AtomicU64,
    pieces: Vec<String>,
    /// First request of each tag.
    arrivals: Mutex<HashMap<String, Instant>>,
    /// Requests for a tag already seen (tool rounds, retries): none expected.
    repeats: AtomicUsize,
    untagged: AtomicUsize,
}

impl FakeState {
    fn reply(&self, req: &Value) -> Reply {
        let now = Instant::now();
        match request_tag(req) {
            Some(tag) => {
                let mut a = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
                match a.entry(tag) {
                    std::collections::hash_map::Entry::Occupied(_) => {
                        self.repeats.fetch_add(1, Ordering::Relaxed);
                    }
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(now);
                    }
                }
            }
            None => {
                self.untagged.fetch_add(1, Ordering::Relaxed);
            }
        }
        Reply::text(&self.pieces).with_tokens_per_second(f64::from_bits(self.rate.load(Ordering::Relaxed)))
    }

    fn reset(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
        self.arrivals.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.repeats.store(0, Ordering::Relaxed);
        self.untagged.store(0, Ordering::Relaxed);
    }

    fn take(&self) -> (HashMap<String, Instant>, usize, usize) {
        let a = std::mem::take(&mut *self.arrivals.lock().unwrap_or_else(|e| e.into_inner()));
        (a, self.repeats.load(Ordering::Relaxed), self.untagged.load(Ordering::Relaxed))
    }
}

/// The fake Groq on its own runtime (so the load generator's tasks do not delay its
/// pacing); stopped on drop.
struct Fake {
    groq: Option<FakeGroq>,
    runtime: Option<tokio::runtime::Runtime>,
    state: Arc<FakeState>,
}

impl Fake {
    async fn start(tokens: usize, threads: usize) -> Result<Fake> {
        let state = Arc::new(FakeState {
            rate: AtomicU64::new(280f64.to_bits()),
            pieces: answer_pieces(tokens),
            arrivals: Mutex::new(HashMap::new()),
            repeats: AtomicUsize::new(0),
            untagged: AtomicUsize::new(0),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("fake-groq")
            .enable_all()
            .build()?;
        let script = Arc::clone(&state);
        let groq = runtime
            .spawn(FakeGroq::start_with(move |req| script.reply(req)))
            .await
            .map_err(|e| anyhow!("fake Groq start panicked: {e}"))?
            .context("starting the fake Groq")?;
        Ok(Fake { groq: Some(groq), runtime: Some(runtime), state })
    }

    fn base_url(&self) -> String {
        self.groq.as_ref().map(FakeGroq::base_url).unwrap_or_default()
    }

    fn text(&self) -> String {
        self.state.pieces.concat()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.groq.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// What one conversation's client saw.
#[derive(Debug, Clone)]
pub struct Record {
    pub tag: String,
    pub send: Option<Instant>,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    /// Token events received (`assistant.delta` frames, or content chunks direct).
    pub deltas: usize,
    /// The whole answer: `assistant.end`'s text, or the content chunks joined.
    pub text: Option<String>,
    /// Why the conversation failed (an `error` frame, a timeout, a closed socket...).
    pub error: Option<String>,
}

impl Record {
    fn new(tag: String) -> Self {
        Record { tag, send: None, first: None, last: None, deltas: 0, text: None, error: None }
    }

    fn token(&mut self, at: Instant) {
        self.first.get_or_insert(at);
        self.last = Some(at);
        self.deltas += 1;
    }
}

/// Percentiles of a sample (ms), nearest rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dist {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Dist {
    pub fn of(mut v: Vec<f64>) -> Option<Dist> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Dist { n: v.len(), p50: percentile(&v, 0.50), p90: percentile(&v, 0.90), p99: percentile(&v, 0.99), max: v[v.len() - 1] })
    }
}

/// The nearest-rank `q` quantile of an ascending, non-empty sample.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    let rank = (q * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// `a − b` in ms, negative when `a` is earlier.
pub fn ms_between(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64() * 1e3,
        None => -(b - a).as_secs_f64() * 1e3,
    }
}

/// Tokens per second between a conversation's first and last token: `(n − 1) / (last −
/// first)`; `None` with fewer than two tokens.
pub fn delivered_rate(r: &Record) -> Option<f64> {
    let (first, last) = (r.first?, r.last?);
    let span = last.checked_duration_since(first)?.as_secs_f64();
    (r.deltas >= 2 && span > 0.0).then(|| (r.deltas - 1) as f64 / span)
}

/// One target's figures in one scenario.
#[derive(Debug, Clone)]
pub struct Summary {
    /// `aisle`, or `direct` (the baseline: reqwest straight to the fake).
    pub target: String,
    pub rate: f64,
    pub conversations: usize,
    pub tokens: usize,
    /// Conversations that got their whole answer.
    pub ok: usize,
    pub errors: usize,
    /// Error kinds and their counts.
    pub error_kinds: BTreeMap<String, usize>,
    /// Whole answers that differ from the fake's text.
    pub mismatched: usize,
    /// Whole answers whose number of token events differs from the fake's tokens.
    pub other_token_count: usize,
    /// (first token − send) − 1/rate, ms.
    pub added: Option<Dist>,
    /// The fake's arrival − send, ms: the part of `added` before Groq saw the request.
    pub to_groq: Option<Dist>,
    /// (first token − the fake's arrival) − 1/rate, ms: the part after.
    pub groq_to_first: Option<Dist>,
    /// (last token − send) − tokens/rate, ms: how far behind the fake's own pace the
    /// answer ended.
    pub added_last: Option<Dist>,
    /// All answered tokens over (the last token of all − the first send), per second.
    pub all_tok_s: Option<f64>,
    /// Delivered rate / the nominal rate: the median and the worst 1 % (1st percentile).
    pub rate_ratio_p50: Option<f64>,
    pub rate_ratio_p1: Option<f64>,
    /// Delivered tokens per second, median and 1st percentile.
    pub tok_s_p50: Option<f64>,
    pub tok_s_p1: Option<f64>,
    /// The fake got a second request for a conversation (none expected).
    pub repeats: usize,
    /// Requests without a tag.
    pub untagged: usize,
    /// Without an arrival record at the fake.
    pub not_at_fake: usize,
    /// CPU of Aisle's process while the scenario ran, % of one core (`None` direct).
    pub target_cpu_pct: Option<f64>,
    /// CPU of this process (load generator + fake Groq), % of one core.
    pub bench_cpu_pct: Option<f64>,
    /// From the barrier's release to the last conversation's end, s.
    pub wall_s: f64,
    /// Warnings and errors Aisle logged during the scenario (count, first message).
    pub log_problems: Option<(usize, String)>,
}

/// Per-conversation figures from the recorded instants (pure; see [`Summary`]).
pub fn summarize(
    target: &str,
    rate: f64,
    tokens: usize,
    expected: &str,
    records: &[Record],
    arrivals: &HashMap<String, Instant>,
) -> Summary {
    let interval_ms = if rate > 0.0 { 1e3 / rate } else { 0.0 };
    let mut s = Summary {
        target: target.into(),
        rate,
        conversations: records.len(),
        tokens,
        ok: 0,
        errors: 0,
        error_kinds: BTreeMap::new(),
        mismatched: 0,
        other_token_count: 0,
        added: None,
        to_groq: None,
        groq_to_first: None,
        added_last: None,
        all_tok_s: None,
        rate_ratio_p50: None,
        rate_ratio_p1: None,
        tok_s_p50: None,
        tok_s_p1: None,
        repeats: 0,
        untagged: 0,
        not_at_fake: 0,
        target_cpu_pct: None,
        bench_cpu_pct: None,
        wall_s: 0.0,
        log_problems: None,
    };
    let (mut added, mut to_groq, mut after, mut rates) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut added_last, mut all_tokens, mut span): (Vec<f64>, usize, Option<(Instant, Instant)>) = (Vec::new(), 0, None);
    for r in records {
        let arrival = arrivals.get(&r.tag).copied();
        if arrival.is_none() {
            s.not_at_fake += 1;
        }
        let error = r.error.clone().or_else(|| match (&r.text, r.first) {
            (None, _) => Some("no answer".into()),
            (Some(_), None) => Some("no tokens".into()),
            _ => None,
        });
        if let Some(e) = error {
            s.errors += 1;
            *s.error_kinds.entry(e).or_default() += 1;
            continue;
        }
        s.ok += 1;
        if r.text.as_deref() != Some(expected) {
            s.mismatched += 1;
        }
        if r.deltas != tokens {
            s.other_token_count += 1;
        }
        let (Some(send), Some(first)) = (r.send, r.first) else { continue };
        added.push(ms_between(first, send) - interval_ms);
        if let Some(last) = r.last {
            added_last.push(ms_between(last, send) - interval_ms * tokens as f64);
            all_tokens += r.deltas;
            span = Some(match span {
                None => (send, last),
                Some((a, b)) => (a.min(send), b.max(last)),
            });
        }
        if let Some(a) = arrival {
            to_groq.push(ms_between(a, send));
            after.push(ms_between(first, a) - interval_ms);
        }
        if let Some(t) = delivered_rate(r) {
            rates.push(t);
        }
    }
    s.added = Dist::of(added);
    s.to_groq = Dist::of(to_groq);
    s.groq_to_first = Dist::of(after);
    s.added_last = Dist::of(added_last);
    s.all_tok_s = span
        .map(|(a, b)| b.saturating_duration_since(a).as_secs_f64())
        .filter(|d| *d > 0.0)
        .map(|d| all_tokens as f64 / d);
    if !rates.is_empty() {
        rates.sort_by(f64::total_cmp);
        let (p50, p1) = (percentile(&rates, 0.50), percentile(&rates, 0.01));
        s.tok_s_p50 = Some(p50);
        s.tok_s_p1 = Some(p1);
        if rate > 0.0 {
            s.rate_ratio_p50 = Some(p50 / rate);
            s.rate_ratio_p1 = Some(p1 / rate);
        }
    }
    s
}

/// One server-sent event's meaning for the baseline client.
#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    /// A non-empty `delta.content`.
    Content(String),
    Done,
    /// An `event: error` frame or a chunk with `error`.
    Error(String),
    Other,
}

/// Splits a chat-completions event stream into events, across chunk boundaries.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = self.buf.drain(..pos + 2).collect();
            let event = String::from_utf8_lossy(&event);
            let is_error = event.lines().any(|l| l.trim() == "event: error");
            for line in event.lines() {
                let Some(data) = line.strip_prefix("data:") else { continue };
                let data = data.trim_start();
                if data == "[DONE]" {
                    out.push(SseItem::Done);
                    continue;
                }
                let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                if is_error || v.get("error").is_some() {
                    out.push(SseItem::Error(v["error"]["message"].as_str().unwrap_or(data).to_string()));
                    continue;
                }
                match v["choices"][0]["delta"]["content"].as_str() {
                    Some(t) if !t.is_empty() => out.push(SseItem::Content(t.to_string())),
                    _ => out.push(SseItem::Other),
                }
            }
        }
        out
    }
}

/// CPU time (user + system) of a process so far, from `/proc/<pid>/stat`.
fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".into(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks()))
}

fn clock_ticks() -> f64 {
    static TCK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|t: &f64| *t > 0.0)
            .unwrap_or(100.0)
    })
}

fn cpu_pct(before: Option<Duration>, after: Option<Duration>, wall: Duration) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    (wall > Duration::ZERO).then(|| 100.0 * used.as_secs_f64() / wall.as_secs_f64())
}

/// The `WARN` and `ERROR` lines of Aisle's log after its first `skip` lines, without
/// colour codes; and the number of lines in all.
pub fn log_problems(log: &str, skip: usize) -> (Vec<String>, usize) {
    let lines: Vec<&str> = log.lines().collect();
    let problems = lines
        .iter()
        .skip(skip)
        .map(|l| strip_ansi(l))
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .collect();
    (problems, lines.len())
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn read_log(aisle: &Aisle) -> String {
    aisle.log.as_deref().and_then(|l| std::fs::read_to_string(l).ok()).unwrap_or_default()
}

/// One Aisle conversation: waits for the barrier, sends the message, reads until
/// `assistant.end`. The socket is handed back open, to be closed after everyone is done.
async fn aisle_conversation(mut ws: Ws, tag: String, barrier: Arc<Barrier>, wait: Duration) -> (Record, Ws) {
    let mut r = Record::new(tag.clone());
    let frame = json!({"type": "message", "id": format!("m-{tag}"), "text": format!("{tag}: {QUESTION}")}).to_string();
    barrier.wait().await;
    r.send = Some(Instant::now());
    if let Err(e) = wsclient::send_text(&mut ws, frame).await {
        r.error = Some(format!("send failed: {e:#}"));
        return (r, ws);
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let text = match wsclient::next_text(&mut ws, left).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                r.error = Some(format!("timeout ({} s)", wait.as_secs()));
                break;
            }
            Err(e) => {
                let e = format!("{e:#}");
                r.error = Some(if e.contains("closed") { "socket closed".into() } else { format!("socket: {e}") });
                break;
            }
        };
        let at = Instant::now();
        let Some(h) = wsclient::head(&text) else { continue };
        match &*h.ty {
            "assistant.delta" => r.token(at),
            "assistant.end" => {
                let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                r.text = Some(v["text"].as_str().unwrap_or_default().to_string());
                break;
            }
            "error" => {
                r.error = Some(format!("error frame {}", h.code.as_deref().unwrap_or("(no code)")));
                break;
            }
            _ => {}
        }
    }
    (r, ws)
}

/// One baseline conversation: the same request straight to the fake, with reqwest.
async fn direct_conversation(http: reqwest::Client, url: String, tag: String, barrier: Arc<Barrier>, wait: Duration) -> Record {
    let mut r = Record::new(tag.clone());
    let body = json!({
        "model": "bench",
        "stream": true,
        "messages": [{"role": "user", "content": format!("{tag}: {QUESTION}")}],
    });
    barrier.wait().await;
    r.send = Some(Instant::now());
    match tokio::time::timeout(wait, stream_direct(&http, &url, &body, &mut r)).await {
        Err(_) => r.error = Some(format!("timeout ({} s)", wait.as_secs())),
        Ok(Err(e)) => r.error = Some(e),
        Ok(Ok(())) => {}
    }
    r
}

async fn stream_direct(http: &reqwest::Client, url: &str, body: &Value, r: &mut Record) -> Result<(), String> {
    let mut resp = http.post(url).json(body).send().await.map_err(|e| format!("request failed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("http {}", resp.status().as_u16()));
    }
    let (mut parser, mut text, mut done) = (SseParser::default(), String::new(), false);
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("stream broke: {e}"))? {
        let at = Instant::now();
        for item in parser.push(&chunk) {
            match item {
                SseItem::Content(t) => {
                    r.token(at);
                    text.push_str(&t);
                }
                SseItem::Done => done = true,
                SseItem::Error(e) => return Err(format!("error frame: {e}")),
                SseItem::Other => {}
            }
        }
    }
    if !done {
        return Err("stream ended without [DONE]".into());
    }
    r.text = Some(text);
    Ok(())
}

/// Runs `n` Aisle conversations released together.
async fn run_aisle(aisle: &Aisle, fake: &Fake, o: &GroqOptions, rate: f64, n: usize) -> Summary {
    fake.state.reset(rate);
    let (_, log_lines) = log_problems(&read_log(aisle), 0);
    let (url, origin, key) = (aisle.ws_url(), aisle.base.clone(), aisle.deployment_key.clone());
    let opened: Vec<(usize, Result<Ws>)> = futures_util::stream::iter(0..n)
        .map(|i| {
            let (url, origin, key) = (url.clone(), origin.clone(), key.clone());
            async move { (i, wsclient::open_session(&url, Some(&origin), &key).await) }
        })
        .buffer_unordered(o.open_concurrency.max(1))
        .collect()
        .await;
    let mut records = Vec::new();
    let mut sessions = Vec::new();
    for (i, ws) in opened {
        match ws {
            Ok(ws) => sessions.push((i, ws)),
            Err(e) => {
                let mut r = Record::new(format!("bench-{i}"));
                r.error = Some(format!("session not opened: {}", short(&format!("{e:#}"))));
                records.push(r);
            }
        }
    }
    let barrier = Arc::new(Barrier::new(sessions.len() + 1));
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|(i, ws)| tokio::spawn(aisle_conversation(ws, format!("bench-{i}"), Arc::clone(&barrier), o.reply_timeout)))
        .collect();
    let (cpu0, self0, t0) = (cpu_time(aisle.pid()), cpu_time(None), Instant::now());
    barrier.wait().await;
    let mut sockets = Vec::new();
    for t in tasks {
        match t.await {
            Ok((r, ws)) => {
                records.push(r);
                sockets.push(ws);
            }
            Err(e) => {
                let mut r = Record::new("bench-?".into());
                r.error = Some(format!("client task failed: {e}"));
                records.push(r);
            }
        }
    }
    let wall = t0.elapsed();
    let (cpu1, self1) = (cpu_time(aisle.pid()), cpu_time(None));
    futures_util::future::join_all(sockets.into_iter().map(wsclient::close)).await;
    let (arrivals, repeats, untagged) = fake.state.take();
    let mut s = summarize("aisle", rate, o.tokens, &fake.text(), &records, &arrivals);
    s.repeats = repeats;
    s.untagged = untagged;
    s.target_cpu_pct = cpu_pct(cpu0, cpu1, wall);
    s.bench_cpu_pct = cpu_pct(self0, self1, wall);
    s.wall_s = wall.as_secs_f64();
    let (problems, _) = log_problems(&read_log(aisle), log_lines);
    if let Some(first) = problems.first() {
        s.log_problems = Some((problems.len(), short(first)));
    }
    s
}

/// Runs `n` baseline conversations (reqwest straight to the fake) released together.
async fn run_direct(http: &reqwest::Client, fake: &Fake, o: &GroqOptions, rate: f64, n: usize) -> Summary {
    fake.state.reset(rate);
    let url = format!("{}/chat/completions", fake.base_url());
    let barrier = Arc::new(Barrier::new(n + 1));
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(direct_conversation(http.clone(), url.clone(), format!("direct-{i}"), Arc::clone(&barrier), o.reply_timeout)))
        .collect();
    let (self0, t0) = (cpu_time(None), Instant::now());
    barrier.wait().await;
    let mut records = Vec::new();
    for t in tasks {
        records.push(t.await.unwrap_or_else(|e| {
            let mut r = Record::new("direct-?".into());
            r.error = Some(format!("client task failed: {e}"));
            r
        }));
    }
    let wall = t0.elapsed();
    let self1 = cpu_time(None);
    let (arrivals, repeats, untagged) = fake.state.take();
    let mut s = summarize("direct", rate, o.tokens, &fake.text(), &records, &arrivals);
    s.repeats = repeats;
    s.untagged = untagged;
    s.bench_cpu_pct = cpu_pct(self0, self1, wall);
    s.wall_s = wall.as_secs_f64();
    s
}

fn short(s: &str) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() > 120 { format!("{}…", s.chars().take(120).collect::<String>()) } else { s }
}

/// Runs the scenarios; writes the results unless told not to. Stops Aisle and the fake
/// at the end, on error and on Ctrl-C.
pub async fn run(o: &GroqOptions) -> Result<()> {
    tokio::select! {
        r = run_inner(o) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted; children stopped"),
    }
}

async fn run_inner(o: &GroqOptions) -> Result<()> {
    if o.rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) || o.conversations.contains(&0) || o.tokens < 2 {
        bail!("--rates must be positive, --conversations at least 1, --tokens at least 2");
    }
    let fake = Fake::start(o.tokens, o.fake_threads).await?;
    eprintln!("fake Groq at {} ({} tokens per answer)", fake.base_url(), o.tokens);
    let launch = AisleLaunch {
        bin: &o.aisle_bin,
        url: None,
        fake: false,
        keep_data: o.keep_data,
        health_timeout: o.health_timeout,
        env: vec![
            ("GROQ_API_KEY", "gsk_bench".into()),
            ("AISLE_GROQ_BASE_URL", fake.base_url()),
            // Hundreds of shoppers open sockets (from one address) while others wait for
            // their welcome; the opening phase is not measured.
            ("AISLE_MAX_UNAUTHENTICATED", "10000".into()),
        ],
    };
    let aisle = bench::start_aisle(&launch).await?;
    let http = reqwest::Client::builder().no_proxy().build()?;

    if o.warmup_conversations > 0 {
        eprintln!("warm-up: {} conversations against each target (not measured)…", o.warmup_conversations);
        let d = run_direct(&http, &fake, o, o.rates[0], o.warmup_conversations).await;
        let a = run_aisle(&aisle, &fake, o, o.rates[0], o.warmup_conversations).await;
        for s in [&d, &a] {
            if s.errors > 0 || s.mismatched > 0 {
                eprintln!("warm-up vs {}: {} errors {:?}, {} answers differ from the fake's", s.target, s.errors, s.error_kinds, s.mismatched);
            }
        }
        bench::settle().await;
    }
    let background = bench::wait_quiet(o.quiet_wait).await;

    let mut all = Vec::new();
    for &n in &o.conversations {
        for &rate in &o.rates {
            eprintln!("{n} conversations at {rate:.0} tok/s: direct…");
            let d = run_direct(&http, &fake, o, rate, n).await;
            eprintln!("  {}", one_line(&d));
            bench::settle().await;
            eprintln!("{n} conversations at {rate:.0} tok/s: aisle…");
            let a = run_aisle(&aisle, &fake, o, rate, n).await;
            eprintln!("  {}", one_line(&a));
            if a.errors > 0 {
                eprintln!("aisle log tail:\n{}", aisle.log_tail());
            }
            all.push(d);
            all.push(a);
            bench::settle().await;
        }
    }
    if let Some(log) = &aisle.log
        && o.keep_data
    {
        eprintln!("aisle's log: {}", log.display());
    }
    drop(aisle);
    drop(fake);

    let settings = format!(
        "rates {} tok/s × {} concurrent conversations, {} tokens per answer, {} warm-up conversations per target, reply timeout {} s; fake Groq in the bench's process on its own runtime ({} threads)",
        o.rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", "),
        o.conversations.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", "),
        o.tokens,
        o.warmup_conversations,
        o.reply_timeout.as_secs(),
        o.fake_threads,
    );
    let info = RunInfo::collect(Path::new(env!("CARGO_MANIFEST_DIR")), settings, background);
    let table = markdown_table(&all);
    let goals = goals(&all);
    println!("\n{table}\n{goals}");
    if o.write {
        let md = o.out_dir.join("RESULTS.md");
        let old = std::fs::read_to_string(&md).unwrap_or_default();
        std::fs::write(&md, put_section(&old, &section(&info, &all))).with_context(|| format!("writing {}", md.display()))?;
        let csv = o.out_dir.join("groq.csv");
        append_csv(&csv, &info, &all)?;
        eprintln!("wrote its section of {} and appended to {}", md.display(), csv.display());
        bench::run_plot(&o.out_dir, "plot_groq.py", "groq.svg");
    }
    Ok(())
}

fn one_line(s: &Summary) -> String {
    let d = |x: Option<Dist>| x.map_or("—".into(), |d| format!("p50 {:.2} p99 {:.2} max {:.2}", d.p50, d.p99, d.max));
    format!(
        "{}: {}/{} ok, added ms {}, rate ×{} (p1 ×{}), {} errors {:?}, {} differ, {:.1} s",
        s.target,
        s.ok,
        s.conversations,
        d(s.added),
        opt(s.rate_ratio_p50, 3),
        opt(s.rate_ratio_p1, 3),
        s.errors,
        s.error_kinds,
        s.mismatched,
        s.wall_s
    )
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.prec$}"))
}

/// The direct (baseline) summary of the same scenario as `s`.
fn baseline_of<'a>(s: &Summary, all: &'a [Summary]) -> Option<&'a Summary> {
    all.iter().find(|b| b.target == "direct" && b.rate == s.rate && b.conversations == s.conversations)
}

pub fn markdown_table(all: &[Summary]) -> String {
    let mut t = String::from(
        "| rate tok/s | conversations | target | answered | added to 1st token ms p50 | p90 | p99 | max | send → Groq p50 / p99 | Groq → 1st token p50 / p99 | delivered tok/s p50 / p1 | ×rate p50 | ×rate p1 | ×fake's own p50 / p1 | added to last token ms p50 / p99 | all tokens/s | errors | answers ≠ fake's | target CPU % |\n\
         | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let pair = |d: Option<Dist>| d.map_or("—".into(), |d| format!("{:.2} / {:.2}", d.p50, d.p99));
    for s in all {
        let a = s.added;
        let own = match (baseline_of(s, all).and_then(|b| b.tok_s_p50), s.tok_s_p50, s.tok_s_p1) {
            (Some(b), Some(p50), Some(p1)) if b > 0.0 => format!("{:.3} / {:.3}", p50 / b, p1 / b),
            _ => "—".into(),
        };
        let _ = writeln!(
            t,
            "| {:.0} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {own} | {} | {} | {} | {} | {} |",
            s.rate,
            s.conversations,
            s.target,
            s.ok,
            s.conversations,
            a.map_or("—".into(), |d| format!("{:.2}", d.p50)),
            a.map_or("—".into(), |d| format!("{:.2}", d.p90)),
            a.map_or("—".into(), |d| format!("{:.2}", d.p99)),
            a.map_or("—".into(), |d| format!("{:.2}", d.max)),
            pair(s.to_groq),
            pair(s.groq_to_first),
            opt(s.tok_s_p50, 0),
            opt(s.tok_s_p1, 0),
            opt(s.rate_ratio_p50, 3),
            opt(s.rate_ratio_p1, 3),
            pair(s.added_last),
            opt(s.all_tok_s, 0),
            s.errors,
            s.mismatched,
            opt(s.target_cpu_pct, 0),
        );
    }
    t
}

/// The goal lines, per scenario, for Aisle.
pub fn goals(all: &[Summary]) -> String {
    let mut g = String::new();
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for s in all.iter().filter(|s| s.target == "aisle") {
        let base = baseline_of(s, all);
        let _ = writeln!(g, "- {:.0} tok/s × {} conversations:", s.rate, s.conversations);
        match s.added {
            Some(a) => {
                let _ = writeln!(
                    g,
                    "  - added to the first token p99 ≤ {GOAL_ADDED_P99_MS} ms: {} (p99 {:.2} ms, p50 {:.2} ms; direct from the fake: p99 {} ms)",
                    verdict(a.p99 <= GOAL_ADDED_P99_MS),
                    a.p99,
                    a.p50,
                    base.and_then(|b| b.added).map_or("—".into(), |b| format!("{:.2}", b.p99)),
                );
            }
            None => {
                let _ = writeln!(g, "  - added to the first token p99 ≤ {GOAL_ADDED_P99_MS} ms: NOT met (no conversation got a token)");
            }
        }
        let own = base.and_then(|b| b.tok_s_p50).filter(|b| *b > 0.0);
        match (own, s.tok_s_p50, s.tok_s_p1) {
            (Some(own), Some(p50), Some(p1)) => {
                let (r50, r1) = (p50 / own, p1 / own);
                let last = |x: Option<&Summary>| x.and_then(|x| x.added_last).map_or("—".into(), |d| format!("{:.1}", d.p50));
                let bunched;
                let v = if r50 > 1.0 / GOAL_RATE_RATIO {
                    bunched = format!(
                        "NOT met: the tokens came in bursts, faster than the fake makes them — Aisle fell behind the stream and caught up (added to the last token p50 {} ms, direct {} ms)",
                        last(Some(s)),
                        last(base)
                    );
                    bunched.as_str()
                } else if r1 >= GOAL_RATE_RATIO {
                    "met (every conversation but the worst 1 %)"
                } else if r50 >= GOAL_RATE_RATIO {
                    "met by the median conversation, NOT by the worst 1 %"
                } else {
                    "NOT met"
                };
                let _ = writeln!(
                    g,
                    "  - delivered rate ≥ {GOAL_RATE_RATIO}× the fake's own: {v} (p50 {r50:.3}×, p1 {r1:.3}× of the fake's own {own:.0} tok/s measured direct; of the nominal {:.0} tok/s: p50 {:.3}×, p1 {:.3}×)",
                    s.rate,
                    p50 / s.rate,
                    p1 / s.rate,
                );
            }
            _ => {
                let _ = writeln!(g, "  - delivered rate ≥ {GOAL_RATE_RATIO}× the fake's own: not measured");
            }
        }
        let clean = s.errors == 0 && s.mismatched == 0;
        let mut line = format!(
            "  - 0 errors, every answer the fake's text: {} ({} errors, {} of {} answers differ",
            verdict(clean),
            s.errors,
            s.mismatched,
            s.ok
        );
        if !s.error_kinds.is_empty() {
            let kinds: Vec<String> = s.error_kinds.iter().map(|(k, n)| format!("{n}× {k}")).collect();
            let _ = write!(line, "; {}", kinds.join(", "));
        }
        line.push(')');
        let _ = writeln!(g, "{line}");
    }
    g
}

/// This bench's section of `RESULTS.md`.
pub fn section(info: &RunInfo, all: &[Summary]) -> String {
    let mut s = format!("{SECTION}\n\n");
    s.push_str(
        "Latest run of `loadtests groq` (regenerated by every run; history in `groq.csv`, plotted in \
         `groq.svg`; how to run and read it: `README.md`, \"groq\"). Every conversation sends one \
         message at the same moment as the others; the fake Groq answers each with the same text, \
         one token every 1/rate s.\n\n",
    );
    let _ = writeln!(s, "- date: {}", info.date);
    let _ = writeln!(s, "- machine: {} cores (`nproc`), {}", info.nproc, info.cpu);
    let _ = writeln!(s, "- background load before the run: {:.0}% of all cores busy with other processes", info.background_cpu_pct);
    let _ = writeln!(s, "- git commit: {}", info.commit);
    let _ = writeln!(s, "- settings: {}\n", info.settings);
    s.push_str(&markdown_table(all));
    s.push_str(
        "\n*added to 1st token* = (first token at the client − send) − 1/rate (the fake waits one \
         token interval before its first token); *send → Groq* is the part before the fake got the \
         request, *Groq → 1st token* the part after (minus 1/rate). *Delivered tok/s* = (tokens − 1) \
         / (last token − first token) per conversation; *×rate* is that over the nominal rate, \
         *×fake's own* over the median rate the same fake delivered to the direct client in the \
         same run; a rate above the fake's own means the tokens were held and then sent in a \
         burst. *added to last token* = (last token − send) − tokens/rate: how far behind the \
         fake's pace the answer ended. *all tokens/s* = every token of the scenario over (the last \
         token − the first send): the aggregate the target delivered. `direct` rows: reqwest straight to the fake (no Aisle), the same number of \
         concurrent streams, measured the same way: what the fake and the client alone give on \
         this machine at that moment. *target CPU %* is Aisle's process, % of one core, while the \
         scenario ran.\n\n### Goals (issue 12)\n\n",
    );
    s.push_str(&goals(all));
    let mut notes: Vec<String> = all
        .iter()
        .filter(|x| x.repeats + x.untagged + x.not_at_fake + x.other_token_count > 0)
        .map(|x| {
            format!(
                "- {:.0} tok/s × {} vs {}: {} repeated and {} untagged requests at the fake, {} conversations never reached it, {} answers with another number of token events than {}",
                x.rate, x.conversations, x.target, x.repeats, x.untagged, x.not_at_fake, x.other_token_count, x.tokens
            )
        })
        .collect();
    notes.extend(all.iter().filter_map(|x| {
        let (n, first) = x.log_problems.as_ref()?;
        Some(format!("- {:.0} tok/s × {}: Aisle logged {n} warnings/errors meanwhile, the first: `{}`", x.rate, x.conversations, first.replace('`', "'")))
    }));
    if !notes.is_empty() {
        s.push_str("\n### Details\n\n");
        s.push_str(&notes.join("\n"));
        s.push('\n');
    }
    s
}

/// `old` (a `RESULTS.md`) with this bench's section put in: in place of the previous one
/// (up to the next `## ` heading), else at the end; after [`KEPT_MARKER`] (added if
/// missing), so `loadtests bench`'s rewrite keeps it.
pub fn put_section(old: &str, section: &str) -> String {
    let section = format!("{}\n", section.trim_end());
    let mut out = String::with_capacity(old.len() + section.len());
    if let Some(start) = find_heading(old, SECTION) {
        let after = start + SECTION.len();
        let end = find_next_h2(old, after).unwrap_or(old.len());
        out.push_str(&old[..start]);
        out.push_str(&section);
        if end < old.len() {
            out.push('\n');
            out.push_str(&old[end..]);
        }
        return out;
    }
    out.push_str(old.trim_end());
    if !old.contains(KEPT_MARKER) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(KEPT_MARKER);
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&section);
    out
}

/// Byte offset of a line that is exactly `heading`.
fn find_heading(text: &str, heading: &str) -> Option<usize> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == heading {
            return Some(at);
        }
        at += line.len();
    }
    None
}

/// Byte offset of the first `## ` heading line starting at or after `from`.
fn find_next_h2(text: &str, from: usize) -> Option<usize> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at >= from && line.starts_with("## ") {
            return Some(at);
        }
        at += line.len();
    }
    None
}

/// Appends one line per summary to `groq.csv` (header first if the file is new).
pub fn append_csv(path: &Path, info: &RunInfo, all: &[Summary]) -> Result<()> {
    let new = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    let mut s = String::new();
    if new {
        s.push_str(CSV_HEADER);
        s.push('\n');
    }
    for x in all {
        let d = |v: Option<Dist>, f: fn(&Dist) -> f64| v.map_or(String::new(), |d| format!("{:.3}", f(&d)));
        let o = |v: Option<f64>, prec: usize| v.map_or(String::new(), |v| format!("{v:.prec$}"));
        let _ = writeln!(
            s,
            "{},{},{},{},{:.0},{:.0},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.2},{},{},{}",
            info.date,
            clean(&info.commit),
            info.nproc,
            clean(&info.cpu),
            info.background_cpu_pct,
            x.rate,
            x.conversations,
            x.tokens,
            x.target,
            x.ok,
            x.errors,
            x.mismatched,
            d(x.added, |d| d.p50),
            d(x.added, |d| d.p90),
            d(x.added, |d| d.p99),
            d(x.added, |d| d.max),
            d(x.to_groq, |d| d.p50),
            d(x.to_groq, |d| d.p99),
            d(x.groq_to_first, |d| d.p50),
            d(x.groq_to_first, |d| d.p99),
            o(x.rate_ratio_p50, 4),
            o(x.rate_ratio_p1, 4),
            o(x.tok_s_p50, 1),
            o(x.tok_s_p1, 1),
            o(x.target_cpu_pct, 0),
            o(x.bench_cpu_pct, 0),
            x.wall_s,
            d(x.added_last, |d| d.p50),
            d(x.added_last, |d| d.p99),
            o(x.all_tok_s, 1),
        );
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(s.as_bytes()).with_context(|| format!("appending to {}", path.display()))
}

fn clean(s: &str) -> String {
    s.replace([',', '"', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_found_in_the_shoppers_words_only_whole() {
        assert_eq!(find_tag("bench-17: do you have hoodies?").as_deref(), Some("bench-17"));
        assert_eq!(find_tag("so, direct-3: hi").as_deref(), Some("direct-3"));
        assert_eq!(find_tag("bench-: x bench-9").as_deref(), Some("bench-9"));
        assert_eq!(find_tag("workbench-4"), None, "a word ending in bench- is not a tag");
        assert_eq!(find_tag("do you have hoodies?"), None);
        let req = json!({"messages": [
            {"role": "system", "content": "bench-1 in the prompt does not count"},
            {"role": "user", "content": "bench-2: first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "bench-5: do you have hoodies?"},
            {"role": "tool", "content": "bench-6"}
        ]});
        assert_eq!(request_tag(&req).as_deref(), Some("bench-5"));
        assert_eq!(request_tag(&json!({"messages": []})), None);
        assert_eq!(request_tag(&json!({})), None);
    }

    #[test]
    fn the_answer_has_the_asked_number_of_tokens() {
        let p = answer_pieces(60);
        assert_eq!(p.len(), 60);
        assert!(!p[0].starts_with(' ') && p[1..].iter().all(|t| t.starts_with(' ') && t.len() > 1));
        assert_eq!(tokens(&p.concat()), p, "the fake's tokenizer gives the same pieces back");
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 0.01), 1.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        let d = Dist::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((d.n, d.p50, d.p99, d.max), (3, 2.0, 3.0, 3.0));
        assert_eq!(Dist::of(Vec::new()), None);
    }

    /// A record: sent at `t0 + send`, tokens every `gap` from `t0 + first`.
    fn rec(t0: Instant, tag: &str, send_ms: u64, first_ms: u64, gap_us: u64, n: usize, text: &str) -> Record {
        let at = |us: u64| t0 + Duration::from_micros(us);
        let mut r = Record::new(tag.into());
        r.send = Some(at(send_ms * 1000));
        for k in 0..n as u64 {
            r.token(at(first_ms * 1000 + k * gap_us));
        }
        r.text = Some(text.into());
        r
    }

    #[test]
    fn figures_from_recorded_instants() {
        let t0 = Instant::now();
        // 100 tok/s nominal: the fake's first token comes 10 ms after the request.
        let mut records: Vec<Record> = (0..98).map(|i| rec(t0, &format!("bench-{i}"), 0, 12, 10_000, 5, "abc")).collect();
        // One slow conversation: first token 50 ms after send, tokens every 20 ms.
        records.push(rec(t0, "bench-98", 0, 50, 20_000, 5, "abc"));
        // One that differs from the fake's text, and one that failed.
        records.push(rec(t0, "bench-99", 0, 12, 10_000, 5, "abd"));
        let mut failed = Record::new("bench-100".into());
        failed.error = Some("timeout (60 s)".into());
        records.push(failed);
        let mut arrivals = HashMap::new();
        for i in 0..100 {
            arrivals.insert(format!("bench-{i}"), t0 + Duration::from_millis(1));
        }
        let s = summarize("aisle", 100.0, 5, "abc", &records, &arrivals);
        assert_eq!((s.conversations, s.ok, s.errors, s.mismatched), (101, 100, 1, 1));
        assert_eq!(s.error_kinds.get("timeout (60 s)"), Some(&1));
        assert_eq!(s.not_at_fake, 1, "the failed one never reached the fake");
        let a = s.added.unwrap();
        assert_eq!(a.n, 100);
        assert!((a.p50 - 2.0).abs() < 1e-6, "12 ms − 10 ms: {a:?}");
        assert!((a.p99 - 2.0).abs() < 1e-6, "the slow one is above p99 of 100: {a:?}");
        assert!((a.max - 40.0).abs() < 1e-6, "{a:?}");
        let (to, after) = (s.to_groq.unwrap(), s.groq_to_first.unwrap());
        assert!((to.p50 - 1.0).abs() < 1e-6 && (after.p50 - 1.0).abs() < 1e-6, "{to:?} {after:?}");
        assert!((s.tok_s_p50.unwrap() - 100.0).abs() < 1e-6);
        assert!((s.rate_ratio_p50.unwrap() - 1.0).abs() < 1e-6);
        assert!((s.rate_ratio_p1.unwrap() - 0.5).abs() < 1e-6, "the worst 1 % is the slow one at 50 tok/s");
        // Last token: 12 + 4 × 10 = 52 ms after send, the fake's pace 5 × 10 = 50 ms.
        let l = s.added_last.unwrap();
        assert!((l.p50 - 2.0).abs() < 1e-6, "{l:?}");
        assert!((l.max - (50.0 + 80.0 - 50.0)).abs() < 1e-6, "the slow one: {l:?}");
        // 500 tokens from the first send (t0) to the last token (130 ms).
        assert!((s.all_tok_s.unwrap() - 500.0 / 0.130).abs() < 1e-6, "{:?}", s.all_tok_s);
    }

    #[test]
    fn answers_without_tokens_or_end_are_errors() {
        let t0 = Instant::now();
        let mut no_end = rec(t0, "bench-0", 0, 5, 1000, 3, "x");
        no_end.text = None;
        let no_tokens = rec(t0, "bench-1", 0, 5, 1000, 0, "x");
        let one = rec(t0, "bench-2", 0, 5, 1000, 1, "x");
        let s = summarize("aisle", 1000.0, 1, "x", &[no_end, no_tokens, one], &HashMap::new());
        assert_eq!((s.ok, s.errors), (1, 2));
        assert_eq!(s.error_kinds.get("no answer"), Some(&1));
        assert_eq!(s.error_kinds.get("no tokens"), Some(&1));
        assert!(s.added.is_some() && s.tok_s_p50.is_none(), "one token gives no rate");
        assert!(s.to_groq.is_none(), "no arrivals recorded");
    }

    #[test]
    fn warnings_in_aisles_log_after_a_point() {
        let log = "\u{1b}[2m2026\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m old\nx  INFO y\nt \u{1b}[33m WARN\u{1b}[0m event log full\nt  ERROR boom\n";
        let (p, n) = log_problems(log, 1);
        assert_eq!(n, 4);
        assert_eq!(p, vec!["t  WARN event log full".to_string(), "t  ERROR boom".to_string()]);
        assert_eq!(log_problems(log, 4).0.len(), 0);
    }

    #[test]
    fn signed_milliseconds() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_micros(1500);
        assert!((ms_between(t1, t0) - 1.5).abs() < 1e-9);
        assert!((ms_between(t0, t1) + 1.5).abs() < 1e-9);
    }

    #[test]
    fn sse_events_across_chunks() {
        let mut p = SseParser::default();
        let role = r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#;
        let tok = r#"data: {"choices":[{"index":0,"delta":{"content":" hoodies"}}]}"#;
        let stream = format!("{role}\n\n{tok}\n\nevent: error\ndata: {{\"error\":{{\"message\":\"boom\"}}}}\n\ndata: [DONE]\n\n");
        let (a, b) = stream.as_bytes().split_at(role.len() + 30);
        let mut items = p.push(a);
        assert_eq!(items, vec![SseItem::Other]);
        items.extend(p.push(b));
        assert_eq!(
            items,
            vec![SseItem::Other, SseItem::Content(" hoodies".into()), SseItem::Error("boom".into()), SseItem::Done]
        );
    }

    fn info() -> RunInfo {
        RunInfo { date: "d".into(), commit: "c".into(), nproc: 2, cpu: "x, y".into(), background_cpu_pct: 1.0, settings: "s".into() }
    }

    fn summary(target: &str, p99: f64, tok_s: f64) -> Summary {
        let t0 = Instant::now();
        let records: Vec<Record> = (0..10).map(|i| rec(t0, &format!("bench-{i}"), 0, 4, (1e6 / tok_s) as u64, 3, "x")).collect();
        let mut s = summarize(target, 280.0, 3, "x", &records, &HashMap::new());
        s.added = Some(Dist { n: 10, p50: 1.0, p90: 2.0, p99, max: p99 });
        s
    }

    #[test]
    fn goals_compare_with_the_fakes_own_rate() {
        let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 6.0, 249.0)];
        let g = goals(&all);
        assert!(g.contains("p99 ≤ 5 ms: NOT met (p99 6.00 ms, p50 1.00 ms; direct from the fake: p99 0.50 ms)"), "{g}");
        assert!(g.contains("≥ 0.98× the fake's own: met (every conversation but the worst 1 %) (p50 0.996×"), "{g}");
        assert!(g.contains("0 errors, every answer the fake's text: met"), "{g}");
        let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 4.0, 200.0)];
        let g = goals(&all);
        assert!(g.contains("p99 ≤ 5 ms: met") && g.contains("the fake's own: NOT met (p50 0.800×"), "{g}");
        let t = markdown_table(&all);
        assert_eq!(t.lines().count(), 4, "{t}");
        assert!(t.lines().all(|l| l.matches('|').count() == 20), "{t}");
        // Faster than the fake makes them: held back, then a burst.
        let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 4.0, 400.0)];
        let g = goals(&all);
        assert!(g.contains("the fake's own: NOT met: the tokens came in bursts"), "{g}");
    }

    #[test]
    fn the_section_is_put_after_the_marker_and_replaced_in_place() {
        let s1 = format!("{SECTION}\n\nfirst run\n");
        let s2 = format!("{SECTION}\n\nsecond run\n\n### Goals (issue 12)\n\n- x\n");
        // No marker: the marker, then the section.
        let a = put_section("# Results\n\nbench\n", &s1);
        assert_eq!(a, format!("# Results\n\nbench\n\n{KEPT_MARKER}\n\n{s1}"));
        // After the kept sections, then replaced in place, the next section kept.
        let old = format!("# R\n\n{KEPT_MARKER}\n\n## Changes\n\nrows\n\n## Retrieval quality (WANDS)\n\nkept\n");
        let b = put_section(&old, &s1);
        assert!(b.ends_with(&format!("kept\n\n{s1}")), "{b}");
        let moved = b.replace(&format!("\n{s1}"), "") + "\n## Later\n\nlater\n";
        let moved = moved.replace("## Retrieval", &format!("{s1}\n## Retrieval"));
        let c = put_section(&moved, &s2);
        assert!(c.contains(&format!("{s2}\n## Retrieval quality (WANDS)\n\nkept\n")), "{c}");
        assert!(!c.contains("first run") && c.contains("## Later\n\nlater\n"), "{c}");
        assert_eq!(put_section(&c, &s2), c, "idempotent");
        assert_eq!(put_section("", &s1), format!("{KEPT_MARKER}\n\n{s1}"));
    }

    #[test]
    fn benchs_rewrite_keeps_the_section() {
        let dir = crate::procs::ScratchDir::new("loadtests-groq-md").unwrap();
        let md = dir.path.join("RESULTS.md");
        let s = section(&info(), &[summary("direct", 0.5, 250.0), summary("aisle", 1.0, 249.0)]);
        std::fs::write(&md, put_section("# old\n", &s)).unwrap();
        crate::report::write_results_md(&md, &info(), &[]).unwrap();
        let text = std::fs::read_to_string(&md).unwrap();
        assert!(text.contains(&s), "{text}");
        assert!(text.starts_with("# Aisle load-test results"));
    }

    #[test]
    fn csv_lines_match_the_header() {
        let dir = crate::procs::ScratchDir::new("loadtests-groq-csv").unwrap();
        let path = dir.path.join("groq.csv");
        let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 1.0, 249.0)];
        append_csv(&path, &info(), &all).unwrap();
        append_csv(&path, &info(), &all).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let cols = CSV_HEADER.split(',').count();
        assert_eq!(text.lines().count(), 5);
        assert!(text.lines().all(|l| l.split(',').count() == cols), "{text}");
        assert!(text.lines().nth(2).unwrap().contains(",280,10,3,aisle,10,0,0,1.000,2.000,1.000,1.000,"), "{text}");
    }
}
