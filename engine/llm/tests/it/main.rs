//! The Groq client end to end against the fake Groq (one test binary for the crate).

mod breaker;
mod errors;
mod openai_client;
mod streaming;
mod support;
mod tool_calls;
