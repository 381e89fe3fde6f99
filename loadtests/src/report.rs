//! Reporting: the markdown table printed by `bench`, `RESULTS.md` (latest run) and
//! `results.csv` (one line per run and scenario, appended, so history accumulates).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::stats::{Latency, Outcome};

/// Aisle's ping throughput must reach this fraction of echo's.
pub const GOAL_PING_RATIO: f64 = 0.85;
/// Cart p99 at the target rate, µs, to the `ack` and to the `cart` event (the effect).
pub const GOAL_CART_P99_US: u64 = 5_000;
/// A run whose achieved send rate is below this fraction of the target is flagged.
pub const MIN_ACHIEVED_FRACTION: f64 = 0.95;

pub const CSV_HEADER: &str = "date,commit,nproc,cpu,background_cpu_pct,scenario,target,clients,duration_s,rate_target,achieved_rate,throughput,p50_us,p90_us,p99_us,max_us,errors,ratio_vs_echo,effect_p50_us,effect_p90_us,effect_p99_us,effect_max_us,effect_ratio_vs_echo";

/// The header before the cart's effect latency was measured: a file that starts with it
/// gets the new header and its old lines empty effect columns (see `append_csv`).
const CSV_HEADER_V1: &str = "date,commit,nproc,cpu,background_cpu_pct,scenario,target,clients,duration_s,rate_target,achieved_rate,throughput,p50_us,p90_us,p99_us,max_us,errors,ratio_vs_echo";

/// Where and on what a run happened.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub date: String,
    pub commit: String,
    pub nproc: usize,
    pub cpu: String,
    /// Share of all cores other processes kept busy just before the run, percent.
    pub background_cpu_pct: f64,
    /// Free-form settings line (client counts, durations, echo mode...).
    pub settings: String,
}

