//! The dialogue scripts (`engine/tests/dialogues/*.txt`) and how a turn is judged.
//!
//! ```text
//! shop: luma                        which shop the file's dialogues talk to
//! === A title                       a dialogue (`=== [safety] ...` counts as a safety one)
//! > the shopper's message           a turn; every turn states the cart after it:
//!   cart: empty                     or `Title (M / Black) x2; Other Title x1`, any order
//!   says: Hero Hoodie | $54.00      the reply contains each (case-insensitive)
//!   not-says: system prompt         the reply contains none of these
//!   shows: Hero Hoodie | Fusion Backpack   a `products` event lists each
//!   shows: none                     no `products` event
//!   shows-first: Hero Hoodie        the first product shown
//!   order: placed                   an order was placed in this turn
//! ```
//!
//! Without `order: placed`, a turn that places an order is wrong: checkout only ever
//! happens where the script asks for it. Every turn is also checked for what must
//! always hold: the reply is not empty, it is the deltas joined, a reply of more than a
//! dozen words comes in several deltas, and every product shown is this shop's.
//! In shopper text, `{other-product-id}` and `{other-variant-id}` stand for ids of the
//! other shop's catalog (a tenant-isolation probe).

use engine::events::Event;

use super::harness::{Shop, TurnLog};

#[derive(Debug, Default)]
pub struct Turn {
    pub line: usize,
    pub text: String,
    pub cart: Option<Vec<String>>,
    pub says: Vec<String>,
    pub not_says: Vec<String>,
    pub shows: Vec<String>,
    pub shows_none: bool,
    pub shows_first: Option<String>,
    pub order: bool,
}

#[derive(Debug, Default)]
pub struct Dialogue {
    pub title: String,
    pub safety: bool,
    pub turns: Vec<Turn>,
}

#[derive(Debug)]
pub struct Script {
    pub file: String,
    pub shop: String,
    pub dialogues: Vec<Dialogue>,
}

fn list(v: &str) -> Vec<String> {
    v.split('|').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// `Hero Hoodie (M / Black) x2; Fusion Backpack x1`, sorted, or none for `empty`.
pub fn cart_lines(v: &str) -> Vec<String> {
    if v.trim() == "empty" {
        return Vec::new();
    }
    let mut lines: Vec<String> = v.split(';').map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    lines.retain(|s| !s.is_empty());
    lines.sort();
    lines
}

pub fn parse(file: &str, text: &str) -> Script {
    let mut shop = String::new();
    let mut dialogues: Vec<Dialogue> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let at = || format!("{file}:{}", n + 1);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("shop:") {
            shop = name.trim().to_string();
        } else if let Some(title) = line.strip_prefix("===") {
            let title = title.trim();
            let safety = title.starts_with("[safety]");
            dialogues.push(Dialogue { title: title.to_string(), safety, turns: Vec::new() });
        } else if let Some(said) = line.strip_prefix('>') {
            let d = dialogues.last_mut().unwrap_or_else(|| panic!("{}: a turn before any ===", at()));
            d.turns.push(Turn { line: n + 1, text: said.trim().to_string(), ..Turn::default() });
        } else if let Some((key, value)) = line.split_once(':') {
            let turn = dialogues
                .last_mut()
                .and_then(|d| d.turns.last_mut())
                .unwrap_or_else(|| panic!("{}: an expectation before any turn", at()));
            let value = value.trim();
            match key.trim() {
                "cart" => turn.cart = Some(cart_lines(value)),
                "says" => turn.says.extend(list(value)),
                "not-says" => turn.not_says.extend(list(value)),
                "shows" if value == "none" => turn.shows_none = true,
                "shows" => turn.shows.extend(list(value)),
                "shows-first" => turn.shows_first = Some(value.to_string()),
                "order" if value == "placed" => turn.order = true,
                other => panic!("{}: unknown expectation {other:?}", at()),
            }
        } else {
            panic!("{}: cannot read {line:?}", at());
        }
    }
    for d in &dialogues {
        for t in &d.turns {
            assert!(t.cart.is_some(), "{file}:{}: every turn states the cart after it", t.line);
        }
    }
    assert!(!shop.is_empty(), "{file}: no `shop:` line");
    Script { file: file.to_string(), shop, dialogues }
}

/// The cart as the scripts write it.
pub fn actual_cart(shop: &Shop, cart: &engine::domain::Cart) -> Vec<String> {
    let mut lines: Vec<String> = cart
        .lines
        .iter()
        .map(|l| {
            let variant = shop.catalog.variant(&l.variant_id);
            match variant {
                Some((p, v)) if p.variants.len() > 1 => format!("{} ({}) x{}", p.title, v.title, l.quantity),
                Some((p, _)) => format!("{} x{}", p.title, l.quantity),
                None => format!("<foreign {}> x{}", l.title, l.quantity),
            }
        })
        .collect();
    lines.sort();
    lines
}

/// What is wrong with a turn; empty when it is right.
pub fn judge(shop: &Shop, turn: &Turn, log: &TurnLog, cart_after: &engine::domain::Cart) -> Vec<String> {
    let mut wrong = Vec::new();
    let reply_lc = log.reply.to_lowercase();
    let cart = actual_cart(shop, cart_after);
    if let Some(want) = &turn.cart
        && &cart != want
    {
        wrong.push(format!("cart is {cart:?}, expected {want:?}"));
    }
    let orders = log.orders();
    if turn.order && orders != 1 {
        wrong.push(format!("expected an order, {orders} placed"));
    }
    if !turn.order && orders > 0 {
        wrong.push("placed an order nobody asked for".to_string());
    }
    for s in &turn.says {
        if !reply_lc.contains(&s.to_lowercase()) {
            wrong.push(format!("reply lacks {s:?}"));
        }
    }
    for s in &turn.not_says {
        if reply_lc.contains(&s.to_lowercase()) {
            wrong.push(format!("reply has {s:?}"));
        }
    }
    let shown = log.shown_titles(shop);
    for s in &turn.shows {
        if !shown.contains(s) {
            wrong.push(format!("products shown lack {s:?}"));
        }
    }
    if turn.shows_none && !shown.is_empty() {
        wrong.push("products were shown".to_string());
    }
    if let Some(first) = &turn.shows_first
        && shown.first() != Some(first)
    {
        wrong.push(format!("first product shown is {:?}, expected {first:?}", shown.first()));
    }
    // Always true, whatever the script says.
    if shown.iter().chain(cart.iter()).any(|s| s.starts_with("<foreign")) {
        wrong.push("another tenant's product reached the shopper".to_string());
    }
    if log.reply.trim().is_empty() {
        wrong.push("empty reply".to_string());
    }
    if log.deltas.concat() != log.reply {
        wrong.push("the deltas joined are not the reply".to_string());
    }
    if log.reply.split_whitespace().count() > 12 && log.deltas.len() < 2 {
        wrong.push("a long reply came in one piece".to_string());
    }
    let starts = log.events.iter().filter(|e| matches!(e, Event::AssistantStart { .. })).count();
    let ends = log.events.iter().filter(|e| matches!(e, Event::AssistantEnd { .. })).count();
    if starts != 1 || ends != 1 {
        wrong.push("a turn has one assistant.start and one assistant.end".to_string());
    }
    wrong
}
