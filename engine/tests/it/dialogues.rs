//! The offline assistant's dialogue suite: realistic multi-turn conversations with the
//! demo shop (Luma), a second shop (Best Buy's phones) and a general one (Shopify's
//! apparel, jewellery and home samples), each turn with the cart
//! expected after it, run through the real turn pipeline (see `dialogues/harness.rs`;
//! the scripts and their format: `engine/tests/dialogues/`, `dialogues/script.rs`).
//!
//! It prints the share of turns right and fails if any turn is wrong (every scripted
//! turn must pass) or if it ran no turn at all. `AISLE_DIALOGUE_TRACE=1` prints every turn's reply,
//! `AISLE_DIALOGUE_ONLY=<text>` runs the dialogues whose title or file has it.

mod bestbuy;
mod harness;
mod script;

use std::path::PathBuf;

use harness::{Conversation, Shop};
use script::{Script, judge};

fn scripts() -> Vec<Script> {
    // `AISLE_DIALOGUE_DIR` runs other scripts (drafts, probes) with the same harness.
    let dir = std::env::var("AISLE_DIALOGUE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dialogues"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            script::parse(&name, &std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

/// The other shop, for the tenant-isolation probes in shopper text.
fn other(shop: &Shop) -> &'static Shop {
    if shop.name == "luma" { harness::bestbuy() } else { harness::luma() }
}

fn fill(text: &str, shop: &Shop) -> String {
    let o = other(shop);
    let p = &o.catalog.products[0];
    text.replace("{other-product-id}", p.id.as_str()).replace("{other-variant-id}", p.variants[0].id.as_str())
}

#[derive(Default)]
struct Tally {
    dialogues: usize,
    turns: usize,
    right: usize,
    safety_turns: usize,
    safety_wrong: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogue_suite() {
    let trace = std::env::var("AISLE_DIALOGUE_TRACE").is_ok_and(|v| v == "1");
    let only = std::env::var("AISLE_DIALOGUE_ONLY").ok();
    let mut total = Tally::default();
    let mut per_shop: std::collections::BTreeMap<String, Tally> = Default::default();
    let mut failures: Vec<String> = Vec::new();
    for script in scripts() {
        let shop = harness::by_name(&script.shop);
        for d in &script.dialogues {
            if only.as_ref().is_some_and(|o| !d.title.contains(o.as_str()) && !script.file.contains(o.as_str())) {
                continue;
            }
            let mut conv = Conversation::new(shop);
            let tally = per_shop.entry(script.shop.clone()).or_default();
            tally.dialogues += 1;
            total.dialogues += 1;
            if trace {
                println!("\n=== {} ({})", d.title, script.file);
            }
            for t in &d.turns {
                let log = conv.say(&fill(&t.text, shop)).await;
                let wrong = judge(shop, t, &log, &conv.cart);
                if trace {
                    println!("> {}\n  {}", t.text, log.reply);
                    for w in &wrong {
                        println!("  !! {w}");
                    }
                }
                for tl in [&mut *tally, &mut total] {
                    tl.turns += 1;
                    tl.right += usize::from(wrong.is_empty());
                    if d.safety {
                        tl.safety_turns += 1;
                        tl.safety_wrong += usize::from(!wrong.is_empty());
                    }
                }
                if !wrong.is_empty() {
                    failures.push(format!(
                        "{}:{} [{}] > {}\n    reply: {}\n    {}",
                        script.file,
                        t.line,
                        d.title,
                        t.text,
                        log.reply,
                        wrong.join("\n    ")
                    ));
                }
            }
        }
    }
    let pct = |t: &Tally| if t.turns == 0 { 100.0 } else { 100.0 * t.right as f64 / t.turns as f64 };
    println!("\ndialogue suite");
    for (name, t) in &per_shop {
        println!("  {name}: {} dialogues, {} turns, {} right ({:.1} %)", t.dialogues, t.turns, t.right, pct(t));
    }
    println!(
        "  all: {} dialogues, {} turns, {} right ({:.1} %); safety: {} turns, {} wrong",
        total.dialogues,
        total.turns,
        total.right,
        pct(&total),
        total.safety_turns,
        total.safety_wrong
    );
    // A suite that ran nothing proves nothing (a filter that matches no dialogue, a
    // script directory that is empty or misnamed).
    assert!(total.turns > 0, "the dialogue suite ran no turn (AISLE_DIALOGUE_ONLY={only:?}, scripts in {:?})", std::env::var("AISLE_DIALOGUE_DIR").ok());
    assert!(failures.is_empty(), "{} turns wrong:\n{}", failures.len(), failures.join("\n"));
}

