/*!
A fake Groq: a local HTTP server (hyper, on `127.0.0.1:0`) that answers
`POST /openai/v1/chat/completions` in Groq's real wire format, scripted per test.

Two ways to script it:
- a queue of [`Reply`]s, one per request in order ([`FakeGroq::start`], [`FakeGroq::push`]);
  a request with nothing queued gets a 500 that names the problem;
- a function from the request's JSON to a [`Reply`] ([`FakeGroq::start_with`]), for a
  fake model that reacts to what it is asked (red-team tests, benchmarks).

A reply is a 200 event stream ([`Sse`] events: text and reasoning deltas, tool calls
whole or in fragments, the finishing chunk with `usage` / `x_groq.usage`, the final
usage chunk with `"service_tier":"on_demand"`, `[DONE]`, an `event: error` frame, a
pause, a gate the test opens, a stall), optionally paced at a per-token delay, or an
HTTP error ([`Reply::rate_limited`], [`Reply::unauthorized`], [`Reply::model_not_found`],
[`Reply::server_error`]). Every response carries Groq's `x-ratelimit-*` headers.

The fake records every request (path, `authorization`, JSON body) and counts the
streams the client abandoned before their end ([`FakeGroq::disconnects`]).
*/

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::{JoinHandle, JoinSet};

/// One event of a 200 stream.
#[derive(Clone, Debug)]
pub enum Sse {
    /// The first chunk: `delta: {role: assistant, content: ""}` and `x_groq.id`.
    Role,
    /// A `delta.content` piece.
    Text(String),
    /// A `delta.reasoning` piece (gpt-oss); a client must never show it.
    Reasoning(String),
    /// One `delta.tool_calls` entry: a whole call (id, name, all arguments) or a
    /// fragment (often only `index` and a piece of the arguments).
    ToolCall { index: u32, id: Option<String>, name: Option<String>, arguments: Option<String> },
    /// Several tool calls in one delta (parallel calls sent together).
    ToolCalls(Vec<(u32, String, String, String)>),
    /// The chunk that finishes the choice, with usage in `usage` and/or `x_groq.usage`.
    Finish { reason: String, usage: Option<FakeUsage>, x_groq_usage: Option<FakeUsage> },
    /// The final chunk of `stream_options.include_usage`: no choices, `usage`,
    /// `"service_tier":"on_demand"`.
    Usage(FakeUsage),
    /// `data: [DONE]`.
    Done,
    /// An `event: error` frame with Groq's error JSON.
    ErrorFrame { message: String, kind: String },
    /// Bytes sent as they are (malformed events, comments, CRLF...).
    Raw(String),
    /// Waits this long before the next event.
    Pause(Duration),
    /// Waits until the test calls [`FakeGroq::open_gate`] with this name.
    Gate(String),
    /// Sends nothing more and keeps the connection open until the client leaves.
    Stall,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FakeUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl FakeUsage {
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self { prompt_tokens, completion_tokens }
    }

    fn json(&self) -> Value {
        // Groq's shape, timings included.
        json!({
            "queue_time": 0.017,
            "prompt_tokens": self.prompt_tokens,
            "prompt_time": 0.011,
            "completion_tokens": self.completion_tokens,
            "completion_time": 0.042,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "total_time": 0.053
        })
    }
}

/// What the fake answers to one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A 200 `text/event-stream`.
    Stream {
        events: Vec<Sse>,
        /// Waited before each text, reasoning and tool-call event (a token rate).
        token_delay: Option<Duration>,
    },
    /// Any other response.
    Http { status: u16, headers: Vec<(String, String)>, body: String },
}

/// The prompt tokens a standard reply reports (its completion tokens: one per piece).
pub const DEFAULT_PROMPT_TOKENS: u64 = 120;

impl Reply {
    /// A stream of these events.
    pub fn events(events: Vec<Sse>) -> Reply {
        Reply::Stream { events, token_delay: None }
    }

