use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use engine_core::ports::llm::{LanguageModel, ModelError, ModelRequest, ModelStream};
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use crate::breaker::{BreakerStatus, Breakers, Clock, Outcome, SystemClock, key_id};
use crate::config::GroqConfig;
use crate::prompt::{system_prompt, wire_messages};
use crate::stream::model_stream;
use crate::tools::tool_schemas;
use crate::wire::{error_message, request_body, retry_after_from_headers};

/// The Groq chat-completions client, a [`LanguageModel`].
pub struct GroqModel {
    config: GroqConfig,
    http: reqwest::Client,
    url: String,
    breakers: Arc<Breakers>,
    tools: Vec<serde_json::Value>,
}

/// A request that failed before its stream was handed out.
struct Failure {
    error: ModelError,
    retryable: bool,
    outcome: Outcome,
}

impl GroqModel {
    pub fn new(config: GroqConfig) -> Result<Self, ModelError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// With the circuit breakers reading time from `clock` (tests move it by hand).
    pub fn with_clock(config: GroqConfig, clock: Arc<dyn Clock>) -> Result<Self, ModelError> {
        // A connect timeout but no total timeout: a long answer streamed steadily must
        // not be cut. Idle time is bounded per event instead (`read_timeout`).
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| ModelError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let breakers = Arc::new(Breakers::new(clock, config.breaker_threshold, config.breaker_cooldown));
        Ok(Self { config, http, url, breakers, tools: tool_schemas() })
    }

    pub fn config(&self) -> &GroqConfig {
        &self.config
    }

    /// Every key's circuit breaker, for `/metrics` (labelled by key fingerprint).
    pub fn breakers(&self) -> Vec<BreakerStatus> {
        self.breakers.statuses()
    }

    async fn send_once(&self, key: &str, body: &[u8]) -> Result<reqwest::Response, Failure> {
        let send = self
            .http
            .post(&self.url)
            .bearer_auth(key)
            .header(ACCEPT, "text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send();
        let response = match tokio::time::timeout(self.config.read_timeout, send).await {
            Err(_) => {
                return Err(Failure {
                    error: ModelError::Timeout(format!("no response from the model in {} ms", self.config.read_timeout.as_millis())),
                    retryable: false,
                    outcome: Outcome::Failure,
                });
            }
            Ok(Err(e)) => {
                let (timed_out, connect) = (e.is_timeout(), e.is_connect());
                let why = error_chain(&e.without_url());
                let error = if timed_out {
                    ModelError::Timeout(format!("connecting: {why}"))
                } else {
                    ModelError::Unavailable(format!("cannot reach the model: {why}"))
                };
                return Err(Failure { error, retryable: connect || timed_out, outcome: Outcome::Failure });
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let retry_after = retry_after_from_headers(response.headers());
        let text = match tokio::time::timeout(self.config.read_timeout, response.text()).await {
            Ok(Ok(t)) => t,
            _ => String::new(),
        };
        Err(match status {
            429 => Failure { error: ModelError::RateLimited { retry_after }, retryable: true, outcome: Outcome::Failure },
            500..=599 => Failure {
                error: ModelError::Status { status, message: error_message(&text) },
                retryable: true,
                outcome: Outcome::Failure,
            },
            400..=499 => Failure {
                error: ModelError::Status { status, message: error_message(&text) },
                retryable: false,
                outcome: Outcome::Neutral,
            },
            _ => Failure {
                error: ModelError::Protocol(format!("unexpected HTTP {status}")),
                retryable: false,
                outcome: Outcome::Failure,
            },
        })
    }
}

#[async_trait]
impl LanguageModel for GroqModel {
    fn name(&self) -> &'static str {
        "groq"
    }

    /// A tenant is served when it has a key of its own or the deployment has one.
    fn serves(&self, settings: &engine_core::ports::store::TenantSettings) -> bool {
        let set = |k: Option<&str>| k.is_some_and(|k| !k.trim().is_empty());
        set(settings.llm.api_key.as_deref()) || set(self.config.api_key.as_deref())
    }

    /// Retries happen only here, before the stream is returned: once a chunk may have
    /// reached a shopper, a failure is the caller's to handle (it falls back).
    async fn stream(&self, request: ModelRequest) -> Result<ModelStream, ModelError> {
        let own = &request.settings.llm;
        let key = own
            .api_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())
            .or(self.config.api_key.as_deref().filter(|k| !k.trim().is_empty()))
            .ok_or_else(|| ModelError::Unavailable("no key".into()))?;
        let model = own.model.as_deref().filter(|m| !m.trim().is_empty()).unwrap_or(&self.config.model);
        let key_id = key_id(key);
        let Some(permit) = self.breakers.acquire(&key_id) else {
            tracing::debug!(%key_id, "circuit open: not calling the model");
            return Err(ModelError::CircuitOpen);
        };
        let system = system_prompt(&request.settings, &request.cart, &request.products);
        let body = request_body(model, wire_messages(system, &request.messages), self.tools.clone(), self.config.temperature);
        let body = serde_json::to_vec(&body).map_err(|e| ModelError::Protocol(format!("cannot encode the request: {e}")))?;

        // A half-open breaker's probe is one request, not a burst of retries.
        let attempts = if permit.is_probe() { 1 } else { self.config.max_retries.saturating_add(1) };
        let mut backoff = self.config.retry_backoff;
        let mut attempt = 1;
        loop {
            match self.send_once(key, &body).await {
                Ok(response) => {
                    tracing::debug!(%key_id, model, attempt, "groq stream started");
                    return Ok(model_stream(response, self.config.read_timeout, permit, key_id));
                }
                Err(f) => {
                    let asked = match &f.error {
                        ModelError::RateLimited { retry_after } => *retry_after,
                        _ => None,
                    };
                    let too_long = asked.is_some_and(|d| d > self.config.max_retry_wait);
                    if !f.retryable || attempt >= attempts || too_long {
                        tracing::warn!(%key_id, model, attempt, error = %f.error, "groq request failed");
                        permit.record(f.outcome);
                        return Err(f.error);
                    }
                    let wait = asked.unwrap_or(backoff).min(self.config.max_retry_wait);
                    tracing::info!(%key_id, model, attempt, error = %f.error, wait_ms = wait.as_millis() as u64, "groq request failed; retrying");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(self.config.max_retry_wait).max(Duration::from_millis(1));
                    attempt += 1;
                }
            }
        }
    }
}

/// An error and its causes (reqwest's own message is only "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
