//! A circuit breaker per Groq key: when a key's calls keep failing, stop calling for a
//! while, so shoppers get the offline assistant at once instead of waiting for
//! timeouts, and a struggling provider is not hammered.
//!
//! Closed → Open after `threshold` consecutive failed calls (5xx, connection errors,
//! timeouts, truncated streams, error frames, 429s). Open rejects every call with
//! `CircuitOpen` until the cool-down has passed; then HalfOpen lets exactly one probe
//! call through: its success closes the breaker, its failure opens it again. A 4xx
//! other than 429 (bad key, unknown model, bad request) is a configuration error, not
//! a sign the provider is down: it neither counts as a failure nor as a success.
//!
//! Breakers are keyed by [`key_id`], a short SHA-256 fingerprint: the key itself is
//! never a label, a log field or a map key. Time comes from a [`Clock`], so tests move
//! it by hand instead of sleeping.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Where the breakers read the time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told (tests).
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    /// The cool-down has passed: the next call is the probe (or it is under way).
    HalfOpen,
}

impl BreakerState {
    /// For a metric label.
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

/// One key's breaker, for `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreakerStatus {
    /// A fingerprint of the key ([`key_id`]), never the key.
    pub key_id: String,
    pub state: BreakerState,
    pub consecutive_failures: u32,
    /// How many times this breaker has opened since the process started.
    pub opened_total: u64,
}

/// A short fingerprint of a key, safe for logs and metric labels.
pub fn key_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("k_{}", &hex::encode(digest)[..12])
}

/// How a call ended, for its key's breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    Failure,
    /// Neither: a configuration error (4xx), or the caller dropped the stream.
    Neutral,
}