    /// A whole text reply as Groq streams it: the role chunk, one chunk per piece, the
    /// finishing chunk (usage in `usage` and `x_groq.usage`), the usage chunk, `[DONE]`.
    pub fn text<S: AsRef<str>>(pieces: &[S]) -> Reply {
        let mut events = vec![Sse::Role];
        events.extend(pieces.iter().map(|p| Sse::Text(p.as_ref().to_string())));
        events.extend(Self::ending("stop", pieces.len() as u64));
        Reply::events(events)
    }

    /// Tool calls sent whole, one delta each (several: parallel, indexes 0, 1, ...),
    /// given as `(id, name, arguments JSON text)`.
    pub fn tool_calls(calls: &[(&str, &str, &str)]) -> Reply {
        let mut events = vec![Sse::Role];
        for (i, (id, name, args)) in calls.iter().enumerate() {
            events.push(Sse::ToolCall {
                index: i as u32,
                id: Some((*id).into()),
                name: Some((*name).into()),
                arguments: Some((*args).into()),
            });
        }
        events.extend(Self::ending("tool_calls", 20 * calls.len() as u64));
        Reply::events(events)
    }

    /// One tool call in fragments, the OpenAI way: a first delta with the id, the name
    /// and empty arguments, then the arguments in `pieces` parts with only the index.
    pub fn fragmented_tool_call(id: &str, name: &str, arguments: &str, pieces: usize) -> Reply {
        let mut events = vec![Sse::Role];
        events.push(Sse::ToolCall { index: 0, id: Some(id.into()), name: Some(name.into()), arguments: Some(String::new()) });
        events.extend(split(arguments, pieces).into_iter().map(|a| Sse::ToolCall { index: 0, id: None, name: None, arguments: Some(a) }));
        events.extend(Self::ending("tool_calls", 20));
        Reply::events(events)
    }

    /// The end of a standard stream: finish, usage chunk, `[DONE]`.
    pub fn ending(reason: &str, completion_tokens: u64) -> Vec<Sse> {
        let usage = FakeUsage::new(DEFAULT_PROMPT_TOKENS, completion_tokens);
        vec![
            Sse::Finish { reason: reason.into(), usage: Some(usage), x_groq_usage: Some(usage) },
            Sse::Usage(usage),
            Sse::Done,
        ]
    }

    /// A stream that stops after these pieces: no `finish_reason`, no `[DONE]`.
    pub fn truncated<S: AsRef<str>>(pieces: &[S]) -> Reply {
        let mut events = vec![Sse::Role];
        events.extend(pieces.iter().map(|p| Sse::Text(p.as_ref().to_string())));
        Reply::events(events)
    }

    /// These pieces, then an `event: error` frame.
    pub fn error_frame<S: AsRef<str>>(pieces: &[S], message: &str) -> Reply {
        let mut events = vec![Sse::Role];
        events.extend(pieces.iter().map(|p| Sse::Text(p.as_ref().to_string())));
        events.push(Sse::ErrorFrame { message: message.into(), kind: "internal_server_error".into() });
        Reply::events(events)
    }

    /// Headers, then nothing.
    pub fn stall() -> Reply {
        Reply::events(vec![Sse::Stall])
    }

    /// Waits `delay` before each token (text, reasoning, tool call) event.
    pub fn with_token_delay(self, delay: Duration) -> Reply {
        match self {
            Reply::Stream { events, .. } => Reply::Stream { events, token_delay: Some(delay) },
            other => other,
        }
    }

    /// Paces the tokens at this rate (tokens per second).
    pub fn with_tokens_per_second(self, rate: f64) -> Reply {
        if rate.is_finite() && rate > 0.0 { self.with_token_delay(Duration::from_secs_f64(1.0 / rate)) } else { self }
    }

    /// Groq's 429: `retry-after` (when given), the `x-ratelimit-*` headers with the
    /// token limit exhausted, and its JSON error body.
    pub fn rate_limited(retry_after: Option<&str>) -> Reply {
        let mut headers = rate_limit_headers("0");
        if let Some(r) = retry_after {
            headers.push(("retry-after".into(), r.into()));
        }
        Reply::Http {
            status: 429,
            headers,
            body: error_json(
                "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_fake` on tokens per minute (TPM): Limit 6000, Used 5980, Requested 412. Please try again in 7.66s.",
                "tokens",
                "rate_limit_exceeded",
            ),
        }
    }

