//! Latency histograms and the per-scenario outcome every subcommand reports.
//!
//! Latencies are recorded in microseconds in an `hdrhistogram` with 3 significant
//! digits (1 µs .. 1 h); values outside that range are clamped, never dropped.

use std::time::Duration;

use hdrhistogram::Histogram;

/// A histogram for latencies in µs, 1 µs ..= 1 h, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("static histogram bounds are valid")
}

/// Records `d` in µs (at least 1 µs, clamped to the histogram's range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
    h.saturating_record(us);
}

/// Percentiles of a latency histogram, in µs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

impl Latency {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

/// A second latency of a scenario: for cart, scheduled send → the `cart` event that
/// shows the command's effect (the main `latency` is to the `ack`).
#[derive(Debug, Clone)]
pub struct Effect {
    pub latency: Latency,
    pub hist: Histogram<u64>,
}

/// What one scenario run against one target measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `ping` or `cart`.
    pub scenario: String,
    /// `echo` (the baseline) or `aisle`; free text for standalone runs.
    pub target: String,
    pub clients: usize,
    /// Length of the measured window (after warm-up), seconds.
    pub duration_s: f64,
    /// Open-loop target rate (cart); `None` for closed-loop scenarios (ping).
    pub rate_target: Option<f64>,
    /// Commands actually sent per second in the window (open-loop scenarios).
    pub achieved_rate: Option<f64>,
    /// Completed round trips (ping) or acknowledged commands (cart) per second.
    pub throughput: f64,
    pub latency: Latency,
    /// The latency histogram itself, so segments of one scenario can be merged.
    pub hist: Histogram<u64>,
    /// Cart: the latency to the effect (`cart` event); `None` for ping.
    pub effect: Option<Effect>,
    /// Error frames, failed clients and unanswered commands together.
    pub errors: u64,
    /// Scenario-specific details (cart events, send lag, error codes...).
    pub notes: String,
}

impl Outcome {
    /// Combines two measured segments of the same scenario and target (rounds of an
    /// interleaved run): counts and histograms add up, rates are over the total time.
    pub fn merge(mut self, other: &Outcome) -> Outcome {
        let (a, b) = (self.duration_s, other.duration_s);
        let total = a + b;
        if total > 0.0 {
            self.throughput = (self.throughput * a + other.throughput * b) / total;
            self.achieved_rate = match (self.achieved_rate, other.achieved_rate) {
                (Some(x), Some(y)) => Some((x * a + y * b) / total),
                (x, y) => x.or(y),
            };
        }
        self.duration_s = total;
        self.hist.add(&other.hist).expect("latency histograms share their bounds");
        self.latency = Latency::of(&self.hist);
        self.effect = match (self.effect.take(), &other.effect) {
            (Some(mut a), Some(b)) => {
                a.hist.add(&b.hist).expect("latency histograms share their bounds");
                a.latency = Latency::of(&a.hist);
                Some(a)
            }
            (a, b) => a.or_else(|| b.clone()),
        };
        self.errors += other.errors;
        if !other.notes.is_empty() {
            self.notes = if self.notes.is_empty() {
                other.notes.clone()
            } else {
                format!("{} | {}", self.notes, other.notes)
            };
        }
        self
    }

    /// One human-readable paragraph, for the standalone subcommands.
    pub fn describe(&self) -> String {
        let l = &self.latency;
        let mut s = format!(
            "{} vs {}: {} clients, {:.1} s measured{}\n  throughput {:.0}/s, {} samples\n  latency µs: p50 {} p90 {} p99 {} max {} (mean {:.0})\n  errors {}",
            self.scenario,
            self.target,
            self.clients,
            self.duration_s,
            self.rate_target.map(|r| format!(", target {r:.0}/s")).unwrap_or_default(),
            self.throughput,
            l.count,
            l.p50,
            l.p90,
            l.p99,
            l.max,
            l.mean,
            self.errors,
        );
        if let Some(e) = &self.effect {
            let l = &e.latency;
            s.push_str(&format!(
                "\n  to the effect (`cart` event), µs: p50 {} p90 {} p99 {} max {} (mean {:.0}), {} samples",
                l.p50, l.p90, l.p99, l.max, l.mean, l.count
            ));
        }
        if !self.notes.is_empty() {
            s.push_str("\n  ");
            s.push_str(&self.notes);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = new_hist();
        for us in 1..=1000u64 {
            record(&mut h, Duration::from_micros(us));
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 1000);
        assert!((499..=501).contains(&l.p50), "{l:?}");
        assert!((989..=991).contains(&l.p99), "{l:?}");
        assert_eq!(l.max, 1000);
    }

    #[test]
    fn merging_segments_adds_counts_and_weights_rates() {
        let seg = |tput: f64, us: u64, n: u64| {
            let mut h = new_hist();
            for _ in 0..n {
                record(&mut h, Duration::from_micros(us));
            }
            Outcome {
                scenario: "ping".into(),
                target: "echo".into(),
                clients: 1,
                duration_s: 5.0,
                rate_target: None,
                achieved_rate: None,
                throughput: tput,
                latency: Latency::of(&h),
                effect: Some(Effect { latency: Latency::of(&h), hist: h.clone() }),
                hist: h,
                errors: 1,
                notes: "x".into(),
            }
        };
        let m = seg(100.0, 10, 500).merge(&seg(300.0, 1000, 1500));
        assert_eq!(m.duration_s, 10.0);
        assert_eq!(m.throughput, 200.0);
        assert_eq!(m.latency.count, 2000);
        assert!(m.latency.p50 >= 999, "{:?}", m.latency);
        assert_eq!(m.errors, 2);
        assert_eq!(m.notes, "x | x");
        let e = m.effect.expect("both segments had an effect latency");
        assert_eq!(e.latency.count, 2000);
        assert!(e.latency.p50 >= 999, "{:?}", e.latency);
    }

    #[test]
    fn empty_histogram_is_all_zero() {
        let l = Latency::of(&new_hist());
        assert_eq!((l.count, l.p99, l.max), (0, 0, 0));
    }

    #[test]
    fn sub_microsecond_and_huge_values_are_clamped_not_lost() {
        let mut h = new_hist();
        record(&mut h, Duration::from_nanos(10));
        record(&mut h, Duration::from_secs(10 * 3600));
        assert_eq!(h.len(), 2);
    }
}
