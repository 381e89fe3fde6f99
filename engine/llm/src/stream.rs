//! Groq's server-sent events into [`ModelChunk`]s.
//!
//! [`Decoder`] is the pure part: one SSE event in, the chunks it completes out.
//! - Every non-empty `delta.content` is a `Text` chunk at once: nothing is buffered, so
//!   the shopper sees tokens as Groq makes them. `delta.reasoning` (gpt-oss) is never
//!   read.
//! - Tool calls are accumulated by `(index, id)`: a call may come whole in one delta or
//!   as a name and argument pieces over many, several in parallel (distinct indexes),
//!   and a provider that reuses an index for a new call gives it a new id. They are
//!   emitted when the choice finishes (`finish_reason`) or at `[DONE]`. Arguments
//!   `""`, `"null"` or absent become `{}`; arguments that are not valid JSON are
//!   emitted as `Value::String(raw)`, which `Tool::parse` refuses, so the pipeline
//!   answers the model with a "bad call" error it can correct (the port documents it).
//! - `usage` or `x_groq.usage` of any chunk: the last one seen is sent once, as the
//!   stream's last chunk.
//! - The end: `[DONE]`, or the body ending after a `finish_reason`. A body that ends
//!   with neither is `Truncated` (eventsource-stream drops a last event that has no
//!   blank line after it, so a cut stream never looks finished). An `event: error`
//!   frame, or a data line that is an `{"error": ...}` object, ends the stream with
//!   `Status` (when it names a status) or `Protocol`, with its message.
//!
//! [`model_stream`] runs a decoder over a response body with the idle read timeout,
//! and records the call's outcome in its key's circuit breaker.

use std::collections::VecDeque;
use std::time::Duration;

use engine_core::ports::llm::{ModelChunk, ModelError, ModelStream, TokenUsage, ToolCall};
use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::StreamExt;
use serde_json::Value;

use crate::breaker::{Outcome, Permit};
use crate::wire::{Chunk, ErrorBody, ErrorDetail, cut};

#[derive(Debug, Default)]
struct PendingCall {
    index: u32,
    id: String,
    name: String,
    arguments: String,
}

/// What one event did.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// These chunks, and more to come.
    More(Vec<ModelChunk>),
    /// These chunks, and the stream is complete (`[DONE]`).
    Done(Vec<ModelChunk>),
}

/// The state of one streamed chat completion.
#[derive(Debug, Default)]
pub struct Decoder {
    calls: Vec<PendingCall>,
    usage: Option<TokenUsage>,
    finished: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// One SSE event: its `event:` name (`message` when absent) and its data.
    pub fn on_event(&mut self, event: &str, data: &str) -> Result<Step, ModelError> {
        if event == "error" {
            return Err(error_frame(data));
        }
        let data = data.trim();
        if data == "[DONE]" {
            let mut out = self.flush_calls();
            out.extend(self.usage.take().map(ModelChunk::Usage));
            self.finished = true;
            return Ok(Step::Done(out));
        }
        if data.is_empty() {
            return Ok(Step::More(Vec::new()));
        }
        let chunk: Chunk = serde_json::from_str(data)
            .map_err(|e| ModelError::Protocol(format!("a stream chunk is not a completion chunk ({e}): {}", cut(data))))?;
        if let Some(err) = chunk.error {
            return Err(detail_error(&err));
        }
        let mut out = Vec::new();
        for choice in chunk.choices {
            if choice.index != 0 {
                continue; // we ask for one choice
            }
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                out.push(ModelChunk::Text(text));
            }
            for d in choice.delta.tool_calls {
                let (name, args) = d.function.map(|f| (f.name, f.arguments)).unwrap_or_default();
                let id = d.id.filter(|s| !s.is_empty());
                // The call this piece continues: the latest one at this index, unless the
                // piece names another id (a new call reusing the index).
                let pos = self.calls.iter().rposition(|c| c.index == d.index);
                let pos = match (pos, &id) {
                    (Some(p), Some(id)) if !self.calls[p].id.is_empty() && &self.calls[p].id != id => None,
                    (p, _) => p,
                };
                let call = match pos {
                    Some(p) => &mut self.calls[p],
                    None => {
                        self.calls.push(PendingCall { index: d.index, ..PendingCall::default() });
                        self.calls.last_mut().expect("just pushed")
                    }
                };
                if let Some(id) = id {
                    call.id = id;
                }
                if let Some(n) = name {
                    call.name.push_str(&n);
                }
                if let Some(a) = args {
                    call.arguments.push_str(&a);
                }
            }
            if choice.finish_reason.is_some() {
                self.finished = true;
                out.extend(self.flush_calls());
            }
        }
        if let Some(u) = chunk.x_groq.and_then(|x| x.usage).or(chunk.usage) {
            self.usage = Some(TokenUsage { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens });
        }
        Ok(Step::More(out))
    }

    /// The body ended.
    pub fn on_end(&mut self) -> Result<Vec<ModelChunk>, ModelError> {
        if !self.finished {
            return Err(ModelError::Truncated);
        }
        let mut out = self.flush_calls();
        out.extend(self.usage.take().map(ModelChunk::Usage));
        Ok(out)
    }

    fn flush_calls(&mut self) -> Vec<ModelChunk> {
        self.calls
            .drain(..)
            .enumerate()
            .map(|(n, c)| {
                let raw = c.arguments.trim();
                let arguments = match raw {
                    "" | "null" => Value::Object(Default::default()),
                    _ => match serde_json::from_str::<Value>(raw) {
                        Ok(Value::Null) => Value::Object(Default::default()),
                        Ok(v) => v,
                        Err(_) => Value::String(c.arguments.clone()),
                    },
                };
                let id = if c.id.is_empty() { format!("call_{}_{n}", c.index) } else { c.id };
                ModelChunk::ToolCall(ToolCall { id, name: c.name, arguments })
            })
            .collect()
    }
}

