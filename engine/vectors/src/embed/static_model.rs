//! The zero-setup default embedder: a static (token-lookup) model shipped in the
//! repository, so a fresh `cargo run` finds "hoodies" for "sweatshirt" with no
//! network, no model download and no set-up.
//!
//! A text is split into WordPiece tokens with all-MiniLM-L6-v2's own tokenizer; each
//! token has one fixed vector; the text's vector is their sum, L2-normalised. A word
//! the tokenizer splits into several pieces ("night ##stand") may have a vector of its
//! own, the transformer's embedding of the whole word, used instead of its pieces'
//! sum (model2vec's vocabulary extension). The vectors were distilled from the
//! transformer in the model2vec way (every vocabulary token and extra word embedded by
//! the transformer, PCA, Zipf/SIF weighting folded into the vector norms) by
//! `engine/examples/distill_static.rs`; `engine/data/static-embedder/README.md` gives
//! the provenance, the licence and the command that rebuilds the file.
//!
//! File format (`model.bin`, little-endian): the magic `AISLSTE2`, `u32` vocabulary
//! size, `u32` dimension, `u32` extra words, one `f32` scale per row (tokens, then
//! words), then `rows × dim` `i8` values (a value is `scale * q / 127`), then each
//! extra word as a `u16` length and its UTF-8 bytes. (`AISLSTE1` files have no extra
//! words and no word count.)

use std::sync::Arc;

use async_trait::async_trait;
use tokenizers::Tokenizer;

use crate::ports::embedder::{EmbedError, Embedder, normalize};

const MAGIC_V1: &[u8; 8] = b"AISLSTE1";
const MAGIC: &[u8; 8] = b"AISLSTE2";
/// Tokens beyond this many are ignored (a product text is far shorter).
const MAX_TOKENS: usize = 512;

/// The model shipped in the repository.
static BUNDLED_MODEL: &[u8] = include_bytes!("../../../data/static-embedder/model.bin");
static BUNDLED_TOKENIZER: &[u8] = include_bytes!("../../../data/static-embedder/tokenizer.json");

/// Token vectors, then extra whole-word vectors, quantised to `i8` with one scale per
/// row.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticModel {
    pub dim: usize,
    pub scales: Vec<f32>,
    pub values: Vec<i8>,
    /// The extra words, in row order after the tokens (row `vocab_size() + i`).
    pub words: Vec<String>,
}

impl StaticModel {
    /// Quantises `rows` (one vector per token id, then one per extra word; all of the
    /// same length).
    pub fn quantize_with_words(rows: &[Vec<f32>], words: Vec<String>) -> Self {
        let mut model = Self::quantize(rows);
        model.words = words;
        model
    }

    /// Quantises `rows` (one vector per token id, all of the same length).
    pub fn quantize(rows: &[Vec<f32>]) -> Self {
        let dim = rows.first().map_or(0, Vec::len);
        let mut scales = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len() * dim);
        for row in rows {
            let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            scales.push(max);
            for &x in row {
                let q = if max > 0.0 { (x / max * 127.0).round() } else { 0.0 };
                values.push(q.clamp(-127.0, 127.0) as i8);
            }
        }
        Self { dim, scales, values, words: Vec::new() }
    }

    /// Token rows (the tokenizer's vocabulary), without the extra words.
    pub fn vocab_size(&self) -> usize {
        self.scales.len() - self.words.len()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.scales.len() * 4 + self.values.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(self.vocab_size() as u32).to_le_bytes());
        out.extend_from_slice(&(self.dim as u32).to_le_bytes());
        out.extend_from_slice(&(self.words.len() as u32).to_le_bytes());
        for s in &self.scales {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.extend(self.values.iter().map(|&v| v as u8));
        for w in &self.words {
            let b = &w.as_bytes()[..w.len().min(u16::MAX as usize)];
            out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            out.extend_from_slice(b);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let v2 = bytes.len() >= 20 && &bytes[..8] == MAGIC;
        if !v2 && (bytes.len() < 16 || &bytes[..8] != MAGIC_V1) {
            return Err("not a static embedding model (bad magic); rebuild it with the distill_static example".into());
        }
        let word = |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let (vocab, dim) = (word(8), word(12));
        let (extra, head) = if v2 { (word(16), 20) } else { (0, 16) };
        let rows = vocab + extra;
        let body = head + rows * 4 + rows * dim;
        if vocab == 0 || dim == 0 || bytes.len() < body || (!v2 && bytes.len() != body) {
            return Err(format!("truncated model: {} bytes for {rows} rows × {dim} dims (expected {body})", bytes.len()));
        }
        let scales = bytes[head..head + rows * 4]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let values = bytes[head + rows * 4..body].iter().map(|&b| b as i8).collect();
        let mut words = Vec::with_capacity(extra);
        let mut at = body;
        for _ in 0..extra {
            let len = bytes.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize).ok_or("truncated model: word list")?;
            let w = bytes.get(at + 2..at + 2 + len).ok_or("truncated model: word list")?;
            words.push(String::from_utf8(w.to_vec()).map_err(|e| format!("model word list: {e}"))?);
            at += 2 + len;
        }
        if at != bytes.len() {
            return Err(format!("model has {} bytes after its word list", bytes.len() - at));
        }
        Ok(Self { dim, scales, values, words })
    }

    /// Adds token `id`'s vector to `acc`. Unknown ids add nothing.
    fn add_token(&self, id: usize, acc: &mut [f32]) {
        let Some(&scale) = self.scales.get(id) else { return };
        let row = &self.values[id * self.dim..(id + 1) * self.dim];
        let k = scale / 127.0;
        for (a, &q) in acc.iter_mut().zip(row) {
            *a += k * f32::from(q);
        }
    }
}

