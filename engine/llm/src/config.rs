use std::time::Duration;

/// How to reach Groq. `Debug` never prints the key.
#[derive(Clone)]
pub struct GroqConfig {
    /// The API base; `/chat/completions` is appended.
    pub base_url: String,
    /// The deployment's key (`GROQ_API_KEY`); a tenant's own key takes precedence.
    pub api_key: Option<String>,
    /// The deployment's model (`AISLE_GROQ_MODEL`); a tenant's own model takes precedence.
    pub model: String,
    pub connect_timeout: Duration,
    /// The longest wait for the response headers and then between two events of the
    /// stream. There is deliberately no total timeout.
    pub read_timeout: Duration,
    /// Retries of a request that failed before its stream was handed out (429, 5xx,
    /// connection errors), after the first attempt.
    pub max_retries: u32,
    /// A `retry-after` longer than this is not waited for: the call fails at once with
    /// `RateLimited` (the turn falls back to the offline assistant instead).
    pub max_retry_wait: Duration,
    /// The first wait between retries when the provider did not say how long; doubled
    /// each time, capped by `max_retry_wait`.
    pub retry_backoff: Duration,
    /// Consecutive failed calls that open a key's circuit breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker rejects calls before it lets one probe through.
    pub breaker_cooldown: Duration,
    /// Sampling temperature: low, the assistant should be predictable with a cart.
    pub temperature: f32,
}

impl GroqConfig {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.groq.com/openai/v1";
    /// A current Groq model with tool calling; `llama-3.3-70b-versatile` is the
    /// alternative (it streams no reasoning and starts answering sooner).
    pub const DEFAULT_MODEL: &'static str = "openai/gpt-oss-120b";

    /// The defaults with this key.
    pub fn new(api_key: Option<String>) -> Self {
        Self { api_key, ..Self::default() }
    }
}

impl Default for GroqConfig {
    fn default() -> Self {
        Self {
            base_url: Self::DEFAULT_BASE_URL.into(),
            api_key: None,
            model: Self::DEFAULT_MODEL.into(),
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(20),
            max_retries: 2,
            max_retry_wait: Duration::from_secs(10),
            retry_backoff: Duration::from_millis(250),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            temperature: 0.2,
        }
    }
}

impl std::fmt::Debug for GroqConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroqConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_retries", &self.max_retries)
            .field("max_retry_wait", &self.max_retry_wait)
            .field("retry_backoff", &self.retry_backoff)
            .field("breaker_threshold", &self.breaker_threshold)
            .field("breaker_cooldown", &self.breaker_cooldown)
            .field("temperature", &self.temperature)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones_and_debug_hides_the_key() {
        let c = GroqConfig::new(Some("gsk_secret_value".into()));
        assert_eq!(c.base_url, "https://api.groq.com/openai/v1");
        assert_eq!(c.model, "openai/gpt-oss-120b");
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.read_timeout, Duration::from_secs(20));
        assert_eq!(c.max_retries, 2);
        assert_eq!(c.max_retry_wait, Duration::from_secs(10));
        assert_eq!(c.breaker_cooldown, Duration::from_secs(30));
        let shown = format!("{c:?}");
        assert!(!shown.contains("gsk_secret_value"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