fn detail_error(e: &ErrorDetail) -> ModelError {
    match e.status() {
        Some(status) => ModelError::Status { status, message: cut(&e.describe()) },
        None => ModelError::Protocol(format!("error in the stream: {}", cut(&e.describe()))),
    }
}

fn error_frame(data: &str) -> ModelError {
    if let Ok(b) = serde_json::from_str::<ErrorBody>(data) {
        return detail_error(&b.error);
    }
    if let Ok(d) = serde_json::from_str::<ErrorDetail>(data)
        && d.message.is_some()
    {
        return detail_error(&d);
    }
    ModelError::Protocol(format!("error in the stream: {}", cut(data.trim())))
}

/// Whether an error ending a stream says the provider failed (for the breaker).
fn outcome_of(e: &ModelError) -> Outcome {
    match e {
        ModelError::Status { status, .. } if *status < 500 && *status != 429 => Outcome::Neutral,
        _ => Outcome::Failure,
    }
}

struct State {
    events: std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<eventsource_stream::Event, EventStreamError<reqwest::Error>>> + Send>>,
    decoder: Decoder,
    pending: VecDeque<Result<ModelChunk, ModelError>>,
    ended: bool,
    read_timeout: Duration,
    permit: Option<Permit>,
    key_id: String,
}

impl State {
    fn end(&mut self, result: Result<Vec<ModelChunk>, ModelError>) {
        self.ended = true;
        let outcome = match &result {
            Ok(_) => Outcome::Success,
            Err(e) => {
                tracing::warn!(key_id = %self.key_id, error = %e, "groq stream failed");
                outcome_of(e)
            }
        };
        if let Some(p) = self.permit.take() {
            p.record(outcome);
        }
        match result {
            Ok(chunks) => self.pending.extend(chunks.into_iter().map(Ok)),
            Err(e) => self.pending.push_back(Err(e)),
        }
    }
}