#[derive(Debug)]
enum Inner {
    Closed,
    Open { since: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Entry {
    inner: Inner,
    consecutive_failures: u32,
    opened_total: u64,
}

/// Keys whose breaker is closed with no failure are forgotten when there are more
/// than this many (tenants' own keys come and go).
const MAX_IDLE_ENTRIES: usize = 4096;

pub(crate) struct Breakers {
    clock: Arc<dyn Clock>,
    threshold: u32,
    cooldown: Duration,
    map: Mutex<HashMap<String, Entry>>,
}

impl Breakers {
    pub fn new(clock: Arc<dyn Clock>, threshold: u32, cooldown: Duration) -> Self {
        Self { clock, threshold: threshold.max(1), cooldown, map: Mutex::new(HashMap::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A permit for one call with this key, or `None` while its breaker is open (or
    /// half-open with its probe under way).
    pub fn acquire(self: &Arc<Self>, key_id: &str) -> Option<Permit> {
        let now = self.clock.now();
        let mut map = self.lock();
        if !map.contains_key(key_id) && map.len() >= MAX_IDLE_ENTRIES {
            map.retain(|_, e| !matches!(e.inner, Inner::Closed) || e.consecutive_failures > 0);
        }
        let entry = map
            .entry(key_id.to_string())
            .or_insert(Entry { inner: Inner::Closed, consecutive_failures: 0, opened_total: 0 });
        let probe = match entry.inner {
            Inner::Closed => false,
            Inner::Open { since } if now.duration_since(since) >= self.cooldown => {
                entry.inner = Inner::HalfOpen { probing: true };
                true
            }
            Inner::Open { .. } => return None,
            Inner::HalfOpen { probing: true } => return None,
            Inner::HalfOpen { probing: false } => {
                entry.inner = Inner::HalfOpen { probing: true };
                true
            }
        };
        if probe {
            tracing::info!(key_id, "circuit breaker half-open: letting one probe call through");
        }
        Some(Permit { breakers: Arc::clone(self), key_id: key_id.to_string(), probe, done: false })
    }

    fn finish(&self, key_id: &str, probe: bool, outcome: Outcome) {
        let now = self.clock.now();
        let mut map = self.lock();
        let Some(e) = map.get_mut(key_id) else { return };
        match outcome {
            Outcome::Success => {
                if !matches!(e.inner, Inner::Closed) {
                    tracing::info!(key_id, "circuit breaker closed");
                }
                e.inner = Inner::Closed;
                e.consecutive_failures = 0;
            }
            Outcome::Failure => {
                e.consecutive_failures = e.consecutive_failures.saturating_add(1);
                let open = match e.inner {
                    Inner::Closed => e.consecutive_failures >= self.threshold,
                    Inner::HalfOpen { .. } => probe,
                    Inner::Open { .. } => false,
                };
                if open {
                    e.inner = Inner::Open { since: now };
                    e.opened_total += 1;
                    tracing::warn!(key_id, failures = e.consecutive_failures, "circuit breaker opened");
                }
            }
            Outcome::Neutral => {
                if probe && matches!(e.inner, Inner::HalfOpen { probing: true }) {
                    e.inner = Inner::HalfOpen { probing: false };
                }
            }
        }
    }

    pub fn statuses(&self) -> Vec<BreakerStatus> {
        let now = self.clock.now();
        let map = self.lock();
        let mut out: Vec<BreakerStatus> = map
            .iter()
            .map(|(k, e)| BreakerStatus {
                key_id: k.clone(),
                state: match e.inner {
                    Inner::Closed => BreakerState::Closed,
                    Inner::Open { since } if now.duration_since(since) >= self.cooldown => BreakerState::HalfOpen,
                    Inner::Open { .. } => BreakerState::Open,
                    Inner::HalfOpen { .. } => BreakerState::HalfOpen,
                },
                consecutive_failures: e.consecutive_failures,
                opened_total: e.opened_total,
            })
            .collect();
        out.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        out
    }
}

/// The right to make one call. Its outcome is recorded once; dropped unrecorded (the
/// caller gave up on the stream) it counts as neither success nor failure, and a
/// probe's slot is freed for the next call.
pub(crate) struct Permit {
    breakers: Arc<Breakers>,
    key_id: String,
    probe: bool,
    done: bool,
}

impl Permit {
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    pub fn record(mut self, outcome: Outcome) {
        self.done = true;
        self.breakers.finish(&self.key_id, self.probe, outcome);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            self.breakers.finish(&self.key_id, self.probe, Outcome::Neutral);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breakers(clock: &ManualClock) -> Arc<Breakers> {
        Arc::new(Breakers::new(Arc::new(clock.clone()), 3, Duration::from_secs(30)))
    }

    fn state(b: &Breakers) -> (BreakerState, u32, u64) {
        let s = &b.statuses()[0];
        (s.state, s.consecutive_failures, s.opened_total)
    }

    #[test]
    fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
        let clock = ManualClock::new();
        let b = breakers(&clock);
        b.acquire("k").unwrap().record(Outcome::Failure);
        b.acquire("k").unwrap().record(Outcome::Failure);
        b.acquire("k").unwrap().record(Outcome::Success);
        assert_eq!(state(&b), (BreakerState::Closed, 0, 0));
        b.acquire("k").unwrap().record(Outcome::Neutral);
        for _ in 0..3 {
            b.acquire("k").unwrap().record(Outcome::Failure);
        }
        assert_eq!(state(&b), (BreakerState::Open, 3, 1));
        assert!(b.acquire("k").is_none());
        // Other keys are not affected.
        assert!(b.acquire("other").is_some());
    }

    #[test]
    fn half_open_lets_one_probe_through_which_closes_or_reopens() {
        let clock = ManualClock::new();
        let b = breakers(&clock);
        for _ in 0..3 {
            b.acquire("k").unwrap().record(Outcome::Failure);
        }
        clock.advance(Duration::from_secs(29));
        assert!(b.acquire("k").is_none());
        clock.advance(Duration::from_secs(1));
        assert_eq!(state(&b).0, BreakerState::HalfOpen);
        let probe = b.acquire("k").unwrap();
        assert!(probe.is_probe());
        assert!(b.acquire("k").is_none(), "only one probe at a time");
        probe.record(Outcome::Failure);
        assert_eq!(state(&b), (BreakerState::Open, 4, 2));
        assert!(b.acquire("k").is_none());
        clock.advance(Duration::from_secs(30));
        // A probe abandoned without an outcome frees the slot.
        drop(b.acquire("k").unwrap());
        let probe = b.acquire("k").unwrap();
        assert!(probe.is_probe());
        probe.record(Outcome::Success);
        assert_eq!(state(&b), (BreakerState::Closed, 0, 2));
        assert!(!b.acquire("k").unwrap().is_probe());
    }

    #[test]
    fn key_ids_are_fingerprints() {
        let id = key_id("gsk_live_secret");
        assert!(id.starts_with("k_") && id.len() == 14, "{id}");
        assert!(!id.contains("secret"));
        assert_eq!(id, key_id("gsk_live_secret"));
        assert_ne!(id, key_id("gsk_live_other"));
    }
}
