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

mod figures;
mod report;
#[cfg(test)]
mod tests;

pub use figures::*;
pub use report::*;

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
