//! Adapters of the `Embedder` port (`crate::ports::embedder`): the ways Aisle turns
//! product and query text into dense vectors.
//!
//! - `transformer`: all-MiniLM-L6-v2 run in process with candle, from a model folder.
//! - `static_model`: the zero-setup default, a token-lookup model distilled from that
//!   transformer and shipped in the repository (`engine/data/static-embedder/`).
//! - `openai`: any OpenAI-compatible `/embeddings` endpoint over HTTP.

pub mod openai;
pub mod static_model;
#[cfg(feature = "transformer")]
pub mod transformer;

pub use openai::{OpenAiConfig, OpenAiEmbedder};
pub use static_model::StaticEmbedder;
#[cfg(feature = "transformer")]
pub use transformer::{TransformerEmbedder, locate_model_dir};

/// The folder of the transformer's weights, when the environment names one.
pub const MODEL_DIR_ENV: &str = "AISLE_EMBED_MODEL_DIR";

use std::path::PathBuf;
use std::sync::Arc;

use crate::ports::embedder::{EmbedError, Embedder};

/// The embedder the environment asks for:
/// - `AISLE_EMBED_URL` (+ `AISLE_EMBED_API_KEY`, `AISLE_EMBED_MODEL`, default
///   `text-embedding-3-small`): an OpenAI-compatible endpoint;
/// - else `AISLE_EMBED_MODEL_DIR`: the transformer from that folder;
/// - else the static model shipped in the repository (no set-up).
pub async fn from_env() -> Result<Arc<dyn Embedder>, EmbedError> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(url) = var("AISLE_EMBED_URL") {
        let model = var("AISLE_EMBED_MODEL").unwrap_or_else(|| "text-embedding-3-small".into());
        let mut config = OpenAiConfig::new(url, var("AISLE_EMBED_API_KEY"), model);
        if let Some(ca) = var("AISLE_EXTRA_CA_FILE") {
            config = config.with_extra_ca_file(std::path::Path::new(&ca))?;
        }
        return Ok(Arc::new(OpenAiEmbedder::connect(config).await?));
    }
    if let Some(dir) = var(MODEL_DIR_ENV) {
        let dir = PathBuf::from(dir);
        #[cfg(feature = "transformer")]
        return Ok(Arc::new(tokio::task::spawn_blocking(move || TransformerEmbedder::load(&dir)).await.map_err(
            |e| EmbedError::Compute(format!("loading task failed: {e}")),
        )??));
        #[cfg(not(feature = "transformer"))]
        return Err(EmbedError::Load {
            path: dir.display().to_string(),
            reason: "this build has no transformer embedder (the `transformer` feature of engine-vectors is off)".into(),
        });
    }
    Ok(Arc::new(StaticEmbedder::bundled()?))
}