    /// Any status with Groq's JSON error body.
    pub fn groq_error(status: u16, message: &str, kind: &str, code: &str) -> Reply {
        Reply::Http { status, headers: rate_limit_headers("14"), body: error_json(message, kind, code) }
    }

    /// 401 as Groq sends it for a bad key.
    pub fn unauthorized() -> Reply {
        Self::groq_error(401, "Invalid API Key", "invalid_request_error", "invalid_api_key")
    }

    /// 404 as Groq sends it for an unknown model.
    pub fn model_not_found(model: &str) -> Reply {
        Self::groq_error(
            404,
            &format!("The model `{model}` does not exist or you do not have access to it."),
            "invalid_request_error",
            "model_not_found",
        )
    }

    /// A 5xx with a body that is not JSON (a proxy's page).
    pub fn server_error(status: u16, text: &str) -> Reply {
        Reply::Http { status, headers: vec![("content-type".into(), "text/html".into())], body: text.into() }
    }
}

fn error_json(message: &str, kind: &str, code: &str) -> String {
    json!({"error": {"message": message, "type": kind, "code": code}}).to_string()
}

fn rate_limit_headers(remaining_tokens: &str) -> Vec<(String, String)> {
    vec![
        ("x-ratelimit-limit-requests".into(), "14400".into()),
        ("x-ratelimit-limit-tokens".into(), "6000".into()),
        ("x-ratelimit-remaining-requests".into(), "14370".into()),
        ("x-ratelimit-remaining-tokens".into(), remaining_tokens.into()),
        ("x-ratelimit-reset-requests".into(), "2m59.56s".into()),
        ("x-ratelimit-reset-tokens".into(), "7.66s".into()),
    ]
}

/// `s` in `n` pieces of about the same number of characters (at least one piece).
pub fn split(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let n = n.clamp(1, chars.len().max(1));
    let size = chars.len().div_ceil(n).max(1);
    let mut out: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// `text` as tokens the way a model streams them: words with their leading space.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_whitespace() && !cur.trim().is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

impl RecordedRequest {
    /// The key of `Authorization: Bearer <key>`.
    pub fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref().and_then(|a| a.strip_prefix("Bearer "))
    }

    pub fn model(&self) -> Option<&str> {
        self.body["model"].as_str()
    }

    /// The content of the first message when it is the system message.
    pub fn system_prompt(&self) -> Option<&str> {
        let first = &self.body["messages"][0];
        (first["role"] == "system").then(|| first["content"].as_str()).flatten()
    }

    pub fn tool_names(&self) -> Vec<String> {
        self.body["tools"]
            .as_array()
            .map(|t| t.iter().filter_map(|t| t["function"]["name"].as_str().map(String::from)).collect())
            .unwrap_or_default()
    }
}

type ScriptFn = dyn Fn(&Value) -> Reply + Send + Sync;

enum Script {
    Queue(Mutex<VecDeque<Reply>>),
    Function(Box<ScriptFn>),
}

struct Shared {
    script: Script,
    requests: Mutex<Vec<RecordedRequest>>,
    disconnects: AtomicUsize,
    completed: AtomicUsize,
    gates: Mutex<HashMap<String, Arc<Notify>>>,
    next_id: AtomicU64,
}

impl Shared {
    fn gate(&self, name: &str) -> Arc<Notify> {
        let mut g = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(g.entry(name.to_string()).or_insert_with(|| Arc::new(Notify::new())))
    }
}

/// The running fake. Dropping it stops the server and closes its connections.
pub struct FakeGroq {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeGroq {
    /// A fake answering from a queue of replies ([`FakeGroq::push`]).
    pub async fn start() -> std::io::Result<FakeGroq> {
        Self::serve(Script::Queue(Mutex::new(VecDeque::new()))).await
    }

