//! Configuration from the environment (contract §3), checked once at start-up: an
//! invalid value stops Aisle with a message naming the variable, instead of a
//! warning and a surprise later.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A secret that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None`: SQLite in `data_dir`.
    pub database_url: Option<String>,
    /// A Qdrant server's gRPC URL (`http(s)://host:6334`); `None`: qdrant-edge
    /// embedded under `data_dir/vectors`.
    pub qdrant_url: Option<String>,
    /// The Qdrant server's API key (its `service.api_key`), sent with every request.
    pub qdrant_api_key: Option<Secret>,
    pub groq_api_key: Option<Secret>,
    /// Groq's OpenAI-compatible base URL (`AISLE_GROQ_BASE_URL`).
    pub groq_base_url: String,
    /// The chat model (`AISLE_GROQ_MODEL`); a tenant may bring its own.
    pub groq_model: String,
    /// The longest wait for Groq's response headers and then between two events of
    /// its stream (`AISLE_GROQ_READ_TIMEOUT_MS`); past it the offline assistant
    /// finishes the turn. There is no total timeout.
    pub groq_read_timeout: Duration,
    pub platform_token: Option<Secret>,
    pub stripe_webhook_secret: Option<Secret>,
    pub demo: bool,
    /// Signs session tokens; `None`: generated into `data_dir` on first start.
    pub session_secret: Option<Secret>,
    /// Idle conversations are passivated after this long.
    pub idle_timeout: Duration,
    /// How long a client has to send `hello`.
    pub hello_timeout: Duration,
    /// Bytes of events one socket may have waiting; past it that socket is closed
    /// (4008) and the client resumes.
    pub ws_outbox_bytes: usize,
    /// A write the client does not take within this long closes its socket (4008).
    pub ws_write_timeout: Duration,
    /// The shopper-facing rate limits.
    pub rate_limits: RateLimits,
    /// Bytes of catalog import bodies one tenant may have queued or running.
    pub import_queue_bytes: u64,
    /// This instance's id, recorded on the jobs it queues; `None`: generated into
    /// `data_dir/instance.id` on first start and kept.
    pub instance_id: Option<String>,
    /// Workers of the in-process job queue: an import and an indexing run side by
    /// side (tests set 0 to hold jobs queued).
    pub job_workers: usize,
    /// How long a client has to send a whole request body, counted from the end of
    /// its headers (`AISLE_BODY_TIMEOUT_MS`); past it the request is answered 408.
    pub body_timeout: Duration,
    /// Requests being served that have not yet shown credentials, at most
    /// (`AISLE_MAX_UNAUTHENTICATED`); past it 503 with `Retry-After`.
    pub max_unauthenticated: usize,
    /// A PEM file of extra CA certificates trusted by Aisle's HTTPS clients
    /// (`AISLE_EXTRA_CA_FILE`), checked here; the clients read it (`engine_vectors::embed`).
    pub extra_ca_file: Option<PathBuf>,
}

/// Rate limits (`crate::limits`); each `0` turns its bound off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// WebSocket connects per minute per client address (`AISLE_RATE_WS_CONNECTS`).
    pub ws_connects_per_minute: u32,
    /// New conversations per minute per deployment key (`AISLE_RATE_NEW_CONVERSATIONS`).
    pub new_conversations_per_minute: u32,
    /// Cart commands per second per conversation (`AISLE_RATE_CART_COMMANDS`).
    pub cart_commands_per_second: u32,
    /// Messages per minute per conversation (`AISLE_RATE_MESSAGES`).
    pub messages_per_minute: u32,
}

impl Default for RateLimits {
    /// Generous for people, tight for scripts: a shopper reconnecting, opening tabs or
    /// sharing an office's address stays far below them.
    fn default() -> Self {
        Self { ws_connects_per_minute: 120, new_conversations_per_minute: 1200, cart_commands_per_second: 10, messages_per_minute: 20 }
    }
}

