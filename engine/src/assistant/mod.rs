//! The offline assistant: the rules-and-retrieval adapter of the `LanguageModel` port.
//!
//! It serves shops without a Groq key, and every shop when Groq fails, so it speaks
//! the same protocol as a model: it reads the conversation, streams text pieces and
//! tool calls, and after the pipeline has run the calls, reads their results and
//! streams the reply. It is not a model: fast, deterministic, explainable, and it
//! never does what the shopper did not ask.
//!
//! A message goes through one pipeline of small modules, each growable on its own:
//! `text` (normalise) → `understand` (clauses, intents, references) → `resolve`
//! (products, options, variants, quantities against the tenant's catalog) → `plan`
//! (the first round's tool calls) → `report` (later rounds: results into words);
//! every sentence lives in `templates`, and what it keeps between turns in `memory`.
//!
//! Architecture invariant: it names only products of `ModelRequest::catalog`, and
//! every cart change or checkout is a tool call validated by the cart actor; no price
//! or amount in a reply comes from the shopper's text.

mod memory;
mod plan;
mod report;
mod resolve;
pub mod templates;
mod text;
mod understand;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::stream;

use crate::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelError, ModelRequest, ModelStream, ToolCall};
use crate::ports::retriever::Retriever;
use crate::turn::tools::{Tool, ToolResult};

pub use memory::{Memory, PendingAdd};

/// Rounds of tool calls in one turn the assistant will ask for; the last round only
/// reports.
pub const MAX_ROUNDS: usize = 3;
/// The longest message it reads (the contract allows 4,000 characters).
const MAX_MESSAGE_CHARS: usize = 4_000;
/// Words per streamed text piece.
const WORDS_PER_PIECE: usize = 6;

/// The offline assistant. Cheap to clone and share: it holds only the retriever.
#[derive(Clone)]
pub struct OfflineAssistant {
    retriever: Arc<dyn Retriever>,
}

impl OfflineAssistant {
    pub fn new(retriever: Arc<dyn Retriever>) -> Self {
        Self { retriever }
    }

    /// Everything this round streams, in order: text pieces, tool calls, and (in the
    /// turn's last round) the memory to keep.
    pub async fn answer(&self, request: &ModelRequest) -> Vec<ModelChunk> {
        let Some(user_at) = request.messages.iter().rposition(|m| matches!(m, ChatMessage::User { .. })) else {
            return Vec::new();
        };
        let ChatMessage::User { content } = &request.messages[user_at] else {
            return Vec::new();
        };
        let message: String = content.chars().take(MAX_MESSAGE_CHARS).collect();
        let u = understand::understand(&message);
        let ctx = plan::Ctx {
            req: request,
            index: resolve::Index::new(&request.catalog),
            memory: Memory::from_json(&request.dialogue.memory),
            retriever: self.retriever.as_ref(),
        };

        let turn = &request.messages[user_at + 1..];
        let rounds: Vec<&Vec<ToolCall>> = turn
            .iter()
            .filter_map(|m| match m {
                ChatMessage::Assistant { tool_calls, .. } => Some(tool_calls),
                _ => None,
            })
            .collect();
        let calls_so_far: usize = rounds.iter().map(|c| c.len()).sum();
        let mut reply = match (rounds.split_last(), turn.last()) {
            (None, _) => plan::first_round(&ctx, &u).await,
            (Some((last, before)), Some(ChatMessage::Tool { .. })) => {
                let results: HashMap<String, ToolResult> = turn
                    .iter()
                    .filter_map(|m| match m {
                        ChatMessage::Tool { tool_call_id, content } => {
                            ToolResult::from_content(content).map(|r| (tool_call_id.clone(), r))
                        }
                        _ => None,
                    })
                    .collect();
                let done = report::pair(last, &results);
                let earlier: Vec<Tool> = before
                    .iter()
                    .flat_map(|c| c.iter())
                    .filter_map(|c| Tool::parse(&c.name, &c.arguments).ok())
                    .collect();
                report::later_round(&ctx, &u, rounds.len(), &done, &earlier)
            }
            // The turn already ended with an answer; nothing to add.
            (Some(_), _) => return Vec::new(),
        };
        if rounds.len() + 1 >= MAX_ROUNDS {
            reply.calls.clear();
        }

        // The pipeline joins the rounds' text as it comes: keep a space between them.
        let said_before =
            turn.iter().any(|m| matches!(m, ChatMessage::Assistant { content, .. } if !content.trim().is_empty()));
        let mut reply_text = reply.text();
        if said_before && !reply_text.is_empty() {
            reply_text.insert(0, ' ');
        }
        let mut chunks: Vec<ModelChunk> =
            text::pieces(&reply_text, WORDS_PER_PIECE).into_iter().map(ModelChunk::Text).collect();
        let last_round = reply.calls.is_empty();
        for (i, tool) in reply.calls.iter().enumerate() {
            chunks.push(ModelChunk::ToolCall(ToolCall {
                id: format!("call_{}", calls_so_far + i + 1),
                name: tool.name().to_string(),
                arguments: tool.arguments(),
            }));
        }
        if last_round {
            chunks.push(ModelChunk::Memory(reply.memory.to_json()));
        }
        chunks
    }
}

#[async_trait]
impl LanguageModel for OfflineAssistant {
    fn name(&self) -> &'static str {
        "offline"
    }

    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError> {
        let chunks = self.answer(&request).await;
        Ok(Box::pin(stream::iter(chunks.into_iter().map(Ok))))
    }
}