    /// A fake answering each request with `script(request body)`.
    pub async fn start_with(script: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> std::io::Result<FakeGroq> {
        Self::serve(Script::Function(Box::new(script))).await
    }

    async fn serve(script: Script) -> std::io::Result<FakeGroq> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script,
            requests: Mutex::new(Vec::new()),
            disconnects: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            gates: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
        });
        let server_shared = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        let shared = Arc::clone(&server_shared);
                        connections.spawn(async move {
                            let service = service_fn(move |req| {
                                let shared = Arc::clone(&shared);
                                async move { Ok::<_, Infallible>(handle(shared, req).await) }
                            });
                            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(FakeGroq { addr, shared, task })
    }

    /// The base URL to configure the client with (`…/openai/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}/openai/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues the reply to the next request (queue mode).
    pub fn push(&self, reply: Reply) {
        if let Script::Queue(q) = &self.shared.script {
            q.lock().unwrap_or_else(|e| e.into_inner()).push_back(reply);
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Streams the client abandoned before the fake sent all their events.
    pub fn disconnects(&self) -> usize {
        self.shared.disconnects.load(Ordering::SeqCst)
    }

    /// Streams sent to their end.
    pub fn completed(&self) -> usize {
        self.shared.completed.load(Ordering::SeqCst)
    }

    /// Waits until `n` streams were abandoned, at most `guard`; whether they were.
    pub async fn wait_for_disconnects(&self, n: usize, guard: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + guard;
        while self.disconnects() < n {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Lets the streams waiting at [`Sse::Gate`] `name` go on (one waiter; a gate
    /// opened before anyone waits lets the next one through at once).
    pub fn open_gate(&self, name: &str) {
        self.shared.gate(name).notify_one();
    }
}

impl Drop for FakeGroq {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn full(status: u16, headers: &[(String, String)], body: String) -> Response<Body> {
    let mut b = Response::builder().status(status);
    let mut has_type = false;
    for (k, v) in headers {
        has_type |= k.eq_ignore_ascii_case("content-type");
        b = b.header(k.as_str(), v.as_str());
    }
    if !has_type {
        b = b.header("content-type", "application/json");
    }
    b.body(Full::new(Bytes::from(body)).boxed()).unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let authorization = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(String::from);
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return full(400, &[], error_json(&format!("fake: cannot read the body: {e}"), "invalid_request_error", "bad_body")),
    };
    if method != "POST" || path != "/openai/v1/chat/completions" {
        return full(404, &[], error_json(&format!("Unknown request URL: {method} {path}"), "invalid_request_error", "unknown_url"));
    }
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return full(400, &[], error_json(&format!("fake: the body is not JSON: {e}"), "invalid_request_error", "bad_json")),
    };
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(RecordedRequest {
        method,
        path,
        authorization,
        body: body.clone(),
    });
    let reply = match &shared.script {
        Script::Queue(q) => q.lock().unwrap_or_else(|e| e.into_inner()).pop_front(),
        Script::Function(f) => Some(f(&body)),
    };
    let Some(reply) = reply else {
        return full(500, &[], error_json("fake: no scripted reply left for this request", "internal_server_error", "fake_script_empty"));
    };
    match reply {
        Reply::Http { status, headers, body } => full(status, &headers, body),
        Reply::Stream { events, token_delay } => {
            let model = body["model"].as_str().unwrap_or("llama-3.3-70b-versatile").to_string();
            let n = shared.next_id.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = mpsc::channel::<Bytes>(1);
            let writer_shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let writer = Writer { tx, model, id: n, token_delay, shared: Arc::clone(&writer_shared) };
                if writer.run(events).await {
                    writer_shared.completed.fetch_add(1, Ordering::SeqCst);
                } else {
                    writer_shared.disconnects.fetch_add(1, Ordering::SeqCst);
                }
            });
            let frames = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
            });
            let mut b = Response::builder()
                .status(200)
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .header("x-request-id", format!("req_fake{n}"));
            for (k, v) in rate_limit_headers("5588") {
                b = b.header(k, v);
            }
            b.body(StreamBody::new(frames).boxed()).unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
        }
    }
}

struct Writer {
    tx: mpsc::Sender<Bytes>,
    model: String,
    id: u64,
    token_delay: Option<Duration>,
    shared: Arc<Shared>,
}

impl Writer {
    /// Sends the events; false when the client went away first.
    async fn run(&self, events: Vec<Sse>) -> bool {
        for event in events {
            let paced = matches!(event, Sse::Text(_) | Sse::Reasoning(_) | Sse::ToolCall { .. } | Sse::ToolCalls(_));
            if paced && let Some(d) = self.token_delay && !self.wait(tokio::time::sleep(d)).await {
                return false;
            }
            let data = match event {
                Sse::Pause(d) => {
                    if !self.wait(tokio::time::sleep(d)).await {
                        return false;
                    }
                    continue;
                }
                Sse::Gate(name) => {
                    let gate = self.shared.gate(&name);
                    if !self.wait(gate.notified()).await {
                        return false;
                    }
                    continue;
                }
                Sse::Stall => {
                    self.tx.closed().await;
                    return false;
                }
                Sse::Raw(s) => s,
                Sse::Done => "data: [DONE]\n\n".to_string(),
                Sse::ErrorFrame { message, kind } => {
                    format!("event: error\ndata: {}\n\n", json!({"error": {"message": message, "type": kind}}))
                }
                other => format!("data: {}\n\n", self.chunk(other)),
            };
            if self.tx.send(Bytes::from(data)).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Waits for `f`, or returns false when the client leaves first.
    async fn wait(&self, f: impl std::future::Future<Output = ()>) -> bool {
        tokio::select! {
            _ = f => true,
            _ = self.tx.closed() => false,
        }
    }

    fn chunk(&self, event: Sse) -> Value {
        let id = self.id;
        let mut c = json!({
            "id": format!("chatcmpl-fake{id}"),
            "object": "chat.completion.chunk",
            "created": 1_767_225_600,
            "model": self.model,
            "system_fingerprint": "fp_fake",
            "choices": [],
        });
        let choice = |delta: Value, finish: Value| json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]);
        let call = |index: u32, id: Option<String>, name: Option<String>, arguments: Option<String>| {
            let mut function = serde_json::Map::new();
            if let Some(n) = name {
                function.insert("name".into(), json!(n));
            }
            if let Some(a) = arguments {
                function.insert("arguments".into(), json!(a));
            }
            let mut v = json!({"index": index, "function": function});
            if let Some(id) = id {
                v["id"] = json!(id);
                v["type"] = json!("function");
            }
            v
        };
        match event {
            Sse::Role => {
                c["choices"] = choice(json!({"role": "assistant", "content": ""}), Value::Null);
                c["x_groq"] = json!({"id": format!("req_fake{id}")});
            }
            Sse::Text(t) => c["choices"] = choice(json!({"content": t}), Value::Null),
            Sse::Reasoning(t) => c["choices"] = choice(json!({"reasoning": t}), Value::Null),
            Sse::ToolCall { index, id, name, arguments } => {
                c["choices"] = choice(json!({"tool_calls": [call(index, id, name, arguments)]}), Value::Null)
            }
            Sse::ToolCalls(calls) => {
                let calls: Vec<Value> = calls.into_iter().map(|(i, id, name, args)| call(i, Some(id), Some(name), Some(args))).collect();
                c["choices"] = choice(json!({"tool_calls": calls}), Value::Null)
            }
            Sse::Finish { reason, usage, x_groq_usage } => {
                c["choices"] = choice(json!({}), json!(reason));
                if let Some(u) = usage {
                    c["usage"] = u.json();
                }
                let mut x = json!({"id": format!("req_fake{id}")});
                if let Some(u) = x_groq_usage {
                    x["usage"] = u.json();
                }
                c["x_groq"] = x;
            }
            Sse::Usage(u) => {
                c["usage"] = u.json();
                c["service_tier"] = json!("on_demand");
            }
            // Handled by `run`.
            Sse::Done | Sse::ErrorFrame { .. } | Sse::Raw(_) | Sse::Pause(_) | Sse::Gate(_) | Sse::Stall => {}
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting_and_tokens_keep_every_character() {
        assert_eq!(split("abcdefg", 3), vec!["abc", "def", "g"]);
        assert_eq!(split("", 3), vec![""]);
        assert_eq!(split("ab", 5), vec!["a", "b"]);
        assert_eq!(tokens("Hello there,  world"), vec!["Hello", " there,", "  world"]);
        assert_eq!(tokens("Hello there,  world").concat(), "Hello there,  world");
    }
}