impl RateLimits {
    /// High enough that no test or benchmark meets them, while keeping the limiters
    /// in the path.
    pub fn permissive() -> Self {
        Self {
            ws_connects_per_minute: 1_000_000,
            new_conversations_per_minute: 1_000_000,
            cart_commands_per_second: 1_000_000,
            messages_per_minute: 1_000_000,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./aisle-data"),
            database_url: None,
            qdrant_url: None,
            qdrant_api_key: None,
            groq_api_key: None,
            groq_base_url: engine_llm::GroqConfig::DEFAULT_BASE_URL.into(),
            groq_model: engine_llm::GroqConfig::DEFAULT_MODEL.into(),
            groq_read_timeout: engine_llm::GroqConfig::default().read_timeout,
            platform_token: None,
            stripe_webhook_secret: None,
            demo: false,
            session_secret: None,
            idle_timeout: Duration::from_secs(300),
            hello_timeout: Duration::from_secs(10),
            ws_outbox_bytes: actors::OUTBOX_BYTES,
            ws_write_timeout: Duration::from_secs(10),
            rate_limits: RateLimits::default(),
            import_queue_bytes: engine::jobs::DEFAULT_IMPORT_QUEUE_BYTES,
            instance_id: None,
            job_workers: 2,
            body_timeout: Duration::from_secs(30),
            max_unauthenticated: 256,
            extra_ca_file: None,
        }
    }
}

