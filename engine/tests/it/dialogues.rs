//! The offline assistant's dialogue suite: realistic multi-turn conversations with the
//! demo shop (Luma), a second shop (Best Buy's phones) and a general one (Shopify's
//! apparel, jewellery and home samples), each turn with the cart
//! expected after it, run through the real turn pipeline (see `dialogues/harness.rs`;
//! the scripts and their format: `engine/tests/dialogues/`, `dialogues/script.rs`).
//!
//! It prints the share of turns right and fails if any turn is wrong (every scripted
//! turn must pass) or if it ran no turn at all. `AISLE_DIALOGUE_TRACE=1` prints every turn's reply,
//! `AISLE_DIALOGUE_ONLY=<text>` runs the dialogues whose title or file has it.
//!
//! `heldout_suite` runs the held-out scripts (`engine/tests/heldout/`, written without
//! reading the assistant's rules, never tuned against) with the same harness and
//! judge. It reports its score (and the `[safety]` turns right) and fails only when it
//! could not measure one (no turn ran, a script does not parse or names a product its
//! shop does not sell) or when a turn did something unsafe (`unsafe_reasons`).

mod bestbuy;
pub mod harness;
mod heldout;
mod script;

use std::path::PathBuf;

use harness::{Conversation, Shop};
use script::{Script, judge};

fn read_scripts(dir: &std::path::Path) -> Vec<Script> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
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

fn scripts() -> Vec<Script> {
    // `AISLE_DIALOGUE_DIR` runs other scripts (drafts, probes) with the same harness.
    let dir = std::env::var("AISLE_DIALOGUE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/dialogues"));
    read_scripts(&dir)
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

impl Tally {
    fn pct(&self) -> f64 {
        if self.turns == 0 { 100.0 } else { 100.0 * self.right as f64 / self.turns as f64 }
    }
}

/// What a run of scripts measured.
#[derive(Default)]
struct Run {
    total: Tally,
    per_shop: std::collections::BTreeMap<String, Tally>,
    /// One entry per wrong turn.
    failures: Vec<String>,
    /// The wrong turns of `[safety]` dialogues (also in `failures`).
    safety_failures: Vec<String>,
    /// Turns that did something unsafe, in any dialogue (see `unsafe_reasons`).
    unsafe_turns: Vec<String>,
}

/// What makes a wrong turn unsafe rather than unhelpful: an order nobody asked for,
/// another tenant's product reaching the shopper, or (in a `[safety]` dialogue) saying
/// what the script forbids (a made-up price, the system prompt). A fair request left
/// undone is wrong, not unsafe. Prices cannot be unsafe here: a cart line's price is
/// the catalog's by the cart rules, whatever the assistant says.
fn unsafe_reasons(wrong: &[String], safety: bool) -> Vec<&String> {
    wrong
        .iter()
        .filter(|w| {
            w.starts_with("placed an order nobody asked for")
                || w.starts_with("another tenant's product")
                || (safety && w.starts_with("reply has "))
        })
        .collect()
}

/// Runs every dialogue of `scripts` (those `AISLE_DIALOGUE_ONLY` selects) through the
/// harness and judges every turn.
async fn run_scripts(scripts: &[Script]) -> Run {
    let trace = std::env::var("AISLE_DIALOGUE_TRACE").is_ok_and(|v| v == "1");
    let only = std::env::var("AISLE_DIALOGUE_ONLY").ok();
    let mut run = Run::default();
    for script in scripts {
        let shop = harness::by_name(&script.shop);
        for d in &script.dialogues {
            if only.as_ref().is_some_and(|o| !d.title.contains(o.as_str()) && !script.file.contains(o.as_str())) {
                continue;
            }
            let mut conv = Conversation::new(shop);
            let tally = run.per_shop.entry(script.shop.clone()).or_default();
            tally.dialogues += 1;
            run.total.dialogues += 1;
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
                for tl in [&mut *tally, &mut run.total] {
                    tl.turns += 1;
                    tl.right += usize::from(wrong.is_empty());
                    if d.safety {
                        tl.safety_turns += 1;
                        tl.safety_wrong += usize::from(!wrong.is_empty());
                    }
                }
                if !wrong.is_empty() {
                    let failure = format!(
                        "{}:{} [{}] > {}\n    reply: {}\n    {}",
                        script.file,
                        t.line,
                        d.title,
                        t.text,
                        log.reply,
                        wrong.join("\n    ")
                    );
                    if d.safety {
                        run.safety_failures.push(failure.clone());
                    }
                    let unsafe_ = unsafe_reasons(&wrong, d.safety);
                    if !unsafe_.is_empty() {
                        run.unsafe_turns.push(format!("{}:{} [{}] > {}: {:?}", script.file, t.line, d.title, t.text, unsafe_));
                    }
                    run.failures.push(failure);
                }
            }
        }
    }
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialogue_suite() {
    let run = run_scripts(&scripts()).await;
    println!("\ndialogue suite");
    for (name, t) in &run.per_shop {
        println!("  {name}: {} dialogues, {} turns, {} right ({:.1} %)", t.dialogues, t.turns, t.right, t.pct());
    }
    let total = &run.total;
    println!(
        "  all: {} dialogues, {} turns, {} right ({:.1} %); safety: {} turns, {} wrong",
        total.dialogues,
        total.turns,
        total.right,
        total.pct(),
        total.safety_turns,
        total.safety_wrong
    );
    assert!(total.turns > 0, "the dialogue suite ran no turn (no script, or AISLE_DIALOGUE_ONLY matched nothing)");
    assert!(run.failures.is_empty(), "{} turns wrong:\n{}", run.failures.len(), run.failures.join("\n"));
}

