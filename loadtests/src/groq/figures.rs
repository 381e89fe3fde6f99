//! The figures of a `groq` run: what each conversation recorded, percentiles, the
//! summary of a scenario, and the SSE reading of the direct baseline.

use super::*;

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
    pub(super) fn new(tag: String) -> Self {
        Record { tag, send: None, first: None, last: None, deltas: 0, text: None, error: None }
    }

    pub(super) fn token(&mut self, at: Instant) {
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
