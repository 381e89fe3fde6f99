//! Rate limits, all on `governor` (GCRA; never hand-rolled): one [`KeyedLimiter`]
//! per bound, keyed by a normalised, length-capped string and pruned on a timer so
//! that keys nobody uses any more do not pile up.
//!
//! | bound | key | where | past it |
//! | --- | --- | --- | --- |
//! | WebSocket connects | client address (TCP peer) | `ws::upgrade` | HTTP 429 + `Retry-After` before the upgrade |
//! | new conversations | deployment | `ws::session::open` (no session token) | `error` `rate_limited`, close 4429 |
//! | cart commands | conversation (all its sockets) | `ws::session::inbound` | `error` `rate_limited` with the command's `id`; nothing applied, the socket stays open |
//! | messages | conversation (all its sockets) | `ws::session::inbound` | the same |
//! | portal logins | (email, client address), and client address | `routes::users::login` | HTTP 429 + `Retry-After` |
//!
//! The client address is the TCP peer's: `X-Forwarded-For` is not trusted (anyone can
//! write it), so behind a reverse proxy every client is the proxy, and the per-address
//! WebSocket limit should be raised or turned off (`0`).

use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::config::RateLimits;
use crate::routes::users::{LOGINS_PER_ADDRESS_PER_MINUTE, LOGINS_PER_EMAIL_PER_MINUTE};

/// The longest key a limiter keeps, in bytes. Longer ones (a 10 KB "email") keep
/// their start and a hash of the whole, so they stay distinct but small.
pub const MAX_KEY_BYTES: usize = 128;

/// How often the limiters forget keys whose buckets are full again.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Trimmed, lower-case, at most [`MAX_KEY_BYTES`] bytes.
pub fn normalize_key(raw: &str) -> String {
    let key = raw.trim().to_lowercase();
    if key.len() <= MAX_KEY_BYTES {
        return key;
    }
    let digest = Sha256::digest(key.as_bytes());
    let hash: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    // Start + '#' + 32 hex digits: 64 + 1 + 32 bytes at most.
    let mut end = 64;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}#{hash}", &key[..end])
}

type Inner<C> = RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// One rate limit over many keys. `None` quota: the bound is off (every check passes).
pub struct KeyedLimiter<C: Clock = DefaultClock> {
    inner: Option<Inner<C>>,
}

impl KeyedLimiter<DefaultClock> {
    pub fn new(quota: Option<Quota>) -> Self {
        Self::with_clock(quota, DefaultClock::default())
    }

    /// `n` a minute with a burst of `n`; `0`: off.
    pub fn per_minute(n: u32) -> Self {
        Self::new(NonZeroU32::new(n).map(Quota::per_minute))
    }

    /// `n` a second with a burst of `n`; `0`: off.
    pub fn per_second(n: u32) -> Self {
        Self::new(NonZeroU32::new(n).map(Quota::per_second))
    }

    /// A burst of `n`, then one a minute: for logins, where a slow attempt (a password
    /// hash) must not let the bucket refill between guesses. `0`: off.
    pub fn burst_then_one_a_minute(n: u32) -> Self {
        Self::new(NonZeroU32::new(n).and_then(|n| Some(Quota::with_period(Duration::from_secs(60))?.allow_burst(n))))
    }
}

impl<C: Clock> KeyedLimiter<C> {
    pub fn with_clock(quota: Option<Quota>, clock: C) -> Self {
        Self { inner: quota.map(|q| RateLimiter::dashmap_with_clock(q, clock)) }
    }

