//! The embedding port: texts in, one unit-length vector per text out.
//!
//! Retrieval needs dense vectors for products and queries, and Aisle has three ways to
//! get them (see `engine_vectors::embed`): a static token-lookup model shipped in the repository
//! (the zero-setup default), a full transformer run in process from a model folder, and
//! any OpenAI-compatible `/embeddings` endpoint. They all sit behind this trait so the
//! vector store and the retriever never know which one is in use.

use std::time::Duration;

use async_trait::async_trait;

/// Why texts could not be embedded. `is_retryable` tells a caller (an indexing job)
/// whether trying again later may succeed.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model could not be loaded from {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("embedding computation failed: {0}")]
    Compute(String),
    #[error("embeddings endpoint is rate limiting (HTTP 429){}", retry_after.map(|d| format!(", retry after {} ms", d.as_millis())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    #[error("embeddings endpoint answered HTTP {status}: {body}")]
    Http { status: u16, body: String },
    #[error("embeddings endpoint could not be reached: {0}")]
    Transport(String),
    #[error("embeddings endpoint answered something that is not an embeddings response: {0}")]
    Malformed(String),
}

impl EmbedError {
    /// Rate limits, server errors (5xx), transport failures and malformed answers (a
    /// proxy's truncated body) may pass; a client error or a broken model will not.
    pub fn is_retryable(&self) -> bool {
        match self {
            EmbedError::RateLimited { .. } | EmbedError::Transport(_) | EmbedError::Malformed(_) => true,
            EmbedError::Http { status, .. } => *status >= 500 || *status == 408,
            EmbedError::Load { .. } | EmbedError::Compute(_) => false,
        }
    }
}

#[async_trait]
pub trait Embedder: Send + Sync + 'static {
    /// One vector of `dim()` numbers per text, in the same order, each of unit length
    /// (so a dot product is the cosine). An empty text gives the zero vector.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;

    /// The length of every vector this embedder returns.
    fn dim(&self) -> usize;

    /// A stable name for the model, stored with the vectors so a change of model is
    /// noticed and the catalog re-embedded.
    fn name(&self) -> &str;
}

/// Scales `v` to unit length in place; the zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The dot product, the cosine of two unit vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
