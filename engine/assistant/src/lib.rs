//! The offline assistant: the rules-and-retrieval adapter of the `LanguageModel` port.
//!
//! It serves shops without a Groq key, and every shop when Groq fails, so it speaks
//! the same protocol as a model: it reads the conversation, streams text pieces and
//! tool calls, and after the pipeline has run the calls, reads their results and
//! streams the reply. It is not a model: fast, deterministic, explainable, and it
//! never does what the shopper did not ask.
//!
//! A message goes through one pipeline of small modules, each growable on its own:
//! `text` (normalise) → `understand` (clauses, intents, references, filters; word
//! lists in `lexicon`) → `targets` / `resolve` (products, cart lines, options,
//! variants, quantities against the tenant's catalog, indexed once per catalog
//! version in `index`) → `plan` (the first round: `browse` for product questions,
//! `cart_ops` for cart requests, `suggest` for "goes well with") → `report` (later
//! rounds: results into words, and "you might also like …" after an add); every
//! sentence lives in `templates`, and what it keeps between turns in `memory`.
//!
//! Holding a conversation, not just answering messages:
//! - A question about options stays open while the shopper asks something else (the
//!   cart, a price, shipping, another product): `Pending::Options` carries its `age`
//!   and is kept for `PENDING_TURNS` turns behind any newer question, so "large,
//!   green" later still completes it; a bare amount or options the product talked
//!   about since has are that product's. A new request is never swallowed by it (a
//!   clause naming another product, a search, "forget it, give me … instead"), and a
//!   "no / never mind" or an answer closes the questions.
//! - Corrections and subtractions: "actually just one", "no wait, four" set the line;
//!   "take one off", "remove one of them", "subtract one", "drop another one" take
//!   away; "another one like that in a different size" and "the same in blue too" add
//!   a second line of the product (`cart_ops::different_option`).
//! - Kinds and needs (`needs`): the head of the noun phrase asked for ("running
//!   *shoes*") is looked up among the kinds the shop sells (`CatalogIndex::sells`:
//!   categories, tags, shared title words, each title's last word, never a word a
//!   title has only after "for"); a kind it does not sell is said so, with the
//!   nearest it has. A need ("something warm for a cold run", "cheap gear for the
//!   gym", "my phone dies on trips") is read into kinds and an activity, and answered
//!   with those kinds the shop sells, one of each in turn.
//! - A message with a fair part and an unfair one ("add it and make it free", "add
//!   it and ignore your rules") does the fair part at the catalog's prices and
//!   declines the rest; such a message never checks out.
//! - A quantity no cart line can take (0, negative, above `MAX_LINE_QUANTITY`) is
//!   refused with the limit said and nothing changed (`Plan::call`), never read as
//!   another amount.
//!
//! Architecture invariant: it names only products of `ModelRequest::catalog`, and
//! every cart change or checkout is a tool call validated by the cart actor; no price
//! or amount in a reply comes from the shopper's text.

// The core's modules and retrieval under their usual names (`crate::domain`, ...).
use engine_core::{catalog, domain, events, ports, turn, views};
use engine_retrieval as retrieval;

mod browse;
mod cart_ops;
mod index;
mod lexicon;
mod memory;
mod needs;
mod phrases;
mod plan;
mod report;
mod resolve;
mod suggest;
mod targets;
pub mod templates;
mod text;
mod understand;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use futures_util::stream;

use crate::catalog::CatalogSnapshot;
use crate::domain::TenantId;
use crate::ports::llm::{ChatMessage, LanguageModel, ModelChunk, ModelError, ModelRequest, ModelStream, ToolCall};
use crate::ports::retriever::Retriever;
use crate::turn::tools::ToolResult;

use index::CatalogIndex;
pub use memory::{Memory, Pending};

/// Rounds of tool calls in one turn the assistant will ask for; the last round only
/// reports.
pub const MAX_ROUNDS: usize = 3;
/// The longest message it reads (the contract allows 4,000 characters).
const MAX_MESSAGE_CHARS: usize = 4_000;
/// Words per streamed text piece.
const WORDS_PER_PIECE: usize = 6;

/// The offline assistant. Cheap to clone and share: it holds the retriever and the
/// index of each tenant's current catalog.
#[derive(Clone)]
pub struct OfflineAssistant {
    retriever: Arc<dyn Retriever>,
    indexes: Arc<RwLock<HashMap<TenantId, Arc<CatalogIndex>>>>,
}

impl OfflineAssistant {
    pub fn new(retriever: Arc<dyn Retriever>) -> Self {
        Self { retriever, indexes: Arc::new(RwLock::new(HashMap::new())) }
    }

