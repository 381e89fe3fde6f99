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
use crate::views::ProductView;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    System { content: String },
    User { content: String },
    Assistant { content: String, tool_calls: Vec<ToolCall> },
    Tool { tool_call_id: String, content: String },
}

/// A tool the model asked for. `arguments` is the JSON object the tool takes. When a
/// remote model sent arguments that are not valid JSON, an adapter passes them on as
/// `Value::String(raw)` rather than failing the stream: `Tool::parse` refuses them,
/// and the pipeline answers the model with that "bad call" error so it can correct
/// itself. Empty or `null` arguments arrive as `{}`.
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
    /// Tokens this model call used, as the provider counted them (a remote model sends
    /// it once, at the end of its stream; the offline assistant never does).
    Usage(TokenUsage),
}

/// Tokens one model call used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
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
    /// Products retrieved for the shopper's message before the first round, for a
    /// remote model's prompt (it may name only these, its search results' and the
    /// cart's). The offline assistant reads the catalog itself and ignores them.
    pub products: Vec<ProductView>,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model unavailable: {0}")]
    Unavailable(String),
    /// The provider refused for rate: `retry_after` when it said how long to wait.
    #[error("model rate limited")]
    RateLimited { retry_after: Option<std::time::Duration> },
    /// The provider answered an HTTP error (401 bad key, 404 unknown model, 5xx, ...).
    #[error("model answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("model answered something we cannot read: {0}")]
    Protocol(String),
    /// The stream ended without saying it was done (no `finish_reason` / `[DONE]`).
    #[error("model stream ended early")]
    Truncated,
    /// No byte within the read timeout, or no connection within the connect timeout.
    #[error("model timed out: {0}")]
    Timeout(String),
    /// The circuit breaker for this key is open: the provider failed repeatedly.
    #[error("model circuit open")]
    CircuitOpen,
    /// The tenant used its plan's tokens for this billing period.
    #[error("model token quota reached")]
    QuotaExceeded,
}

pub type ModelStream = Pin<Box<dyn Stream<Item = Result<ModelChunk, ModelError>> + Send>>;

#[async_trait]
pub trait LanguageModel: Send + Sync + 'static {
    /// A short name for logs and metrics (`offline`, `groq`).
    fn name(&self) -> &'static str;

    /// The model reads the tenant's catalog itself and its tool calls come from Aisle's
    /// own rules (the offline assistant). A model that does not (a remote LLM) gets the
    /// products retrieved for the message in its request, may name only products it was
    /// shown in the turn or that are in the cart, and may check out only when the
    /// shopper's own words ask for it (`engine::turn`).
    fn reads_catalog(&self) -> bool {
        false
    }

    /// Whether this model can answer for a tenant with these settings (a remote model
    /// needs a key: the deployment's or the tenant's own).
    fn serves(&self, _settings: &TenantSettings) -> bool {
        true
    }

    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError>;
}
