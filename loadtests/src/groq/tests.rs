//! Unit tests of the pure parts of `groq`.

use super::*;

#[test]
fn tags_are_found_in_the_shoppers_words_only_whole() {
    assert_eq!(find_tag("bench-17: do you have hoodies?").as_deref(), Some("bench-17"));
    assert_eq!(find_tag("so, direct-3: hi").as_deref(), Some("direct-3"));
    assert_eq!(find_tag("bench-: x bench-9").as_deref(), Some("bench-9"));
    assert_eq!(find_tag("workbench-4"), None, "a word ending in bench- is not a tag");
    assert_eq!(find_tag("do you have hoodies?"), None);
    let req = json!({"messages": [
        {"role": "system", "content": "bench-1 in the prompt does not count"},
        {"role": "user", "content": "bench-2: first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "bench-5: do you have hoodies?"},
        {"role": "tool", "content": "bench-6"}
    ]});
    assert_eq!(request_tag(&req).as_deref(), Some("bench-5"));
    assert_eq!(request_tag(&json!({"messages": []})), None);
    assert_eq!(request_tag(&json!({})), None);
}

#[test]
fn the_answer_has_the_asked_number_of_tokens() {
    let p = answer_pieces(60);
    assert_eq!(p.len(), 60);
    assert!(!p[0].starts_with(' ') && p[1..].iter().all(|t| t.starts_with(' ') && t.len() > 1));
    assert_eq!(tokens(&p.concat()), p, "the fake's tokenizer gives the same pieces back");
}

#[test]
fn nearest_rank_percentiles() {
    let v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&v, 0.5), 50.0);
    assert_eq!(percentile(&v, 0.99), 99.0);
    assert_eq!(percentile(&v, 0.01), 1.0);
    assert_eq!(percentile(&v, 1.0), 100.0);
    assert_eq!(percentile(&[7.0], 0.99), 7.0);
    let d = Dist::of(vec![3.0, 1.0, 2.0]).unwrap();
    assert_eq!((d.n, d.p50, d.p99, d.max), (3, 2.0, 3.0, 3.0));
    assert_eq!(Dist::of(Vec::new()), None);
}

/// A record: sent at `t0 + send`, tokens every `gap` from `t0 + first`.
fn rec(t0: Instant, tag: &str, send_ms: u64, first_ms: u64, gap_us: u64, n: usize, text: &str) -> Record {
    let at = |us: u64| t0 + Duration::from_micros(us);
    let mut r = Record::new(tag.into());
    r.send = Some(at(send_ms * 1000));
    for k in 0..n as u64 {
        r.token(at(first_ms * 1000 + k * gap_us));
    }
    r.text = Some(text.into());
    r
}

#[test]
fn figures_from_recorded_instants() {
    let t0 = Instant::now();
    // 100 tok/s nominal: the fake's first token comes 10 ms after the request.
    let mut records: Vec<Record> = (0..98).map(|i| rec(t0, &format!("bench-{i}"), 0, 12, 10_000, 5, "abc")).collect();
    // One slow conversation: first token 50 ms after send, tokens every 20 ms.
    records.push(rec(t0, "bench-98", 0, 50, 20_000, 5, "abc"));
    // One that differs from the fake's text, and one that failed.
    records.push(rec(t0, "bench-99", 0, 12, 10_000, 5, "abd"));
    let mut failed = Record::new("bench-100".into());
    failed.error = Some("timeout (60 s)".into());
    records.push(failed);
    let mut arrivals = HashMap::new();
    for i in 0..100 {
        arrivals.insert(format!("bench-{i}"), t0 + Duration::from_millis(1));
    }
    let s = summarize("aisle", 100.0, 5, "abc", &records, &arrivals);
    assert_eq!((s.conversations, s.ok, s.errors, s.mismatched), (101, 100, 1, 1));
    assert_eq!(s.error_kinds.get("timeout (60 s)"), Some(&1));
    assert_eq!(s.not_at_fake, 1, "the failed one never reached the fake");
    let a = s.added.unwrap();
    assert_eq!(a.n, 100);
    assert!((a.p50 - 2.0).abs() < 1e-6, "12 ms − 10 ms: {a:?}");
    assert!((a.p99 - 2.0).abs() < 1e-6, "the slow one is above p99 of 100: {a:?}");
    assert!((a.max - 40.0).abs() < 1e-6, "{a:?}");
    let (to, after) = (s.to_groq.unwrap(), s.groq_to_first.unwrap());
    assert!((to.p50 - 1.0).abs() < 1e-6 && (after.p50 - 1.0).abs() < 1e-6, "{to:?} {after:?}");
    assert!((s.tok_s_p50.unwrap() - 100.0).abs() < 1e-6);
    assert!((s.rate_ratio_p50.unwrap() - 1.0).abs() < 1e-6);
    assert!((s.rate_ratio_p1.unwrap() - 0.5).abs() < 1e-6, "the worst 1 % is the slow one at 50 tok/s");
    // Last token: 12 + 4 × 10 = 52 ms after send, the fake's pace 5 × 10 = 50 ms.
    let l = s.added_last.unwrap();
    assert!((l.p50 - 2.0).abs() < 1e-6, "{l:?}");
    assert!((l.max - (50.0 + 80.0 - 50.0)).abs() < 1e-6, "the slow one: {l:?}");
    // 500 tokens from the first send (t0) to the last token (130 ms).
    assert!((s.all_tok_s.unwrap() - 500.0 / 0.130).abs() < 1e-6, "{:?}", s.all_tok_s);
}

