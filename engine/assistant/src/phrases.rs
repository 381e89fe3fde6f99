//! Readings of phrases that decide what a clause may do, kept apart from the intent
//! rules so each can be checked on its own: price bounds ("under $40", "between 20
//! and 50", and amounts no bound explains: a price the shopper names), attempts to
//! rewrite the rules ("ignore previous instructions"), price changes, and the strict
//! reading of checkout ("check out" alone, never negated, never a question).

use crate::domain::Currency;

use super::lexicon::*;
use super::text::Word;
use super::understand::{Clause, Intent};

/// "ignore previous instructions", "SYSTEM:", "developer mode", "you are now…".
pub fn is_injection(r: &[&str]) -> bool {
    let ignore = r.iter().position(|w| matches!(*w, "ignore" | "disregard" | "forget" | "override"));
    let ignore_rules = ignore.is_some_and(|i| {
        r[i + 1..].iter().take(4).any(|w| {
            matches!(
                *w,
                "previous" | "prior" | "above" | "all" | "your" | "instructions" | "rules" | "earlier" | "everything"
                    | "system"
            )
        })
    });
    // A message dressed as another speaker ("SYSTEM:", "assistant: …", "<|im_start|>system").
    let role = r.first().is_some_and(|w| matches!(*w, "system" | "assistant" | "developer" | "admin"))
        || r.iter().take(3).any(|w| *w == "im")
            && r.iter().take(4).any(|w| matches!(*w, "system" | "assistant"));
    let system_talk = r.contains(&"system")
        && has_any(r, &["message", "prompt", "reveal", "print", "show", "override", "secrets", "instructions"]);
    ignore_rules
        || role
        || system_talk
        || seq(r, &["were", "you", "told"]).is_some()
        || seq(r, &["you", "were", "told"]).is_some()
        || seq(r, &["system", "prompt"]).is_some()
        || seq(r, &["developer", "mode"]).is_some()
        || seq(r, &["you", "are", "now"]).is_some()
        || seq(r, &["act", "as"]).is_some()
        || seq(r, &["new", "instructions"]).is_some()
        || r.contains(&"jailbreak")
        || r.contains(&"pretend")
        || r.contains(&"verbatim")
        || (r.contains(&"repeat") && has_any(r, &["above", "everything", "instructions", "prompt", "text"]))
}