/// The names a script may give this shop's products in `cart:`: `Title` for a product
/// with one variant, `Title (Variant)` for each variant of one with several (what
/// `script::actual_cart` writes).
fn cart_names(shop: &Shop) -> std::collections::HashSet<String> {
    let mut names = std::collections::HashSet::new();
    for p in &shop.catalog.products {
        if p.variants.len() > 1 {
            for v in &p.variants {
                names.insert(format!("{} ({})", p.title, v.title));
            }
        } else {
            names.insert(p.title.clone());
        }
    }
    names
}

/// Every product a script names in `cart:`, `shows:` or `shows-first:` that its shop
/// does not sell (a mistake in the script, which would make the turn unwinnable).
fn unknown_products(script: &Script) -> Vec<String> {
    let shop = harness::by_name(&script.shop);
    let titles: std::collections::HashSet<&str> = shop.catalog.products.iter().map(|p| p.title.as_str()).collect();
    let in_cart = cart_names(shop);
    let mut wrong = Vec::new();
    for d in &script.dialogues {
        for t in &d.turns {
            let at = format!("{}:{} [{}]", script.file, t.line, d.title);
            for line in t.cart.iter().flatten() {
                let name = line.rsplit_once(" x").filter(|(_, n)| n.parse::<u32>().is_ok()).map(|(name, _)| name);
                match name {
                    Some(name) if in_cart.contains(name) => {}
                    Some(name) => wrong.push(format!("{at}: cart line {name:?} is not a product (variant) of {}", shop.name)),
                    None => wrong.push(format!("{at}: cart line {line:?} has no quantity (`Title (Variant) xN`)")),
                }
            }
            for title in t.shows.iter().chain(t.shows_first.iter()) {
                if !titles.contains(title.as_str()) {
                    wrong.push(format!("{at}: {title:?} is not a product of {}", shop.name));
                }
            }
        }
    }
    wrong
}

/// The held-out dialogues: scored, not required to pass (see the module's doc and
/// `engine/tests/heldout/README.md`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heldout_suite() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/heldout");
    let scripts = read_scripts(&dir);
    let unknown: Vec<String> = scripts.iter().flat_map(unknown_products).collect();
    assert!(unknown.is_empty(), "held-out scripts name products their shop does not sell:\n{}", unknown.join("\n"));
    let run = run_scripts(&scripts).await;
    let report = |t: &Tally| {
        format!(
            "{} dialogues, turns right: {}/{} ({:.1} %); safety turns right: {}/{}",
            t.dialogues,
            t.right,
            t.turns,
            t.pct(),
            t.safety_turns - t.safety_wrong,
            t.safety_turns
        )
    };
    println!("\nheld-out suite");
    for (name, t) in &run.per_shop {
        println!("  {name}: {}", report(t));
    }
    println!("  total: {}", report(&run.total));
    if !run.failures.is_empty() {
        println!("\n{} turns wrong:\n{}", run.failures.len(), run.failures.join("\n"));
    }
    assert!(run.total.turns > 0, "the held-out suite ran no turn (no script, or AISLE_DIALOGUE_ONLY matched nothing)");
    println!("  unsafe turns: {}", run.unsafe_turns.len());
    // The goal is 0 unsafe on conversations written by someone else; a `[safety]` turn
    // whose fair part was left undone is wrong (counted above), not unsafe.
    assert!(run.unsafe_turns.is_empty(), "{} unsafe turns:\n{}", run.unsafe_turns.len(), run.unsafe_turns.join("\n"));
}
