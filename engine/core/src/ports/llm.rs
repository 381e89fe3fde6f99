//! The language-model port: messages and tools in, a stream of text pieces and tool
//! calls out. Groq's chat completions fit it as they are; the offline assistant is
//! written to the same shape so the turn pipeline has a single path for both.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::Stream;
use serde::{Deserialize, Serialize};

use crate::catalog::CatalogSnapshot;
use crate::domain::{Cart, TenantId};
use crate::ports::store::TenantSettings;
use crate::turn::DialogueState;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    System { content: String },
    User { content: String },
    Assistant { content: String, tool_calls: Vec<ToolCall> },
    Tool { tool_call_id: String, content: String },
}

/// A tool the model asked for. `arguments` is the JSON object the tool takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: serde_json::Value,
}

/// One piece of a model's streamed answer.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelChunk {
    /// The next piece of reply text, to be streamed to the shopper as it comes.
    Text(String),
    ToolCall(ToolCall),
    /// Adapter-private memory to keep for the next turn (see `DialogueState::memory`).
    /// A remote model never sends it; the offline assistant uses it for a pending
    /// question ("which size?").
    Memory(serde_json::Value),
}

/// What the model is asked to answer.
#[derive(Clone)]
pub struct ModelRequest {
    pub tenant: TenantId,
    pub settings: TenantSettings,
    /// The conversation so far, ending with the shopper's message or with tool results.
    pub messages: Vec<ChatMessage>,
    pub cart: Cart,
    /// The tenant's catalog, for adapters that read it directly (the offline assistant);
    /// a remote model sees products only through retrieval and tool results.
    pub catalog: Arc<CatalogSnapshot>,
    pub dialogue: DialogueState,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model unavailable: {0}")]
    Unavailable(String),
    #[error("model rate limited")]
    RateLimited,
    #[error("model answered something we cannot read: {0}")]
    Protocol(String),
}

pub type ModelStream = Pin<Box<dyn Stream<Item = Result<ModelChunk, ModelError>> + Send>>;

#[async_trait]
pub trait LanguageModel: Send + Sync + 'static {
    /// A short name for logs and metrics (`offline`, `groq`).
    fn name(&self) -> &'static str;
    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError>;
}