impl Config {
    /// Defaults, then the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = Config::default();
        let non_empty = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(v) = non_empty("AISLE_BIND") {
            c.bind = v.parse().map_err(|_| ConfigError { var: "AISLE_BIND", message: format!("{v:?} is not host:port (e.g. 127.0.0.1:8080)") })?;
        }
        if let Some(v) = non_empty("AISLE_DATA_DIR") {
            c.data_dir = PathBuf::from(v);
        }
        if let Some(v) = non_empty("AISLE_DATABASE_URL") {
            if !(v.starts_with("sqlite:") || v.starts_with("postgres://") || v.starts_with("postgresql://")) {
                return Err(ConfigError { var: "AISLE_DATABASE_URL", message: "must start with sqlite:, postgres:// or postgresql://".into() });
            }
            c.database_url = Some(v);
        }
        if let Some(v) = non_empty("AISLE_QDRANT_URL") {
            c.qdrant_url = Some(qdrant_url(&v).map_err(|message| ConfigError { var: "AISLE_QDRANT_URL", message })?);
        }
        c.qdrant_api_key = non_empty("AISLE_QDRANT_API_KEY").map(Secret::new);
        if c.qdrant_api_key.is_some() && c.qdrant_url.is_none() {
            return Err(ConfigError { var: "AISLE_QDRANT_API_KEY", message: "is set but AISLE_QDRANT_URL is not".into() });
        }
        c.groq_api_key = non_empty("GROQ_API_KEY").map(Secret::new);
        if let Some(v) = non_empty("AISLE_GROQ_BASE_URL") {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(ConfigError { var: "AISLE_GROQ_BASE_URL", message: "must start with https:// or http://".into() });
            }
            c.groq_base_url = v;
        }
        if let Some(v) = non_empty("AISLE_GROQ_MODEL") {
            c.groq_model = v;
        }
        if let Some(v) = non_empty("AISLE_GROQ_READ_TIMEOUT_MS") {
            let ms: u64 = v
                .parse()
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| ConfigError { var: "AISLE_GROQ_READ_TIMEOUT_MS", message: format!("{v:?} is not a positive number of milliseconds") })?;
            c.groq_read_timeout = Duration::from_millis(ms);
        }
        c.platform_token = non_empty("AISLE_PLATFORM_TOKEN").map(Secret::new);
        c.stripe_webhook_secret = non_empty("AISLE_STRIPE_WEBHOOK_SECRET").map(Secret::new);
        c.session_secret = non_empty("AISLE_SESSION_SECRET").map(Secret::new);
        if let Some(secret) = &c.session_secret
            && secret.expose().len() < crate::session_token::MIN_SECRET_BYTES
        {
            return Err(ConfigError {
                var: "AISLE_SESSION_SECRET",
                message: format!(
                    "is {} bytes; it must be at least {} (e.g. `openssl rand -hex 32`), or unset to use a generated key",
                    secret.expose().len(),
                    crate::session_token::MIN_SECRET_BYTES
                ),
            });
        }
        if let Some(v) = non_empty("AISLE_DEMO") {
            c.demo = match v.as_str() {
                "1" | "true" | "yes" => true,
                "0" | "false" | "no" => false,
                _ => return Err(ConfigError { var: "AISLE_DEMO", message: format!("{v:?} is not 0 or 1") }),
            };
        }
        if let Some(v) = non_empty("AISLE_IDLE_TIMEOUT_MS") {
            let ms: u64 = v.parse().map_err(|_| ConfigError { var: "AISLE_IDLE_TIMEOUT_MS", message: format!("{v:?} is not a number of milliseconds") })?;
            c.idle_timeout = Duration::from_millis(ms.max(10));
        }
        if let Some(v) = non_empty("AISLE_WS_OUTBOX_BYTES") {
            let n: usize = v.parse().map_err(|_| ConfigError { var: "AISLE_WS_OUTBOX_BYTES", message: format!("{v:?} is not a number of bytes") })?;
            if n < 1024 {
                return Err(ConfigError { var: "AISLE_WS_OUTBOX_BYTES", message: "must be at least 1024".into() });
            }
            c.ws_outbox_bytes = n;
        }
        if let Some(v) = non_empty("AISLE_WS_WRITE_TIMEOUT_MS") {
            let ms: u64 = v.parse().map_err(|_| ConfigError { var: "AISLE_WS_WRITE_TIMEOUT_MS", message: format!("{v:?} is not a number of milliseconds") })?;
            c.ws_write_timeout = Duration::from_millis(ms.max(100));
        }
        let count = |var: &'static str, default: u32| -> Result<u32, ConfigError> {
            match non_empty(var) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| ConfigError { var, message: format!("{v:?} is not a whole number (0 turns the limit off)") }),
            }
        };
        let d = RateLimits::default();
        c.rate_limits = RateLimits {
            ws_connects_per_minute: count("AISLE_RATE_WS_CONNECTS", d.ws_connects_per_minute)?,
            new_conversations_per_minute: count("AISLE_RATE_NEW_CONVERSATIONS", d.new_conversations_per_minute)?,
            cart_commands_per_second: count("AISLE_RATE_CART_COMMANDS", d.cart_commands_per_second)?,
            messages_per_minute: count("AISLE_RATE_MESSAGES", d.messages_per_minute)?,
        };
        if let Some(v) = non_empty("AISLE_IMPORT_QUEUE_BYTES") {
            c.import_queue_bytes = v.parse().ok().filter(|&n: &u64| n > 0).ok_or_else(|| ConfigError {
                var: "AISLE_IMPORT_QUEUE_BYTES",
                message: format!("{v:?} is not a positive number of bytes"),
            })?;
        }
        if let Some(v) = non_empty("AISLE_INSTANCE_ID") {
            if v.len() > 64 || !v.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.')) {
                return Err(ConfigError { var: "AISLE_INSTANCE_ID", message: "1 to 64 letters, digits, '-', '_' or '.'".into() });
            }
            c.instance_id = Some(v);
        }
        if let Some(v) = non_empty("AISLE_BODY_TIMEOUT_MS") {
            let ms: u64 = v
                .parse()
                .ok()
                .filter(|&ms| ms > 0)
                .ok_or_else(|| ConfigError { var: "AISLE_BODY_TIMEOUT_MS", message: format!("{v:?} is not a positive number of milliseconds") })?;
            c.body_timeout = Duration::from_millis(ms);
        }
        if let Some(v) = non_empty("AISLE_MAX_UNAUTHENTICATED") {
            c.max_unauthenticated = v
                .parse()
                .ok()
                .filter(|&n: &usize| n > 0)
                .ok_or_else(|| ConfigError { var: "AISLE_MAX_UNAUTHENTICATED", message: format!("{v:?} is not a positive number of requests") })?;
        }
        if let Some(v) = non_empty("AISLE_EXTRA_CA_FILE") {
            let pem = std::fs::read_to_string(&v).map_err(|e| ConfigError { var: "AISLE_EXTRA_CA_FILE", message: format!("cannot read {v:?}: {e}") })?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError { var: "AISLE_EXTRA_CA_FILE", message: format!("{v:?} holds no PEM certificate") });
            }
            c.extra_ca_file = Some(PathBuf::from(v));
        }
        for unsupported in ["AISLE_AMQP_URL", "AISLE_REDIS_URL"] {
            if non_empty(unsupported).is_some() {
                tracing::warn!(var = unsupported, "set, but this build runs that part embedded; it is ignored");
            }
        }
        Ok(c)
    }

    /// This instance's id: `instance_id`, else the one kept in `data_dir/instance.id`
    /// (a UUID written on first start). It outlives restarts, so that start-up can
    /// fail the jobs this instance left unfinished and no other node's.
    pub fn instance_id_or_create(&self) -> std::io::Result<String> {
        if let Some(id) = &self.instance_id {
            return Ok(id.clone());
        }
        let path = self.data_dir.join("instance.id");
        match std::fs::read_to_string(&path) {
            Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_string()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let id = uuid::Uuid::new_v4().to_string();
        std::fs::write(&path, format!("{id}\n"))?;
        Ok(id)
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("aisle.db").display()),
        }
    }
}