#[test]
fn answers_without_tokens_or_end_are_errors() {
    let t0 = Instant::now();
    let mut no_end = rec(t0, "bench-0", 0, 5, 1000, 3, "x");
    no_end.text = None;
    let no_tokens = rec(t0, "bench-1", 0, 5, 1000, 0, "x");
    let one = rec(t0, "bench-2", 0, 5, 1000, 1, "x");
    let s = summarize("aisle", 1000.0, 1, "x", &[no_end, no_tokens, one], &HashMap::new());
    assert_eq!((s.ok, s.errors), (1, 2));
    assert_eq!(s.error_kinds.get("no answer"), Some(&1));
    assert_eq!(s.error_kinds.get("no tokens"), Some(&1));
    assert!(s.added.is_some() && s.tok_s_p50.is_none(), "one token gives no rate");
    assert!(s.to_groq.is_none(), "no arrivals recorded");
}

#[test]
fn warnings_in_aisles_log_after_a_point() {
    let log = "\u{1b}[2m2026\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m old\nx  INFO y\nt \u{1b}[33m WARN\u{1b}[0m event log full\nt  ERROR boom\n";
    let (p, n) = log_problems(log, 1);
    assert_eq!(n, 4);
    assert_eq!(p, vec!["t  WARN event log full".to_string(), "t  ERROR boom".to_string()]);
    assert_eq!(log_problems(log, 4).0.len(), 0);
}

#[test]
fn signed_milliseconds() {
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_micros(1500);
    assert!((ms_between(t1, t0) - 1.5).abs() < 1e-9);
    assert!((ms_between(t0, t1) + 1.5).abs() < 1e-9);
}

#[test]
fn sse_events_across_chunks() {
    let mut p = SseParser::default();
    let role = r#"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#;
    let tok = r#"data: {"choices":[{"index":0,"delta":{"content":" hoodies"}}]}"#;
    let stream = format!("{role}\n\n{tok}\n\nevent: error\ndata: {{\"error\":{{\"message\":\"boom\"}}}}\n\ndata: [DONE]\n\n");
    let (a, b) = stream.as_bytes().split_at(role.len() + 30);
    let mut items = p.push(a);
    assert_eq!(items, vec![SseItem::Other]);
    items.extend(p.push(b));
    assert_eq!(
        items,
        vec![SseItem::Other, SseItem::Content(" hoodies".into()), SseItem::Error("boom".into()), SseItem::Done]
    );
}

fn info() -> RunInfo {
    RunInfo { date: "d".into(), commit: "c".into(), nproc: 2, cpu: "x, y".into(), background_cpu_pct: 1.0, settings: "s".into() }
}