/// Reads price bounds and marks the amounts they use as money, so "under 40" is not a
/// quantity of 40. The third value: an amount no bound explains (a price claim).
/// Amounts are minor units of the shop's `currency`: a bare number is whole units of it
/// ("under 40" is 4000 in USD, 40 in JPY).
pub fn price_bounds(words: &mut [Word], currency: Currency) -> (Option<i64>, Option<i64>, bool) {
    let r: Vec<String> = words.iter().map(|w| w.raw.clone()).collect();
    let unit = 10i64.pow(currency.exponent());
    let amount = |w: &Word| w.money.or(w.num.filter(|n| *n > 0).map(|n| n * unit));
    let (mut min, mut max) = (None, None);
    let mut explained = vec![false; words.len()];
    let set_verb = r.iter().any(|w| SET_VERBS.contains(&w.as_str()) || w == "quantity");
    let mut i = 0;
    while i < words.len() {
        let w = r[i].as_str();
        let next = r.get(i + 1).map(String::as_str);
        // Two-word comparators.
        let (upper, lower, skip) = match (w, next) {
            ("less" | "cheaper" | "lower" | "fewer", Some("than")) => (true, false, 2),
            ("more" | "greater" | "higher", Some("than")) if !set_verb => (false, true, 2),
            ("at", Some("most")) | ("up", Some("to")) | ("no", Some("more")) => (true, false, 2),
            ("at", Some("least")) => (false, true, 2),
            ("under" | "below" | "max" | "maximum" | "within" | "budget" | "beneath", _) => (true, false, 1),
            ("over" | "above" | "min" | "minimum" | "from", _) if w != "from" || !set_verb => (false, true, 1),
            ("between", _) => (false, true, 1),
            ("around" | "about" | "roughly" | "approximately", _) => (true, true, 1),
            _ => (false, false, 0),
        };
        if skip == 0 {
            i += 1;
            continue;
        }
        let mut j = i + skip;
        // "no more than", "budget of", "budget is".
        while j < words.len() && matches!(r[j].as_str(), "than" | "of" | "is" | "about" | "around") {
            j += 1;
        }
        let Some(a) = words.get(j).and_then(amount) else {
            i += 1;
            continue;
        };
        // A bare number is a price only where a bound says so, or money is nearby.
        let is_money = words[j].money.is_some()
            || r.get(j + 1).is_some_and(|n| n == "dollars" || n == "bucks")
            || w != "from" && w != "around" && w != "about";
        if !is_money {
            i += 1;
            continue;
        }
        mark_money(&mut words[j], a);
        explained[j] = true;
        if w == "between" || w == "from" {
            // "between 20 and 50", "from $20 to $50".
            if let Some(k) = (j + 1..words.len().min(j + 3)).find(|&k| words.get(k).and_then(amount).is_some())
                && (r[j + 1] == "and" || r[j + 1] == "to" || r[j + 1] == "-")
            {
                let b = amount(&words[k]).unwrap_or(a);
                mark_money(&mut words[k], b);
                explained[k] = true;
                min = Some(a.min(b));
                max = Some(a.max(b));
            } else {
                // "between 20" with no second amount, or a lone amount: a floor.
                min = Some(a);
            }
        } else if upper && lower {
            min = Some(a * 8 / 10);
            max = Some(a * 12 / 10);
        } else if upper {
            max = Some(a);
        } else {
            min = Some(a);
        }
        i = j + 1;
    }
    // "$40 or less", "$100 and up", "$20 to $50", "20-50 dollars".
    for k in 0..words.len() {
        if explained[k] || words[k].money.is_none() {
            continue;
        }
        let a = words[k].money.unwrap_or(0);
        let after: Vec<&str> = r[k + 1..].iter().take(2).map(String::as_str).collect();
        if after == ["or", "less"] || after == ["or", "under"] || after.first() == Some(&"max") {
            max = Some(a);
            explained[k] = true;
        } else if after == ["or", "more"] || after == ["and", "up"] || after == ["or", "above"] {
            min = Some(a);
            explained[k] = true;
        } else if after.first() == Some(&"to")
            && let Some(b) = words.get(k + 2).and_then(amount)
        {
            mark_money(&mut words[k + 2], b);
            explained[k] = true;
            explained[k + 2] = true;
            min = Some(a.min(b));
            max = Some(a.max(b));
        }
    }
    let claim = words.iter().enumerate().any(|(k, w)| w.money.is_some() && !explained[k]);
    for (w, e) in words.iter_mut().zip(&explained) {
        w.bound = *e;
    }
    (min, max, claim)
}

fn mark_money(w: &mut Word, minor: i64) {
    w.money = Some(minor);
    w.num = None;
}

pub fn is_price_change(r: &[&str], c: &Clause) -> bool {
    let price_word = has_any(r, &["price", "prices", "cost", "total", "pricing"]);
    // "50% off", "20 off": a discount, however written.
    let off = r.windows(2).any(|w| w[1] == "off" && (w[0].bytes().all(|b| b.is_ascii_digit()) || w[0] == "percent"));
    // "can I get it cheaper?", "sell it to me for 10 bucks": haggling over what was shown.
    let haggle = c.reference.is_some()
        && (c.comparative == Some(super::understand::Superlative::Cheapest) || c.price_claim)
        && !has_any(r, &["add", "buy", "any", "anything", "something", "other", "others", "ones"]);
    if off || haggle {
        return true;
    }
    has_any(r, &["discount", "discounts", "coupon", "coupons", "voucher", "promo", "rebate", "markdown"])
        || seq(r, &["percent", "off"]).is_some()
        || (price_word && has_any(r, &["set", "change", "lower", "reduce", "drop", "update", "make", "fix", "cut", "adjust", "should"]))
        || (price_word && c.price_claim && !has_any(r, &["add", "buy"]))
        || (r.contains(&"free") && has_any(r, &["everything", "all", "give", "make"]) && !r.contains(&"shipping"))
}