    /// Takes one from `key`'s bucket, or says how long until one is there.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.inner else { return Ok(()) };
        limiter.check_key(&normalize_key(key)).map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    /// Forgets the keys whose buckets are full again (indistinguishable from new ones).
    pub fn prune(&self) {
        if let Some(limiter) = &self.inner {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every limiter of the process.
pub struct Limits {
    /// WebSocket upgrades per client address.
    pub ws_connects: KeyedLimiter,
    /// Conversations created per deployment.
    pub new_conversations: KeyedLimiter,
    /// Cart commands (`cart.*`, `checkout`) per conversation.
    pub cart_commands: KeyedLimiter,
    /// `message` commands per conversation.
    pub messages: KeyedLimiter,
    /// Portal logins per (email, client address): a stranger elsewhere cannot lock a
    /// user out by failing with their email.
    pub logins_per_email_and_address: KeyedLimiter,
    /// Portal logins per client address (one client cycling through emails).
    pub logins_per_address: KeyedLimiter,
}

impl Limits {
    pub fn new(rates: &RateLimits) -> Self {
        Self {
            ws_connects: KeyedLimiter::per_minute(rates.ws_connects_per_minute),
            new_conversations: KeyedLimiter::per_minute(rates.new_conversations_per_minute),
            cart_commands: KeyedLimiter::per_second(rates.cart_commands_per_second),
            messages: KeyedLimiter::per_minute(rates.messages_per_minute),
            logins_per_email_and_address: KeyedLimiter::burst_then_one_a_minute(LOGINS_PER_EMAIL_PER_MINUTE),
            logins_per_address: KeyedLimiter::burst_then_one_a_minute(LOGINS_PER_ADDRESS_PER_MINUTE),
        }
    }

    fn all(&self) -> [&KeyedLimiter; 6] {
        [
            &self.ws_connects,
            &self.new_conversations,
            &self.cart_commands,
            &self.messages,
            &self.logins_per_email_and_address,
            &self.logins_per_address,
        ]
    }

    pub fn prune(&self) {
        for limiter in self.all() {
            limiter.prune();
        }
    }

    /// Keys held by all the limiters.
    pub fn len(&self) -> usize {
        self.all().iter().map(|l| l.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Prunes every `every` on the current tokio runtime, until the limits are dropped.
    pub fn start_pruning(self: &Arc<Self>, every: Duration) {
        let weak: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { break };
                limits.prune();
            }
        });
    }
}

/// "try again in N s", for messages.
pub fn wait_text(wait: Duration) -> String {
    format!("try again in {} s", crate::error::retry_after_secs(wait))
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn keys_are_trimmed_lower_case_and_capped() {
        assert_eq!(normalize_key("  Ann@Shop.Example "), "ann@shop.example");
        let huge = "a".repeat(10 * 1024);
        let key = normalize_key(&huge);
        assert!(key.len() <= MAX_KEY_BYTES, "{}", key.len());
        assert!(key.starts_with("aaaa"));
        // Two long keys with the same start stay apart; the same key maps the same.
        let other = format!("{}b", "a".repeat(10 * 1024));
        assert_ne!(normalize_key(&other), key);
        assert_eq!(normalize_key(&huge.to_uppercase()), key);
        // Multi-byte characters are cut on a boundary.
        let wide = "é".repeat(1000);
        assert!(normalize_key(&wide).len() <= MAX_KEY_BYTES);
    }

    #[test]
    fn a_10_kb_key_is_held_capped() {
        let limiter = KeyedLimiter::with_clock(Some(Quota::per_minute(NonZeroU32::new(2).unwrap())), FakeRelativeClock::default());
        let huge = format!("{}@shop.example", "x".repeat(10 * 1024));
        assert!(limiter.check(&huge).is_ok());
        assert!(limiter.check(&huge).is_ok());
        assert!(limiter.check(&huge).is_err(), "the capped key keeps its bucket");
        let inner = limiter.inner.as_ref().unwrap();
        assert_eq!(inner.len(), 1);
        assert!(limiter.check(&format!("{}@shop.example", "y".repeat(10 * 1024))).is_ok(), "another long key has its own bucket");
    }

    #[test]
    fn past_the_burst_it_says_how_long_to_wait() {
        let clock = FakeRelativeClock::default();
        let limiter = KeyedLimiter::with_clock(Some(Quota::per_second(NonZeroU32::new(2).unwrap())), clock.clone());
        assert!(limiter.check("c1").is_ok());
        assert!(limiter.check("c1").is_ok());
        let wait = limiter.check("c1").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limiter.check("c2").is_ok(), "another key has its own bucket");
        clock.advance(wait);
        assert!(limiter.check("c1").is_ok(), "after the wait");
    }

    #[test]
    fn pruning_drops_keys_whose_buckets_are_full_again() {
        let clock = FakeRelativeClock::default();
        let limiter = KeyedLimiter::with_clock(Some(Quota::per_minute(NonZeroU32::new(10).unwrap())), clock.clone());
        for i in 0..100 {
            limiter.check(&format!("203.0.113.{i}")).unwrap();
        }
        assert_eq!(limiter.len(), 100);
        limiter.prune();
        assert_eq!(limiter.len(), 100, "recently used keys stay");
        clock.advance(Duration::from_secs(61));
        limiter.check("203.0.113.7").unwrap();
        limiter.prune();
        assert_eq!(limiter.len(), 1, "only the key used since stays");
    }

    #[test]
    fn a_zero_rate_is_off() {
        let limiter = KeyedLimiter::per_minute(0);
        for _ in 0..1000 {
            assert!(limiter.check("k").is_ok());
        }
        assert_eq!(limiter.len(), 0);
    }
}