/// The static embedder: a tokenizer and the token vectors. Cheap to clone.
#[derive(Clone)]
pub struct StaticEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    model: StaticModel,
    /// Extra word → its row.
    words: std::collections::HashMap<String, usize>,
    tokenizer: Tokenizer,
    /// Token ids that never count: `[UNK]`, `[CLS]`, `[SEP]`, `[PAD]`, `[MASK]`.
    skip: Vec<u32>,
    name: String,
}

impl StaticEmbedder {
    /// The model shipped in `engine/data/static-embedder/`.
    pub fn bundled() -> Result<Self, EmbedError> {
        Self::from_parts(BUNDLED_MODEL, BUNDLED_TOKENIZER, "engine/data/static-embedder")
    }

    /// A model from its two files' bytes; `origin` names them in errors.
    pub fn from_parts(model_bytes: &[u8], tokenizer_json: &[u8], origin: &str) -> Result<Self, EmbedError> {
        let fail = |reason: String| EmbedError::Load { path: origin.to_string(), reason };
        let model = StaticModel::from_bytes(model_bytes).map_err(fail)?;
        let tokenizer = Tokenizer::from_bytes(tokenizer_json).map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        let vocab = tokenizer.get_vocab_size(true);
        if vocab != model.vocab_size() {
            return Err(fail(format!("the tokenizer has {vocab} tokens, the model {}", model.vocab_size())));
        }
        let skip = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"].iter().filter_map(|t| tokenizer.token_to_id(t)).collect();
        // The name changes with the model's content, so a new model re-embeds catalogs.
        let mut h: u32 = 0x811c_9dc5;
        for &b in model_bytes {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let name = if model.words.is_empty() {
            format!("aisle-static-minilm-{}", model.dim)
        } else {
            format!("aisle-static-minilm-{}-w{}-{h:08x}", model.dim, model.words.len())
        };
        let words = model.words.iter().enumerate().map(|(i, w)| (w.clone(), model.vocab_size() + i)).collect();
        Ok(Self { inner: Arc::new(Inner { model, words, tokenizer, skip, name }) })
    }

    /// Embeds synchronously; about a microsecond per token.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        let inner = &self.inner;
        let encoding = inner.tokenizer.encode(text, false).map_err(|e| EmbedError::Compute(format!("tokenizer: {e}")))?;
        let mut acc = vec![0f32; inner.model.dim];
        let ids = &encoding.get_ids()[..encoding.get_ids().len().min(MAX_TOKENS)];
        let (tokens, word_ids) = (encoding.get_tokens(), encoding.get_word_ids());
        let mut i = 0;
        while i < ids.len() {
            // The pieces of one word: a word with a vector of its own counts once, whole.
            let mut end = i + 1;
            while end < ids.len() && word_ids[end].is_some() && word_ids[end] == word_ids[i] {
                end += 1;
            }
            let whole = (end - i > 1 && !inner.words.is_empty())
                .then(|| tokens[i..end].iter().map(|t| t.trim_start_matches("##")).collect::<String>())
                .and_then(|w| inner.words.get(&w));
            match whole {
                Some(&row) => inner.model.add_token(row, &mut acc),
                None => {
                    for &id in &ids[i..end] {
                        if !inner.skip.contains(&id) {
                            inner.model.add_token(id as usize, &mut acc);
                        }
                    }
                }
            }
            i = end;
        }
        normalize(&mut acc);
        Ok(acc)
    }
}

#[async_trait]
impl Embedder for StaticEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Cheap enough to run inline for a query; large batches go to a blocking thread.
        if texts.len() <= 16 {
            return texts.iter().map(|t| self.embed_one(t)).collect();
        }
        let this = self.clone();
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || texts.iter().map(|t| this.embed_one(t)).collect())
            .await
            .map_err(|e| EmbedError::Compute(format!("embedding task failed: {e}")))?
    }

    fn dim(&self) -> usize {
        self.inner.model.dim
    }

    fn name(&self) -> &str {
        &self.inner.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantised_model_round_trips_and_rejects_garbage() {
        let rows = vec![vec![0.5, -1.0, 0.25], vec![0.0, 0.0, 0.0]];
        let model = StaticModel::quantize(&rows);
        let back = StaticModel::from_bytes(&model.to_bytes()).unwrap();
        assert_eq!(back, model);
        let mut acc = vec![0f32; 3];
        back.add_token(0, &mut acc);
        for (a, r) in acc.iter().zip(&rows[0]) {
            assert!((a - r).abs() < 0.01, "{acc:?}");
        }
        assert!(StaticModel::from_bytes(b"nonsense").is_err());
        let with_words = StaticModel::quantize_with_words(&[vec![1.0, 0.0, 0.0], vec![0.0, 1.0, 0.0], vec![0.0, 0.0, 2.0]], vec!["nightstand".into()]);
        assert_eq!(with_words.vocab_size(), 2);
        assert_eq!(StaticModel::from_bytes(&with_words.to_bytes()).unwrap(), with_words);
        let mut short = model.to_bytes();
        short.pop();
        assert!(StaticModel::from_bytes(&short).unwrap_err().contains("truncated"));
    }
}