/// Checkout, or a question about it, or holding it off; `None` when the clause does
/// not talk about checking out at all.
pub fn checkout_intent(r: &[&str], question: bool) -> Option<Intent> {
    let (start, end) = checkout_span(r)?;
    let (before, after) = (&r[..start], &r[end..]);
    let negated = has_any(before, &["dont", "not", "never", "wait", "without", "before", "cant", "wont"])
        || has_any(after, &["yet", "later", "soon", "tomorrow"])
        || seq(before, &["do", "not"]).is_some()
        || seq(before, &["hold", "off"]).is_some();
    // "pay by card", "pay with paypal": how to pay, not paying now.
    let how = r[start..end] == ["pay"] && after.first().is_some_and(|w| matches!(*w, "by" | "with" | "using" | "via" | "in" | "on" | "cash" | "card"));
    if negated {
        return Some(Intent::HoldCheckout);
    }
    if how || question && !seq(r, &["can", "i"]).is_some_and(|i| i == 0 && !r.contains(&"how")) && seq(r, &["can", "you"]).is_none() {
        return Some(Intent::CheckoutQuestion);
    }
    // Words about the checkout itself ("the checkout page", "is it safe") keep a
    // question a question about checkout.
    let about = |w: &&str| {
        matches!(*w, "page" | "process" | "screen" | "form" | "step" | "steps" | "work" | "works" | "secure" | "safe" | "look" | "fee" | "fees" | "see")
    };
    let rest_is_filler = before.iter().chain(after).all(|w| FILLER.contains(w) || *w == "checkout" || *w == "me" || *w == "for");
    if rest_is_filler {
        return Some(if question && r.contains(&"how") { Intent::CheckoutQuestion } else { Intent::Checkout });
    }
    // "can you check out the Fusion Backpack for me?": looking at a product.
    let names_something = after.iter().any(|w| !is_stopword(w) && !FILLER.contains(w) && !about(w));
    if question && !names_something {
        return Some(Intent::CheckoutQuestion);
    }
    None
}

/// Where the clause says "check out" / "checkout" / "place my order" / "buy it now" /
/// "complete my purchase" / "pay", as a half-open span of word positions.
pub fn checkout_span(r: &[&str]) -> Option<(usize, usize)> {
    let pats: &[&[&str]] = &[
        &["proceed", "to", "checkout"],
        &["go", "to", "checkout"],
        &["check", "out"],
        &["checkout"],
        &["place", "my", "order"],
        &["place", "the", "order"],
        &["place", "an", "order"],
        &["place", "order"],
        &["place", "it"],
        &["ring", "it", "up"],
        &["ring", "me", "up"],
        &["ring", "up"],
        &["buy", "it", "now"],
        &["buy", "them", "now"],
        &["buy", "everything", "now"],
        &["buy", "now"],
        &["complete", "my", "order"],
        &["complete", "the", "order"],
        &["complete", "my", "purchase"],
        &["complete", "the", "purchase"],
        &["complete", "order"],
        &["finish", "my", "order"],
        &["finalize", "my", "order"],
        &["submit", "my", "order"],
        &["submit", "the", "order"],
        &["confirm", "my", "order"],
        &["confirm", "the", "order"],
        &["pay", "now"],
        &["pay"],
    ];
    pats.iter().find_map(|p| seq(r, p).map(|i| (i, i + p.len())))
}