/// `http://host:port` or `https://…` with a host: what the gRPC client can dial.
fn qdrant_url(v: &str) -> Result<String, String> {
    let rest = v.strip_prefix("http://").or_else(|| v.strip_prefix("https://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let host_ok = |h: &str| {
        let (name, port) = match h.rsplit_once(':').filter(|_| !h.ends_with(']')) {
            Some((n, p)) => (n, Some(p)),
            None => (h, None),
        };
        !name.is_empty()
            && !name.contains(['@', ' '])
            && port.is_none_or(|p| p.parse::<u16>().is_ok())
    };
    match host {
        Some(h) if host_ok(h) => Ok(v.trim_end_matches('/').to_string()),
        _ => Err(format!("{v:?} is not an http(s) URL with a host (e.g. http://127.0.0.1:6334, Qdrant's gRPC port)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(move |k| pairs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./aisle-data"));
        assert!(!c.demo);
        assert!(c.database_url().starts_with("sqlite://"));
    }

    #[test]
    fn bad_values_name_their_variable() {
        assert_eq!(cfg(&[("AISLE_BIND", "nope")]).unwrap_err().var, "AISLE_BIND");
        assert_eq!(cfg(&[("AISLE_DEMO", "maybe")]).unwrap_err().var, "AISLE_DEMO");
        assert_eq!(cfg(&[("AISLE_DATABASE_URL", "mysql://x")]).unwrap_err().var, "AISLE_DATABASE_URL");
        assert!(cfg(&[("AISLE_DEMO", "1")]).unwrap().demo);
    }

    #[test]
    fn qdrant_url_is_an_http_url() {
        assert_eq!(cfg(&[]).unwrap().qdrant_url, None);
        assert_eq!(cfg(&[("AISLE_QDRANT_URL", " ")]).unwrap().qdrant_url, None);
        for ok in ["http://127.0.0.1:6334", "https://qdrant.example.com", "http://[::1]:6334/", "http://qdrant:6334"] {
            let c = cfg(&[("AISLE_QDRANT_URL", ok)]).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(c.qdrant_url.as_deref(), Some(ok.trim_end_matches('/')));
        }
        for bad in ["localhost:6334", "grpc://h:6334", "http://", "http://:6334", "http://h:port", "http://a b"] {
            assert_eq!(cfg(&[("AISLE_QDRANT_URL", bad)]).unwrap_err().var, "AISLE_QDRANT_URL", "{bad}");
        }
    }

    #[test]
    fn rate_limits_and_the_import_queue_are_configurable() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.rate_limits, RateLimits::default());
        assert_eq!(c.import_queue_bytes, 64 * 1024 * 1024);
        let c = cfg(&[
            ("AISLE_RATE_WS_CONNECTS", "5"),
            ("AISLE_RATE_NEW_CONVERSATIONS", "0"),
            ("AISLE_RATE_CART_COMMANDS", "40"),
            ("AISLE_RATE_MESSAGES", "3"),
            ("AISLE_IMPORT_QUEUE_BYTES", "1000"),
            ("AISLE_INSTANCE_ID", "node-1"),
        ])
        .unwrap();
        assert_eq!(
            c.rate_limits,
            RateLimits { ws_connects_per_minute: 5, new_conversations_per_minute: 0, cart_commands_per_second: 40, messages_per_minute: 3 }
        );
        assert_eq!((c.import_queue_bytes, c.instance_id.as_deref()), (1000, Some("node-1")));
        for var in ["AISLE_RATE_WS_CONNECTS", "AISLE_RATE_NEW_CONVERSATIONS", "AISLE_RATE_CART_COMMANDS", "AISLE_RATE_MESSAGES"] {
            assert_eq!(cfg(&[(var, "-1")]).unwrap_err().var, var);
            assert_eq!(cfg(&[(var, "lots")]).unwrap_err().var, var);
        }
        assert_eq!(cfg(&[("AISLE_IMPORT_QUEUE_BYTES", "0")]).unwrap_err().var, "AISLE_IMPORT_QUEUE_BYTES");
        assert_eq!(cfg(&[("AISLE_INSTANCE_ID", "a b")]).unwrap_err().var, "AISLE_INSTANCE_ID");
    }

    #[test]
    fn the_instance_id_is_kept_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
        let first = c.instance_id_or_create().unwrap();
        assert_eq!(c.instance_id_or_create().unwrap(), first, "the same after a restart");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(Config { data_dir: other.path().to_path_buf(), ..Config::default() }.instance_id_or_create().unwrap(), first);
        let named = Config { instance_id: Some("node-7".into()), ..c };
        assert_eq!(named.instance_id_or_create().unwrap(), "node-7");
    }

    #[test]
    fn secrets_do_not_print() {
        let g = cfg(&[("AISLE_GROQ_BASE_URL", "http://127.0.0.1:9/openai/v1"), ("AISLE_GROQ_MODEL", "llama-3.3-70b-versatile"), ("AISLE_GROQ_READ_TIMEOUT_MS", "1500")]).unwrap();
        assert_eq!((g.groq_base_url.as_str(), g.groq_model.as_str()), ("http://127.0.0.1:9/openai/v1", "llama-3.3-70b-versatile"));
        assert_eq!(g.groq_read_timeout, Duration::from_millis(1500));
        assert!(cfg(&[("AISLE_GROQ_BASE_URL", "ftp://groq")]).is_err());
        assert!(cfg(&[("AISLE_GROQ_READ_TIMEOUT_MS", "0")]).is_err());
        let c = cfg(&[("GROQ_API_KEY", "gsk_supersecret")]).unwrap();
        assert!(!format!("{c:?}").contains("supersecret"));
        let c = cfg(&[("AISLE_QDRANT_URL", "http://q:6334"), ("AISLE_QDRANT_API_KEY", "qdrant-supersecret")]).unwrap();
        assert_eq!(c.qdrant_api_key.as_ref().map(|k| k.expose()), Some("qdrant-supersecret"));
        assert!(!format!("{c:?}").contains("supersecret"));
    }

    #[test]
    fn a_session_secret_has_at_least_32_bytes() {
        let err = cfg(&[("AISLE_SESSION_SECRET", "too-short-a-secret")]).unwrap_err();
        assert_eq!(err.var, "AISLE_SESSION_SECRET");
        assert!(err.to_string().contains("AISLE_SESSION_SECRET") && err.to_string().contains("32"), "{err}");
        assert_eq!(cfg(&[("AISLE_SESSION_SECRET", &"x".repeat(31))]).unwrap_err().var, "AISLE_SESSION_SECRET");
        let c = cfg(&[("AISLE_SESSION_SECRET", &"x".repeat(32))]).unwrap();
        assert_eq!(c.session_secret.map(|s| s.expose().len()), Some(32));
        assert!(cfg(&[]).unwrap().session_secret.is_none(), "unset: the generated key file");
    }

    #[test]
    fn body_timeout_and_unauthenticated_cap() {
        let c = cfg(&[]).unwrap();
        assert_eq!((c.body_timeout, c.max_unauthenticated), (Duration::from_secs(30), 256));
        let c = cfg(&[("AISLE_BODY_TIMEOUT_MS", "1500"), ("AISLE_MAX_UNAUTHENTICATED", "8")]).unwrap();
        assert_eq!((c.body_timeout, c.max_unauthenticated), (Duration::from_millis(1500), 8));
        for (var, bad) in [("AISLE_BODY_TIMEOUT_MS", "0"), ("AISLE_BODY_TIMEOUT_MS", "soon"), ("AISLE_MAX_UNAUTHENTICATED", "0"), ("AISLE_MAX_UNAUTHENTICATED", "-3")] {
            assert_eq!(cfg(&[(var, bad)]).unwrap_err().var, var, "{bad}");
        }
    }

    #[test]
    fn an_extra_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        assert_eq!(cfg(&[("AISLE_EXTRA_CA_FILE", missing.to_str().unwrap())]).unwrap_err().var, "AISLE_EXTRA_CA_FILE");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        assert_eq!(cfg(&[("AISLE_EXTRA_CA_FILE", junk.to_str().unwrap())]).unwrap_err().var, "AISLE_EXTRA_CA_FILE");
        let ok = dir.path().join("ca.pem");
        std::fs::write(&ok, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
        assert_eq!(cfg(&[("AISLE_EXTRA_CA_FILE", ok.to_str().unwrap())]).unwrap().extra_ca_file, Some(ok));
    }

    #[test]
    fn a_qdrant_key_needs_a_qdrant_url() {
        assert_eq!(cfg(&[("AISLE_QDRANT_API_KEY", "k")]).unwrap_err().var, "AISLE_QDRANT_API_KEY");
        assert_eq!(cfg(&[("AISLE_QDRANT_API_KEY", " ")]).unwrap().qdrant_api_key.map(|k| k.expose().to_string()), None);
    }
}
