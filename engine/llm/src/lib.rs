/*!
The Groq adapter of the language-model port ([`engine_core::ports::llm::LanguageModel`]):
[`GroqModel`] sends a turn's messages, a system prompt it builds from the shop's
settings, the cart and the retrieved products, and the shop's tools to Groq's
OpenAI-compatible `POST {base}/chat/completions` with `stream: true`, and turns the
server-sent events into [`ModelChunk`](engine_core::ports::llm::ModelChunk)s as they
arrive.

Why a thin client of our own (reqwest + eventsource-stream + serde_json) rather than an
SDK: async-openai fails on Groq's final usage chunk (`"service_tier":"on_demand"`) and
drops `retry-after`; groq-api-rs buffers the whole stream and has no tool-call deltas;
rig-core needs a newer rustc; reqwest-eventsource re-sends the POST when it reconnects.
What the turn needs is small and exact, so it is written here and tested end to end
against a fake that speaks Groq's wire format:

- text deltas forwarded as they arrive (never buffered), `delta.reasoning` never;
- tool calls accumulated by `(index, id)`, whole or in fragments, several in parallel,
  emitted when the choice finishes; arguments that are not JSON are passed on as a
  string for the pipeline to refuse back to the model ([`stream`]);
- usage from `usage` or `x_groq.usage` of any chunk, once at the end;
- a stream that stops without `finish_reason` / `[DONE]` is `Truncated`, an
  `event: error` frame is an error, no event within the idle read timeout is `Timeout`
  (there is no total timeout: a long answer streamed steadily is fine);
- 429, 5xx and connection failures retried only before the stream is handed out
  (nothing reached a shopper yet), honouring `retry-after`;
- a circuit breaker per key ([`breaker`]), keyed by a fingerprint, never the key.

Dropping the returned stream drops the response, which closes the connection: an
abandoned turn stops costing tokens.

With the `fake` feature, [`fake`] is a scripted local Groq for tests and benchmarks.
*/

pub mod breaker;
mod client;
mod config;
pub mod prompt;
pub mod stream;
pub mod tools;
mod wire;

#[cfg(feature = "fake")]
pub mod fake;

pub use breaker::{BreakerState, BreakerStatus, Clock, ManualClock, SystemClock};
pub use client::GroqModel;
pub use config::GroqConfig;
pub use wire::{parse_reset_duration, retry_after_from_headers};
