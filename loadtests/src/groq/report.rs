//! Reporting a `groq` run: the markdown table, the goals, the `RESULTS.md` section
//! (kept after `bench` rewrites the file) and `groq.csv`.

use super::*;

pub(super) fn one_line(s: &Summary) -> String {
    let d = |x: Option<Dist>| x.map_or("—".into(), |d| format!("p50 {:.2} p99 {:.2} max {:.2}", d.p50, d.p99, d.max));
    format!(
        "{}: {}/{} ok, added ms {}, rate ×{} (p1 ×{}), {} errors {:?}, {} differ, {:.1} s",
        s.target,
        s.ok,
        s.conversations,
        d(s.added),
        opt(s.rate_ratio_p50, 3),
        opt(s.rate_ratio_p1, 3),
        s.errors,
        s.error_kinds,
        s.mismatched,
        s.wall_s
    )
}

pub(super) fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or("—".into(), |v| format!("{v:.prec$}"))
}

/// The direct (baseline) summary of the same scenario as `s`.
pub(super) fn baseline_of<'a>(s: &Summary, all: &'a [Summary]) -> Option<&'a Summary> {
    all.iter().find(|b| b.target == "direct" && b.rate == s.rate && b.conversations == s.conversations)
}

pub fn markdown_table(all: &[Summary]) -> String {
    let mut t = String::from(
        "| rate tok/s | conversations | target | answered | added to 1st token ms p50 | p90 | p99 | max | send → Groq p50 / p99 | Groq → 1st token p50 / p99 | delivered tok/s p50 / p1 | ×rate p50 | ×rate p1 | ×fake's own p50 / p1 | added to last token ms p50 / p99 | all tokens/s | errors | answers ≠ fake's | target CPU % |\n\
         | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    let pair = |d: Option<Dist>| d.map_or("—".into(), |d| format!("{:.2} / {:.2}", d.p50, d.p99));
    for s in all {
        let a = s.added;
        let own = match (baseline_of(s, all).and_then(|b| b.tok_s_p50), s.tok_s_p50, s.tok_s_p1) {
            (Some(b), Some(p50), Some(p1)) if b > 0.0 => format!("{:.3} / {:.3}", p50 / b, p1 / b),
            _ => "—".into(),
        };
        let _ = writeln!(
            t,
            "| {:.0} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {own} | {} | {} | {} | {} | {} |",
            s.rate,
            s.conversations,
            s.target,
            s.ok,
            s.conversations,
            a.map_or("—".into(), |d| format!("{:.2}", d.p50)),
            a.map_or("—".into(), |d| format!("{:.2}", d.p90)),
            a.map_or("—".into(), |d| format!("{:.2}", d.p99)),
            a.map_or("—".into(), |d| format!("{:.2}", d.max)),
            pair(s.to_groq),
            pair(s.groq_to_first),
            opt(s.tok_s_p50, 0),
            opt(s.tok_s_p1, 0),
            opt(s.rate_ratio_p50, 3),
            opt(s.rate_ratio_p1, 3),
            pair(s.added_last),
            opt(s.all_tok_s, 0),
            s.errors,
            s.mismatched,
            opt(s.target_cpu_pct, 0),
        );
    }
    t
}

/// The goal lines, per scenario, for Aisle.
pub fn goals(all: &[Summary]) -> String {
    let mut g = String::new();
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    for s in all.iter().filter(|s| s.target == "aisle") {
        let base = baseline_of(s, all);
        let _ = writeln!(g, "- {:.0} tok/s × {} conversations:", s.rate, s.conversations);
        match s.added {
            Some(a) => {
                let _ = writeln!(
                    g,
                    "  - added to the first token p99 ≤ {GOAL_ADDED_P99_MS} ms: {} (p99 {:.2} ms, p50 {:.2} ms; direct from the fake: p99 {} ms)",
                    verdict(a.p99 <= GOAL_ADDED_P99_MS),
                    a.p99,
                    a.p50,
                    base.and_then(|b| b.added).map_or("—".into(), |b| format!("{:.2}", b.p99)),
                );
            }
            None => {
                let _ = writeln!(g, "  - added to the first token p99 ≤ {GOAL_ADDED_P99_MS} ms: NOT met (no conversation got a token)");
            }
        }
        let own = base.and_then(|b| b.tok_s_p50).filter(|b| *b > 0.0);
        match (own, s.tok_s_p50, s.tok_s_p1) {
            (Some(own), Some(p50), Some(p1)) => {
                let (r50, r1) = (p50 / own, p1 / own);
                let last = |x: Option<&Summary>| x.and_then(|x| x.added_last).map_or("—".into(), |d| format!("{:.1}", d.p50));
                let bunched;
                let v = if r50 > 1.0 / GOAL_RATE_RATIO {
                    bunched = format!(
                        "NOT met: the tokens came in bursts, faster than the fake makes them — Aisle fell behind the stream and caught up (added to the last token p50 {} ms, direct {} ms)",
                        last(Some(s)),
                        last(base)
                    );
                    bunched.as_str()
                } else if r1 >= GOAL_RATE_RATIO {
                    "met (every conversation but the worst 1 %)"
                } else if r50 >= GOAL_RATE_RATIO {
                    "met by the median conversation, NOT by the worst 1 %"
                } else {
                    "NOT met"
                };
                let _ = writeln!(
                    g,
                    "  - delivered rate ≥ {GOAL_RATE_RATIO}× the fake's own: {v} (p50 {r50:.3}×, p1 {r1:.3}× of the fake's own {own:.0} tok/s measured direct; of the nominal {:.0} tok/s: p50 {:.3}×, p1 {:.3}×)",
                    s.rate,
                    p50 / s.rate,
                    p1 / s.rate,
                );
            }
            _ => {
                let _ = writeln!(g, "  - delivered rate ≥ {GOAL_RATE_RATIO}× the fake's own: not measured");
            }
        }
        let clean = s.errors == 0 && s.mismatched == 0;
        let mut line = format!(
            "  - 0 errors, every answer the fake's text: {} ({} errors, {} of {} answers differ",
            verdict(clean),
            s.errors,
            s.mismatched,
            s.ok
        );
        if !s.error_kinds.is_empty() {
            let kinds: Vec<String> = s.error_kinds.iter().map(|(k, n)| format!("{n}× {k}")).collect();
            let _ = write!(line, "; {}", kinds.join(", "));
        }
        line.push(')');
        let _ = writeln!(g, "{line}");
    }
    g
}

/// This bench's section of `RESULTS.md`.
pub fn section(info: &RunInfo, all: &[Summary]) -> String {
    let mut s = format!("{SECTION}\n\n");
    s.push_str(
        "Latest run of `loadtests groq` (regenerated by every run; history in `groq.csv`, plotted in \
         `groq.svg`; how to run and read it: `README.md`, \"groq\"). Every conversation sends one \
         message at the same moment as the others; the fake Groq answers each with the same text, \
         one token every 1/rate s.\n\n",
    );
    let _ = writeln!(s, "- date: {}", info.date);
    let _ = writeln!(s, "- machine: {} cores (`nproc`), {}", info.nproc, info.cpu);
    let _ = writeln!(s, "- background load before the run: {:.0}% of all cores busy with other processes", info.background_cpu_pct);
    let _ = writeln!(s, "- git commit: {}", info.commit);
    let _ = writeln!(s, "- settings: {}\n", info.settings);
    s.push_str(&markdown_table(all));
    s.push_str(
        "\n*added to 1st token* = (first token at the client − send) − 1/rate (the fake waits one \
         token interval before its first token); *send → Groq* is the part before the fake got the \
         request, *Groq → 1st token* the part after (minus 1/rate). *Delivered tok/s* = (tokens − 1) \
         / (last token − first token) per conversation; *×rate* is that over the nominal rate, \
         *×fake's own* over the median rate the same fake delivered to the direct client in the \
         same run; a rate above the fake's own means the tokens were held and then sent in a \
         burst. *added to last token* = (last token − send) − tokens/rate: how far behind the \
         fake's pace the answer ended. *all tokens/s* = every token of the scenario over (the last \
         token − the first send): the aggregate the target delivered. `direct` rows: reqwest straight to the fake (no Aisle), the same number of \
         concurrent streams, measured the same way: what the fake and the client alone give on \
         this machine at that moment. *target CPU %* is Aisle's process, % of one core, while the \
         scenario ran.\n\n### Goals (issue 12)\n\n",
    );
    s.push_str(&goals(all));
    let mut notes: Vec<String> = all
        .iter()
        .filter(|x| x.repeats + x.untagged + x.not_at_fake + x.other_token_count > 0)
        .map(|x| {
            format!(
                "- {:.0} tok/s × {} vs {}: {} repeated and {} untagged requests at the fake, {} conversations never reached it, {} answers with another number of token events than {}",
                x.rate, x.conversations, x.target, x.repeats, x.untagged, x.not_at_fake, x.other_token_count, x.tokens
            )
        })
        .collect();
    notes.extend(all.iter().filter_map(|x| {
        let (n, first) = x.log_problems.as_ref()?;
        Some(format!("- {:.0} tok/s × {}: Aisle logged {n} warnings/errors meanwhile, the first: `{}`", x.rate, x.conversations, first.replace('`', "'")))
    }));
    if !notes.is_empty() {
        s.push_str("\n### Details\n\n");
        s.push_str(&notes.join("\n"));
        s.push('\n');
    }
    s
}

/// `old` (a `RESULTS.md`) with this bench's section put in: in place of the previous one
/// (up to the next `## ` heading), else at the end; after [`KEPT_MARKER`] (added if
/// missing), so `loadtests bench`'s rewrite keeps it.
pub fn put_section(old: &str, section: &str) -> String {
    let section = format!("{}\n", section.trim_end());
    let mut out = String::with_capacity(old.len() + section.len());
    if let Some(start) = find_heading(old, SECTION) {
        let after = start + SECTION.len();
        let end = find_next_h2(old, after).unwrap_or(old.len());
        out.push_str(&old[..start]);
        out.push_str(&section);
        if end < old.len() {
            out.push('\n');
            out.push_str(&old[end..]);
        }
        return out;
    }
    out.push_str(old.trim_end());
    if !old.contains(KEPT_MARKER) {
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(KEPT_MARKER);
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(&section);
    out
}

/// Byte offset of a line that is exactly `heading`.
pub(super) fn find_heading(text: &str, heading: &str) -> Option<usize> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == heading {
            return Some(at);
        }
        at += line.len();
    }
    None
}