/// The chunks of a 200 response. Dropping the stream drops the response and with it
/// the connection.
pub(crate) fn model_stream(response: reqwest::Response, read_timeout: Duration, permit: Permit, key_id: String) -> ModelStream {
    let state = State {
        events: Box::pin(response.bytes_stream().eventsource()),
        decoder: Decoder::new(),
        pending: VecDeque::new(),
        ended: false,
        read_timeout,
        permit: Some(permit),
        key_id,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(item) = st.pending.pop_front() {
                return Some((item, st));
            }
            if st.ended {
                return None;
            }
            match tokio::time::timeout(st.read_timeout, st.events.next()).await {
                Err(_) => {
                    let e = ModelError::Timeout(format!("no event from the model in {} ms", st.read_timeout.as_millis()));
                    st.end(Err(e));
                }
                Ok(None) => {
                    let r = st.decoder.on_end();
                    st.end(r);
                }
                Ok(Some(Err(e))) => {
                    let e = match e {
                        EventStreamError::Transport(t) if t.is_timeout() => ModelError::Timeout(format!("reading the stream: {t}")),
                        EventStreamError::Transport(t) => {
                            tracing::warn!(key_id = %st.key_id, error = %t, "groq stream broken");
                            ModelError::Truncated
                        }
                        other => ModelError::Protocol(format!("unreadable event stream: {other}")),
                    };
                    st.end(Err(e));
                }
                Ok(Some(Ok(event))) => match st.decoder.on_event(&event.event, &event.data) {
                    Ok(Step::More(chunks)) => st.pending.extend(chunks.into_iter().map(Ok)),
                    Ok(Step::Done(chunks)) => st.end(Ok(chunks)),
                    Err(e) => st.end(Err(e)),
                },
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn more(d: &mut Decoder, data: Value) -> Vec<ModelChunk> {
        match d.on_event("message", &data.to_string()).unwrap() {
            Step::More(c) => c,
            Step::Done(_) => panic!("done early"),
        }
    }

    fn call_delta(index: u32, id: Option<&str>, name: Option<&str>, args: Option<&str>) -> Value {
        let mut f = serde_json::Map::new();
        if let Some(n) = name {
            f.insert("name".into(), json!(n));
        }
        if let Some(a) = args {
            f.insert("arguments".into(), json!(a));
        }
        let mut c = json!({"index": index, "type": "function", "function": f});
        if let Some(id) = id {
            c["id"] = json!(id);
        }
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [c]}, "finish_reason": null}]})
    }

    #[test]
    fn a_reused_index_with_a_new_id_is_a_new_call() {
        let mut d = Decoder::new();
        more(&mut d, call_delta(0, Some("a"), Some("view_cart"), Some("{}")));
        more(&mut d, call_delta(0, Some("b"), Some("checkout"), None));
        more(&mut d, call_delta(0, None, None, Some("null")));
        let out = more(&mut d, json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}));
        assert_eq!(
            out,
            vec![
                ModelChunk::ToolCall(ToolCall { id: "a".into(), name: "view_cart".into(), arguments: json!({}) }),
                ModelChunk::ToolCall(ToolCall { id: "b".into(), name: "checkout".into(), arguments: json!({}) }),
            ]
        );
        assert_eq!(d.on_end().unwrap(), vec![]);
    }

    #[test]
    fn error_frames_name_their_status_when_they_have_one() {
        let mut d = Decoder::new();
        let e = d.on_event("error", r#"{"error":{"message":"overloaded","type":"internal_server_error","status_code":503}}"#).unwrap_err();
        assert!(matches!(e, ModelError::Status { status: 503, ref message } if message.contains("overloaded")), "{e:?}");
        let e = d.on_event("error", "something broke").unwrap_err();
        assert!(matches!(e, ModelError::Protocol(ref m) if m.contains("something broke")), "{e:?}");
        let e = d.on_event("message", "not json").unwrap_err();
        assert!(matches!(e, ModelError::Protocol(_)), "{e:?}");
        let e = d.on_event("message", r#"{"error":{"message":"bad things"}}"#).unwrap_err();
        assert!(matches!(e, ModelError::Protocol(ref m) if m.contains("bad things")), "{e:?}");
    }

    #[test]
    fn a_finished_choice_without_done_is_complete_and_nothing_is_not() {
        let mut d = Decoder::new();
        assert_eq!(more(&mut d, json!({"choices": [{"index": 0, "delta": {"content": "Hi"}}]})), vec![ModelChunk::Text("Hi".into())]);
        assert!(matches!(d.on_end(), Err(ModelError::Truncated)));
        let mut d = Decoder::new();
        more(&mut d, json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "x_groq": {"usage": {"prompt_tokens": 3, "completion_tokens": 1}}}));
        assert_eq!(d.on_end().unwrap(), vec![ModelChunk::Usage(TokenUsage { prompt_tokens: 3, completion_tokens: 1 })]);
    }
}
