//! Embeddings from any OpenAI-compatible `/embeddings` endpoint (OpenAI, a local
//! llama.cpp or vLLM server, a gateway...), configured by `AISLE_EMBED_URL`, a key and
//! a model name.
//!
//! It exists for shops that already pay for a hosted embedding model. The wire
//! format is `POST {base}/embeddings` with `{"model", "input": [texts]}`, answered by
//! `{"data": [{"index", "embedding"}]}`. Rate limits (429, honouring `retry-after`),
//! server errors (5xx), transport failures and malformed answers are retried with
//! exponential backoff a bounded number of times; what still fails comes back as a
//! clear `EmbedError` whose `is_retryable` tells the indexing job to try again later.
//! A request either returns every vector it was asked for or fails: nothing is
//! silently dropped.
//!
//! HTTPS is rustls (ring) with the Mozilla roots built in; a private endpoint's CA is
//! trusted with `AISLE_EXTRA_CA_FILE` (PEM, one or more certificates:
//! `OpenAiConfig::extra_ca_pem`). A failure to reach the endpoint names its URL and
//! the cause (a refused connection, an unknown certificate issuer...).

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::ports::embedder::{EmbedError, Embedder, normalize};

/// Texts per HTTP request.
const MAX_BATCH: usize = 64;
/// Error bodies are cut to this many characters in messages.
const MAX_ERROR_BODY: usize = 300;

#[derive(Clone, Debug)]
pub struct OpenAiConfig {
    /// The API base, e.g. `https://api.openai.com/v1`; `/embeddings` is appended.
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// The first backoff; doubled after each failure, capped by `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    pub timeout: Duration,
    /// Extra CA certificates (PEM) trusted besides the built-in roots, for an
    /// endpoint whose certificate a private CA signed.
    pub extra_ca_pem: Option<Vec<u8>>,
}

impl OpenAiConfig {
    pub fn new(base_url: impl Into<String>, api_key: Option<String>, model: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key,
            model: model.into(),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(20),
            timeout: Duration::from_secs(30),
            extra_ca_pem: None,
        }
    }

    /// Trusts the CA certificates of a PEM file (`AISLE_EXTRA_CA_FILE`).
    pub fn with_extra_ca_file(mut self, path: &std::path::Path) -> Result<Self, EmbedError> {
        let pem = std::fs::read(path).map_err(|e| EmbedError::Load { path: format!("AISLE_EXTRA_CA_FILE={}", path.display()), reason: e.to_string() })?;
        self.extra_ca_pem = Some(pem);
        Ok(self)
    }
}

pub struct OpenAiEmbedder {
    client: reqwest::Client,
    url: String,
    config: OpenAiConfig,
    dim: usize,
    name: String,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    /// Connects and learns the model's dimension by embedding one probe text.
    pub async fn connect(config: OpenAiConfig) -> Result<Self, EmbedError> {
        let mut this = Self::with_dim(config, 0)?;
        let probe = this.embed_batch_with_retries(&["dimension probe".to_string()]).await.inspect_err(|e| {
            tracing::error!(url = %this.url, error = %e, "cannot use the embeddings endpoint");
        })?;
        this.dim = probe.first().map_or(0, Vec::len);
        if this.dim == 0 {
            return Err(EmbedError::Malformed("the endpoint returned an empty vector".into()));
        }
        Ok(this)
    }

    /// For a model whose dimension is known; no request is made.
    pub fn with_dim(config: OpenAiConfig, dim: usize) -> Result<Self, EmbedError> {
        let mut builder = reqwest::Client::builder().timeout(config.timeout);
        if let Some(pem) = &config.extra_ca_pem {
            let load = |reason: String| EmbedError::Load { path: "AISLE_EXTRA_CA_FILE".into(), reason };
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| load(error_chain(&e)))?;
            if certs.is_empty() {
                return Err(load("no PEM certificate in it".into()));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| EmbedError::Load { path: config.base_url.clone(), reason: error_chain(&e) })?;
        let url = format!("{}/embeddings", config.base_url.trim_end_matches('/'));
        let name = format!("openai:{}", config.model);
        Ok(Self { client, url, config, dim, name })
    }

    async fn embed_batch_with_retries(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut backoff = self.config.initial_backoff;
        let mut attempt = 1;
        loop {
            match self.embed_batch_once(texts).await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < self.config.max_attempts.max(1) => {
                    let wait = match &e {
                        EmbedError::RateLimited { retry_after: Some(d) } => (*d).max(backoff),
                        _ => backoff,
                    }
                    .min(self.config.max_backoff);
                    tracing::warn!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "embeddings request failed; retrying");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn embed_batch_once(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = serde_json::json!({ "model": self.config.model, "input": texts });
        let mut request = self.client.post(&self.url).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| EmbedError::Transport(format!("POST {}: {}", self.url, error_chain(&e.without_url()))))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let text = response.text().await.map_err(|e| EmbedError::Transport(format!("POST {}: {}", self.url, error_chain(&e.without_url()))))?;
        if status.as_u16() == 429 {
            return Err(EmbedError::RateLimited { retry_after });
        }
        if !status.is_success() {
            return Err(EmbedError::Http { status: status.as_u16(), body: error_message(&text) });
        }
        let parsed: Response = serde_json::from_str(&text).map_err(|e| EmbedError::Malformed(format!("{e}: {}", cut(&text))))?;
        if parsed.data.len() != texts.len() {
            return Err(EmbedError::Malformed(format!("asked for {} vectors, got {}", texts.len(), parsed.data.len())));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for item in parsed.data {
            let slot = out
                .get_mut(item.index)
                .ok_or_else(|| EmbedError::Malformed(format!("index {} out of range", item.index)))?;
            *slot = Some(item.embedding);
        }
        let dim = if self.dim > 0 { self.dim } else { out.iter().flatten().map(Vec::len).next().unwrap_or(0) };
        out.into_iter()
            .enumerate()
            .map(|(i, v)| {
                let mut v = v.ok_or_else(|| EmbedError::Malformed(format!("no vector for input {i}")))?;
                if v.len() != dim || v.iter().any(|x| !x.is_finite()) {
                    return Err(EmbedError::Malformed(format!("vector {i} has {} numbers (expected {dim}) or is not finite", v.len())));
                }
                if texts[i].trim().is_empty() {
                    v.iter_mut().for_each(|x| *x = 0.0);
                }
                normalize(&mut v);
                Ok(v)
            })
            .collect()
    }
}

/// An error and its causes, `outer: inner: innermost` (reqwest's own message is only
/// "error sending request"; the why — refused, certificate — is in its sources).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The `error.message` of an OpenAI-style error body, or the body itself, cut short.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_else(|| cut(body))
}

fn cut(s: &str) -> String {
    if s.chars().count() <= MAX_ERROR_BODY { s.to_string() } else { format!("{}…", s.chars().take(MAX_ERROR_BODY).collect::<String>()) }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(MAX_BATCH) {
            out.extend(self.embed_batch_with_retries(chunk).await?);
        }
        Ok(out)
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn name(&self) -> &str {
        &self.name
    }
}