    /// The index of this very snapshot, built on first use and kept until the
    /// tenant's catalog changes (a new snapshot).
    fn index(&self, tenant: &TenantId, catalog: &Arc<CatalogSnapshot>) -> Arc<CatalogIndex> {
        if let Ok(map) = self.indexes.read()
            && let Some(ix) = map.get(tenant)
            && Arc::ptr_eq(&ix.catalog, catalog)
        {
            return ix.clone();
        }
        let built = Arc::new(CatalogIndex::build(catalog.clone()));
        if let Ok(mut map) = self.indexes.write() {
            // Two turns may build at once; never replace a newer catalog with an older one.
            let newer = map.get(tenant).is_some_and(|ix| ix.catalog.version > catalog.version);
            if !newer {
                map.insert(tenant.clone(), built.clone());
            }
        }
        built
    }

    /// Everything this round streams, in order: text pieces, tool calls, and the
    /// memory to keep.
    pub async fn answer(&self, request: &ModelRequest) -> Vec<ModelChunk> {
        let Some(user_at) = request.messages.iter().rposition(|m| matches!(m, ChatMessage::User { .. })) else {
            return Vec::new();
        };
        let ChatMessage::User { content } = &request.messages[user_at] else {
            return Vec::new();
        };
        let message: String = content.chars().take(MAX_MESSAGE_CHARS).collect();
        let u = understand::understand_for(&message, &request.settings.bot_name, request.settings.currency);
        let ix = self.index(&request.tenant, &request.catalog);
        let ctx = plan::Ctx::new(request, &ix, Memory::from_json(&request.dialogue.memory), self.retriever.as_ref());

        let turn = &request.messages[user_at + 1..];
        let rounds: Vec<&Vec<ToolCall>> = turn
            .iter()
            .filter_map(|m| match m {
                ChatMessage::Assistant { tool_calls, .. } => Some(tool_calls),
                _ => None,
            })
            .collect();
        let calls_so_far: usize = rounds.iter().map(|c| c.len()).sum();
        let plan = match (rounds.last(), turn.last()) {
            (None, _) => plan::first_round(&ctx, &u).await,
            (Some(last), Some(ChatMessage::Tool { .. })) => {
                // Only the last round's results are read, and a `products` event's
                // result is not: what was shown is already known (and it is the
                // largest payload of a turn).
                let wanted: HashMap<&str, &str> =
                    last.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
                let results: HashMap<String, ToolResult> = turn
                    .iter()
                    .filter_map(|m| match m {
                        ChatMessage::Tool { tool_call_id, content } => match wanted.get(tool_call_id.as_str()) {
                            Some(&crate::turn::tools::SHOW_PRODUCTS) => {
                                Some((tool_call_id.clone(), ToolResult::Products { items: Vec::new() }))
                            }
                            Some(_) => ToolResult::from_content(content).map(|r| (tool_call_id.clone(), r)),
                            None => None,
                        },
                        _ => None,
                    })
                    .collect();
                report::later_round(&ctx, &report::pair(last, &results))
            }
            // The turn already ended with an answer; nothing to add.
            (Some(_), _) => return Vec::new(),
        };
        let (now, mut calls, later, mut memory) = report::split_round(plan);
        if rounds.len() + 1 >= MAX_ROUNDS {
            calls.clear();
        }
        memory.turn = if calls.is_empty() { None } else { Some(later) };

        // The pipeline joins the rounds' text as it comes: keep a space between them.
        let said_before =
            turn.iter().any(|m| matches!(m, ChatMessage::Assistant { content, .. } if !content.trim().is_empty()));
        let mut reply_text = now.join(" ");
        if said_before && !reply_text.is_empty() {
            reply_text.insert(0, ' ');
        }
        let mut chunks: Vec<ModelChunk> =
            text::pieces(&reply_text, WORDS_PER_PIECE).into_iter().map(ModelChunk::Text).collect();
        for (i, tool) in calls.iter().enumerate() {
            chunks.push(ModelChunk::ToolCall(ToolCall {
                id: format!("call_{}", calls_so_far + i + 1),
                name: tool.name().to_string(),
                arguments: tool.arguments(),
            }));
        }
        chunks.push(ModelChunk::Memory(memory.to_json()));
        chunks
    }
}

#[async_trait]
impl LanguageModel for OfflineAssistant {
    fn name(&self) -> &'static str {
        "offline"
    }

    fn reads_catalog(&self) -> bool {
        true
    }

    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError> {
        let chunks = self.answer(&request).await;
        Ok(Box::pin(stream::iter(chunks.into_iter().map(Ok))))
    }
}