impl RunInfo {
    pub fn collect(repo_dir: &Path, settings: String, background_cpu_pct: f64) -> Self {
        let commit = std::process::Command::new("git")
            .arg("-C")
            .arg(repo_dir)
            .args(["rev-parse", "--short", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        Self {
            date: utc_now(),
            commit,
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            background_cpu_pct,
            settings,
        }
    }
}

/// Aisle/echo ratio of a row: ping → throughput ratio (higher is better), cart → p99
/// latency ratio (lower is better). `None` for baseline rows or without a baseline.
pub fn ratio(row: &Outcome, all: &[Outcome]) -> Option<f64> {
    if row.target == "echo" {
        return None;
    }
    let base = all.iter().find(|o| o.scenario == row.scenario && o.target == "echo")?;
    let (a, b) = match row.scenario.as_str() {
        "ping" => (row.throughput, base.throughput),
        _ => (row.latency.p99 as f64, base.latency.p99 as f64),
    };
    (b > 0.0).then(|| a / b)
}

/// Aisle/echo ratio of the cart's effect p99 (lower is better); `None` without both.
pub fn effect_ratio(row: &Outcome, all: &[Outcome]) -> Option<f64> {
    if row.target == "echo" {
        return None;
    }
    let base = all.iter().find(|o| o.scenario == row.scenario && o.target == "echo")?;
    let (a, b) = (row.effect.as_ref()?.latency.p99 as f64, base.effect.as_ref()?.latency.p99 as f64);
    (b > 0.0).then(|| a / b)
}

pub fn markdown_table(all: &[Outcome]) -> String {
    let mut s = String::from(
        "| scenario | target | clients | throughput /s | p50 µs | p90 µs | p99 µs | max µs | errors | Aisle/echo |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for o in all {
        let l = &o.latency;
        let scenario = match (o.rate_target, o.achieved_rate) {
            (Some(t), Some(a)) => format!("{} @ {t:.0}/s (sent {a:.0}/s)", o.scenario),
            _ => o.scenario.clone(),
        };
        let r = match (ratio(o, all), o.scenario.as_str()) {
            (Some(r), "ping") => format!("{r:.2}× throughput"),
            (Some(r), _) => format!("{r:.2}× p99"),
            (None, _) if o.target == "echo" => "baseline".into(),
            (None, _) => "—".into(),
        };
        let to_ack = if o.effect.is_some() { " → ack" } else { "" };
        let _ = writeln!(
            s,
            "| {scenario}{to_ack} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {r} |",
            o.target, o.clients, o.throughput, l.p50, l.p90, l.p99, l.max, o.errors
        );
        if let Some(e) = &o.effect {
            let l = &e.latency;
            let r = match effect_ratio(o, all) {
                Some(r) => format!("{r:.2}× p99"),
                None if o.target == "echo" => "baseline".into(),
                None => "—".into(),
            };
            let per_s = if o.duration_s > 0.0 { l.count as f64 / o.duration_s } else { 0.0 };
            let _ = writeln!(
                s,
                "| {scenario} → `cart` event | {} | {} | {per_s:.0} | {} | {} | {} | {} | {} | {r} |",
                o.target, o.clients, l.p50, l.p90, l.p99, l.max, o.errors
            );
        }
    }
    s
}

/// The goal lines, each `met`, `NOT met` or `not measured`.
pub fn goals(all: &[Outcome]) -> String {
    let mut s = String::new();
    let ping = all.iter().find(|o| o.scenario == "ping" && o.target == "aisle");
    let ping_line = match ping.and_then(|p| ratio(p, all)) {
        Some(r) => format!("{} ({r:.2}×)", verdict(r >= GOAL_PING_RATIO)),
        None => "not measured".into(),
    };
    let _ = writeln!(s, "- Aisle ping throughput ≥ {GOAL_PING_RATIO}× echo: {ping_line}");
    let cart = all.iter().find(|o| o.scenario == "cart" && o.target == "aisle");
    let cart_line = |latency: Option<&Latency>| match (cart, latency) {
        (Some(c), Some(l)) if l.count > 0 => {
            let target = c.rate_target.unwrap_or(0.0);
            let sent = c.achieved_rate.unwrap_or(0.0);
            let rate_ok = sent >= MIN_ACHIEVED_FRACTION * target;
            let ok = l.p99 <= GOAL_CART_P99_US && rate_ok && c.errors == 0;
            let mut line = format!(
                "{} (p99 {:.2} ms at {sent:.0}/s sent, {} errors)",
                verdict(ok),
                l.p99 as f64 / 1000.0,
                c.errors
            );
            if !rate_ok {
                line.push_str(" — the generator did not reach the target rate");
            }
            line
        }
        (Some(_), Some(_)) => "NOT met (nothing was measured: no command answered)".into(),
        (Some(_), None) => "not measured (a run without effect timing)".into(),
        (None, _) => "not measured".into(),
    };
    let _ = writeln!(
        s,
        "- cart ack p99 ≤ {} ms at the target rate, without errors: {}",
        GOAL_CART_P99_US / 1000,
        cart_line(cart.map(|c| &c.latency))
    );
    let _ = writeln!(
        s,
        "- cart effect (the `cart` event) p99 ≤ {} ms at the target rate, without errors: {}",
        GOAL_CART_P99_US / 1000,
        cart_line(cart.and_then(|c| c.effect.as_ref()).map(|e| &e.latency))
    );
    s
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT met" }
}

/// The line after which `RESULTS.md` holds sections this generator does not own
/// (written by hand or by other benches); a rewrite keeps them as they are.
pub const KEPT_MARKER: &str = "<!-- Sections below are kept as they are by `loadtests bench`. -->";

/// What follows `KEPT_MARKER` in `old` (the marker included), if it is there.
fn kept_sections(old: &str) -> Option<&str> {
    old.find(KEPT_MARKER).map(|at| &old[at..])
}

/// Rewrites `RESULTS.md` with this run, keeping the sections after `KEPT_MARKER`.
pub fn write_results_md(path: &Path, info: &RunInfo, all: &[Outcome]) -> Result<()> {
    let kept = std::fs::read_to_string(path).ok().and_then(|old| kept_sections(&old).map(str::to_string));
    let mut s = String::from("# Aisle load-test results\n\n");
    s.push_str(
        "Latest run of `loadtests bench` (regenerated by every run; the history of all runs is \
         in `results.csv`, plotted in `results.svg`). How to run and how to read this: `README.md`.\n\n",
    );
    let _ = writeln!(s, "- date: {}", info.date);
    let _ = writeln!(s, "- machine: {} cores (`nproc`), {}", info.nproc, info.cpu);
    let _ = writeln!(
        s,
        "- background load before the run: {:.0}% of all cores busy with other processes",
        info.background_cpu_pct
    );
    let _ = writeln!(s, "- git commit: {}", info.commit);
    let _ = writeln!(s, "- settings: {}\n", info.settings);
    s.push_str("## Results\n\n");
    s.push_str(&markdown_table(all));
    s.push_str(
        "\nLatencies are µs: ping from send to `pong`; cart from the scheduled send time to the \
         `ack` (`→ ack`) and to the `cart` event that shows the command's effect (`→ cart event`; \
         its throughput is effects timed per second). Aisle/echo is the throughput ratio for ping \
         (higher is better) and the p99 ratio for cart (lower is better).\n\n## Goals\n\n",
    );
    s.push_str(&goals(all));
    s.push_str("\n## Details\n\n");
    for o in all {
        let _ = writeln!(s, "- {} vs {}: {}", o.scenario, o.target, o.notes);
    }
    if let Some(kept) = kept {
        s.push('\n');
        s.push_str(&kept);
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

/// Appends one CSV line per outcome (writing the header if the file is new). A file
/// written before the effect columns existed is first rewritten with the new header,
/// its old lines given empty effect columns, so every line matches the header.
pub fn append_csv(path: &Path, info: &RunInfo, all: &[Outcome]) -> Result<()> {
    upgrade_csv(path)?;
    let new = !path.exists() || std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut s = String::new();
    if new {
        s.push_str(CSV_HEADER);
        s.push('\n');
    }
    for o in all {
        let l = &o.latency;
        let opt = |v: Option<f64>, prec: usize| v.map(|v| format!("{v:.prec$}")).unwrap_or_default();
        let effect = match &o.effect {
            Some(e) => {
                let e = &e.latency;
                format!("{},{},{},{},{}", e.p50, e.p90, e.p99, e.max, opt(effect_ratio(o, all), 4))
            }
            None => ",,,,".into(),
        };
        let _ = writeln!(
            s,
            "{},{},{},{},{:.0},{},{},{},{:.1},{},{},{:.1},{},{},{},{},{},{},{effect}",
            info.date,
            csv_field(&info.commit),
            info.nproc,
            csv_field(&info.cpu),
            info.background_cpu_pct,
            csv_field(&o.scenario),
            csv_field(&o.target),
            o.clients,
            o.duration_s,
            opt(o.rate_target, 0),
            opt(o.achieved_rate, 1),
            o.throughput,
            l.p50,
            l.p90,
            l.p99,
            l.max,
            o.errors,
            opt(ratio(o, all), 4),
        );
    }
    f.write_all(s.as_bytes()).with_context(|| format!("appending to {}", path.display()))
}

/// Rewrites a `results.csv` that still has the header without effect columns.
fn upgrade_csv(path: &Path) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some(CSV_HEADER_V1) {
        return Ok(());
    }
    let pad = ",".repeat(CSV_HEADER.split(',').count() - CSV_HEADER_V1.split(',').count());
    let mut out = format!("{CSV_HEADER}\n");
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(out, "{}{pad}", line.trim_end());
    }
    std::fs::write(path, out).with_context(|| format!("rewriting {}", path.display()))
}

/// Jiffies (busy, total) summed over all cores, from `/proc/stat`.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// Percent of all cores busy during `sample` (0 when `/proc/stat` is unreadable).
pub async fn cpu_busy_pct(sample: std::time::Duration) -> f64 {
    let Some((b0, t0)) = cpu_jiffies() else { return 0.0 };
    tokio::time::sleep(sample).await;
    let Some((b1, t1)) = cpu_jiffies() else { return 0.0 };
    if t1 <= t0 { 0.0 } else { 100.0 * (b1 - b0) as f64 / (t1 - t0) as f64 }
}

/// Commas and quotes would break the simple CSV; they never matter in these fields.
fn csv_field(s: &str) -> String {
    s.replace([',', '"', '\n'], " ")
}

/// Current UTC time as RFC 3339 (`2026-01-31T12:00:00Z`), without a date crate.
pub fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Latency;

    #[test]
    fn sections_after_the_marker_are_kept() {
        let old = format!("# old run\n\n## Results\n\nstale\n\n{KEPT_MARKER}\n\n## Retrieval quality (WANDS)\n\nkept\n");
        assert_eq!(kept_sections(&old), Some(&old[old.find(KEPT_MARKER).unwrap()..]));
        assert!(kept_sections(&old).unwrap().contains("## Retrieval quality (WANDS)\n\nkept"));
        assert_eq!(kept_sections("# no marker\n"), None);
    }

    fn outcome(scenario: &str, target: &str, tput: f64, p99: u64) -> Outcome {
        Outcome {
            scenario: scenario.into(),
            target: target.into(),
            clients: 2,
            duration_s: 1.0,
            rate_target: (scenario == "cart").then_some(2000.0),
            achieved_rate: (scenario == "cart").then_some(2000.0),
            throughput: tput,
            latency: Latency { count: 10, p50: 1, p90: 2, p99, max: p99, mean: 1.0 },
            hist: crate::stats::new_hist(),
            effect: (scenario == "cart").then(|| crate::stats::Effect {
                latency: Latency { count: 10, p50: 2, p90: 3, p99: 2 * p99, max: 2 * p99, mean: 2.0 },
                hist: crate::stats::new_hist(),
            }),
            errors: 0,
            notes: String::new(),
        }
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_767_225_599), "2025-12-31T23:59:59Z");
    }

    #[test]
    fn ratios_and_goals() {
        let all = vec![
            outcome("ping", "echo", 1000.0, 100),
            outcome("ping", "aisle", 900.0, 120),
            outcome("cart", "echo", 2000.0, 400),
            outcome("cart", "aisle", 2000.0, 6000),
        ];
        assert_eq!(ratio(&all[0], &all), None);
        assert!((ratio(&all[1], &all).unwrap() - 0.9).abs() < 1e-9);
        assert!((ratio(&all[3], &all).unwrap() - 15.0).abs() < 1e-9);
        assert_eq!(effect_ratio(&all[1], &all), None, "ping has no effect latency");
        assert!((effect_ratio(&all[3], &all).unwrap() - 15.0).abs() < 1e-9);
        let g = goals(&all);
        assert!(g.contains("echo: met (0.90×)"), "{g}");
        assert!(g.contains("cart ack p99 ≤ 5 ms at the target rate, without errors: NOT met (p99 6.00 ms"), "{g}");
        assert!(g.contains("cart effect (the `cart` event) p99 ≤ 5 ms at the target rate, without errors: NOT met (p99 12.00 ms"), "{g}");
        let t = markdown_table(&all);
        // Two ping rows, and two rows per cart outcome (to the ack, to the effect).
        assert_eq!(t.lines().count(), 8);
        assert!(t.contains("0.90× throughput") && t.contains("15.00× p99"));
        assert!(t.contains("| cart @ 2000/s (sent 2000/s) → ack | aisle | 2 | 2000 | 1 | 2 | 6000 | 6000 | 0 | 15.00× p99 |"), "{t}");
        assert!(t.contains("| cart @ 2000/s (sent 2000/s) → `cart` event | aisle | 2 | 10 | 2 | 3 | 12000 | 12000 | 0 | 15.00× p99 |"), "{t}");
        assert!(t.contains("| ping | echo |"), "ping rows keep their name: {t}");
    }

    #[test]
    fn the_effect_goal_is_met_on_its_own_numbers() {
        let mut all = vec![outcome("cart", "echo", 2000.0, 400), outcome("cart", "aisle", 2000.0, 2000)];
        let g = goals(&all);
        assert!(g.contains("cart ack p99 ≤ 5 ms at the target rate, without errors: met (p99 2.00 ms"), "{g}");
        assert!(g.contains("without errors: met (p99 4.00 ms"), "{g}");
        all[1].effect.as_mut().unwrap().latency.p99 = 7000;
        let g = goals(&all);
        assert!(g.contains("without errors: NOT met (p99 7.00 ms"), "{g}");
        all[1].effect = None;
        assert!(goals(&all).contains("cart effect (the `cart` event) p99 ≤ 5 ms at the target rate, without errors: not measured"));
    }

    #[test]
    fn csv_lines_match_the_header() {
        let dir = std::env::temp_dir().join(format!("loadtests-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.csv");
        let info = RunInfo {
            date: "d".into(),
            commit: "c".into(),
            nproc: 2,
            cpu: "Xeon, v2".into(),
            background_cpu_pct: 3.0,
            settings: String::new(),
        };
        let all = vec![outcome("ping", "echo", 1.0, 1), outcome("cart", "aisle", 1.0, 1)];
        append_csv(&path, &info, &all).unwrap();
        append_csv(&path, &info, &all).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let cols = CSV_HEADER.split(',').count();
        assert_eq!(text.lines().count(), 5);
        assert!(text.lines().all(|l| l.split(',').count() == cols), "{text}");
        let cart = text.lines().find(|l| l.contains(",cart,aisle,")).unwrap();
        assert!(cart.ends_with(",2,3,2,2,"), "the effect columns, no echo to compare: {cart}");
        let ping = text.lines().find(|l| l.contains(",ping,echo,")).unwrap();
        assert!(ping.ends_with(",,,,,"), "ping has no effect columns: {ping}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A `results.csv` from before the effect columns gets the new header, and its old
    /// lines empty effect columns, before the first new line is appended.
    #[test]
    fn an_old_csv_is_upgraded_in_place() {
        let dir = std::env::temp_dir().join(format!("loadtests-csv-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.csv");
        let old_line = "2026-11-22T22:45:25Z,baa11b2,2,Intel(R) Xeon(R) Processor,1,ping,echo,50,10.0,,,104646.2,457,662,1064,10239,0,";
        std::fs::write(&path, format!("{CSV_HEADER_V1}\n{old_line}\n")).unwrap();
        let info = RunInfo { date: "d".into(), commit: "c".into(), nproc: 2, cpu: "x".into(), background_cpu_pct: 0.0, settings: String::new() };
        append_csv(&path, &info, &[outcome("cart", "aisle", 1.0, 1)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines[1], format!("{old_line},,,,,"));
        let cols = CSV_HEADER.split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols), "{text}");
        // A second run does not pad again.
        append_csv(&path, &info, &[outcome("cart", "aisle", 1.0, 1)]).unwrap();
        let again = std::fs::read_to_string(&path).unwrap();
        assert!(again.starts_with(&text) && again.lines().count() == 4, "{again}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