fn summary(target: &str, p99: f64, tok_s: f64) -> Summary {
    let t0 = Instant::now();
    let records: Vec<Record> = (0..10).map(|i| rec(t0, &format!("bench-{i}"), 0, 4, (1e6 / tok_s) as u64, 3, "x")).collect();
    let mut s = summarize(target, 280.0, 3, "x", &records, &HashMap::new());
    s.added = Some(Dist { n: 10, p50: 1.0, p90: 2.0, p99, max: p99 });
    s
}

#[test]
fn goals_compare_with_the_fakes_own_rate() {
    let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 6.0, 249.0)];
    let g = goals(&all);
    assert!(g.contains("p99 ≤ 5 ms: NOT met (p99 6.00 ms, p50 1.00 ms; direct from the fake: p99 0.50 ms)"), "{g}");
    assert!(g.contains("≥ 0.98× the fake's own: met (every conversation but the worst 1 %) (p50 0.996×"), "{g}");
    assert!(g.contains("0 errors, every answer the fake's text: met"), "{g}");
    let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 4.0, 200.0)];
    let g = goals(&all);
    assert!(g.contains("p99 ≤ 5 ms: met") && g.contains("the fake's own: NOT met (p50 0.800×"), "{g}");
    let t = markdown_table(&all);
    assert_eq!(t.lines().count(), 4, "{t}");
    assert!(t.lines().all(|l| l.matches('|').count() == 20), "{t}");
    // Faster than the fake makes them: held back, then a burst.
    let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 4.0, 400.0)];
    let g = goals(&all);
    assert!(g.contains("the fake's own: NOT met: the tokens came in bursts"), "{g}");
}

#[test]
fn the_section_is_put_after_the_marker_and_replaced_in_place() {
    let s1 = format!("{SECTION}\n\nfirst run\n");
    let s2 = format!("{SECTION}\n\nsecond run\n\n### Goals (issue 12)\n\n- x\n");
    // No marker: the marker, then the section.
    let a = put_section("# Results\n\nbench\n", &s1);
    assert_eq!(a, format!("# Results\n\nbench\n\n{KEPT_MARKER}\n\n{s1}"));
    // After the kept sections, then replaced in place, the next section kept.
    let old = format!("# R\n\n{KEPT_MARKER}\n\n## Changes\n\nrows\n\n## Retrieval quality (WANDS)\n\nkept\n");
    let b = put_section(&old, &s1);
    assert!(b.ends_with(&format!("kept\n\n{s1}")), "{b}");
    let moved = b.replace(&format!("\n{s1}"), "") + "\n## Later\n\nlater\n";
    let moved = moved.replace("## Retrieval", &format!("{s1}\n## Retrieval"));
    let c = put_section(&moved, &s2);
    assert!(c.contains(&format!("{s2}\n## Retrieval quality (WANDS)\n\nkept\n")), "{c}");
    assert!(!c.contains("first run") && c.contains("## Later\n\nlater\n"), "{c}");
    assert_eq!(put_section(&c, &s2), c, "idempotent");
    assert_eq!(put_section("", &s1), format!("{KEPT_MARKER}\n\n{s1}"));
}

#[test]
fn benchs_rewrite_keeps_the_section() {
    let dir = crate::procs::ScratchDir::new("loadtests-groq-md").unwrap();
    let md = dir.path.join("RESULTS.md");
    let s = section(&info(), &[summary("direct", 0.5, 250.0), summary("aisle", 1.0, 249.0)]);
    std::fs::write(&md, put_section("# old\n", &s)).unwrap();
    crate::report::write_results_md(&md, &info(), &[]).unwrap();
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.contains(&s), "{text}");
    assert!(text.starts_with("# Aisle load-test results"));
}

#[test]
fn csv_lines_match_the_header() {
    let dir = crate::procs::ScratchDir::new("loadtests-groq-csv").unwrap();
    let path = dir.path.join("groq.csv");
    let all = vec![summary("direct", 0.5, 250.0), summary("aisle", 1.0, 249.0)];
    append_csv(&path, &info(), &all).unwrap();
    append_csv(&path, &info(), &all).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let cols = CSV_HEADER.split(',').count();
    assert_eq!(text.lines().count(), 5);
    assert!(text.lines().all(|l| l.split(',').count() == cols), "{text}");
    assert!(text.lines().nth(2).unwrap().contains(",280,10,3,aisle,10,0,0,1.000,2.000,1.000,1.000,"), "{text}");
}