/// Byte offset of the first `## ` heading line starting at or after `from`.
pub(super) fn find_next_h2(text: &str, from: usize) -> Option<usize> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at >= from && line.starts_with("## ") {
            return Some(at);
        }
        at += line.len();
    }
    None
}

/// Appends one line per summary to `groq.csv` (header first if the file is new).
pub fn append_csv(path: &Path, info: &RunInfo, all: &[Summary]) -> Result<()> {
    let new = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
    let mut s = String::new();
    if new {
        s.push_str(CSV_HEADER);
        s.push('\n');
    }
    for x in all {
        let d = |v: Option<Dist>, f: fn(&Dist) -> f64| v.map_or(String::new(), |d| format!("{:.3}", f(&d)));
        let o = |v: Option<f64>, prec: usize| v.map_or(String::new(), |v| format!("{v:.prec$}"));
        let _ = writeln!(
            s,
            "{},{},{},{},{:.0},{:.0},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.2},{},{},{}",
            info.date,
            clean(&info.commit),
            info.nproc,
            clean(&info.cpu),
            info.background_cpu_pct,
            x.rate,
            x.conversations,
            x.tokens,
            x.target,
            x.ok,
            x.errors,
            x.mismatched,
            d(x.added, |d| d.p50),
            d(x.added, |d| d.p90),
            d(x.added, |d| d.p99),
            d(x.added, |d| d.max),
            d(x.to_groq, |d| d.p50),
            d(x.to_groq, |d| d.p99),
            d(x.groq_to_first, |d| d.p50),
            d(x.groq_to_first, |d| d.p99),
            o(x.rate_ratio_p50, 4),
            o(x.rate_ratio_p1, 4),
            o(x.tok_s_p50, 1),
            o(x.tok_s_p1, 1),
            o(x.target_cpu_pct, 0),
            o(x.bench_cpu_pct, 0),
            x.wall_s,
            d(x.added_last, |d| d.p50),
            d(x.added_last, |d| d.p99),
            o(x.all_tok_s, 1),
        );
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(s.as_bytes()).with_context(|| format!("appending to {}", path.display()))
}

pub(super) fn clean(s: &str) -> String {
    s.replace([',', '"', '\n'], " ")
}
