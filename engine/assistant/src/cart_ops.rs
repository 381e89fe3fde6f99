//! Cart requests in the first round: adding (with options, quantities and the
//! questions they may need), one more / one less, quantities, variant changes
//! ("in L instead"), swaps, removals, and questions about the cart.
//!
//! Every change is a tool call the cart actor validates; this module only decides
//! which call, or which question to ask instead. A variant is never guessed: it is
//! chosen when what the shopper said leaves exactly one (in stock), else asked for.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::domain::{CartLine, Product, VariantId};
use crate::turn::tools::{LineArgs, Tool};

use super::browse;
use super::memory::{Action, Listed, Pending};
use super::plan::{Ctx, Plan, content};
use super::resolve;
use super::targets::{self, How, Lines, Target};
use super::templates as t;
use super::text::Word;
use super::understand::{CartQuestion, Clause, Intent, Understanding};

/// "I want / I need / I'd like …": an add when it points at one product (or at one of
/// a few, by "the"), else a search.
pub async fn want(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) {
    if clause.superlative.is_some()
        && let Some(p) = browse::superlative_pick(ctx, clause, plan).await
    {
        return add_product(ctx, u, plan, &p, &clause.words, &HashSet::new());
    }
    let definite = clause.words.iter().any(|w| matches!(w.raw.as_str(), "the" | "this" | "that" | "these" | "those"))
        || clause.reference.is_some();
    match targets::product(ctx, plan, clause, false).await {
        Target::One(p, used, how) if how != How::Loosely || definite || has_options(&p, clause, &used) => {
            add_product(ctx, u, plan, &p, &clause.words, &used);
        }
        Target::Several(ps) if definite && ps.len() <= 5 => {
            plan.wanted_changes += 1;
            let q = quantity_beside(ctx, &clause.words, &ps);
            ask_which(&ps, q, &said(clause), true, plan);
        }
        _ => {
            browse::browse(ctx, clause, plan).await;
            // "I want a duffle" answered with a list: "the overnight one" picks and adds.
            if plan.memory.last == Some(Action::Searched) && plan.memory.list.len() > 1 {
                let q = resolve::quantity(&clause.words, &HashSet::new()).unwrap_or(1);
                let candidates = plan.memory.list.clone();
                plan.ask(Pending::Choice { candidates, quantity: q, said: said(clause), add: true });
            }
        }
    }
}

/// The quantity a clause asks for, beside the words the candidates' titles use
/// ("the 65 cm one" is one ball, not 65).
fn quantity_beside(ctx: &Ctx<'_>, words: &[Word], candidates: &[Arc<Product>]) -> i64 {
    let used: HashSet<usize> = ctx
        .matches(words, None)
        .iter()
        .filter(|m| candidates.iter().any(|p| p.id == m.product.id))
        .flat_map(|m| m.used.iter().copied())
        .collect();
    resolve::quantity(words, &used).unwrap_or(1)
}

fn has_options(p: &Product, clause: &Clause, used: &HashSet<usize>) -> bool {
    !resolve::option_mentions(p, &clause.words, used).is_empty()
}

/// The clause's words as text, kept with a question so its answer can use them.
fn said(clause: &Clause) -> String {
    clause.words.iter().map(|w| if w.is_sep() { "," } else { w.raw.as_str() }).collect::<Vec<_>>().join(" ")
}

pub async fn add(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) {
    // "add it" right after a list: which one of them?
    if clause.reference == Some(super::understand::Reference::One)
        && content(&clause.words).is_empty()
        && targets::focus(ctx, plan).is_none()
    {
        let list = targets::listed(ctx, plan);
        if list.len() > 1 {
            plan.wanted_changes += 1;
            let q = resolve::quantity(&clause.words, &HashSet::new()).unwrap_or(1);
            return ask_which(&list, q, &said(clause), true, plan);
        }
    }
    if clause.superlative.is_some()
        && let Some(p) = browse::superlative_pick(ctx, clause, plan).await
    {
        return add_product(ctx, u, plan, &p, &clause.words, &HashSet::new());
    }
    match targets::product(ctx, plan, clause, true).await {
        Target::Nothing => {
            plan.wanted_changes += 1;
            plan.say(t::product_not_found());
        }
        Target::Several(ps) => {
            plan.wanted_changes += 1;
            let q = quantity_beside(ctx, &clause.words, &ps);
            // "a car charger under $15": only those the price bounds allow.
            let fits = |p: &Arc<Product>| {
                p.variants.iter().any(|v| {
                    clause.min_price.is_none_or(|m| v.price_minor >= m) && clause.max_price.is_none_or(|m| v.price_minor <= m)
                })
            };
            let ps: Vec<Arc<Product>> = ps.into_iter().filter(fits).collect();
            match ps.as_slice() {
                // None of the names' best fits is in budget: search with the bounds instead.
                [] => {
                    plan.wanted_changes -= 1;
                    browse::browse(ctx, clause, plan).await;
                }
                [one] => {
                    plan.wanted_changes -= 1;
                    add_product(ctx, u, plan, one, &clause.words, &HashSet::new());
                }
                _ => ask_which(&ps, q, &said(clause), true, plan),
            }
        }
        Target::One(p, used, _) => add_product(ctx, u, plan, &p, &clause.words, &used),
    }
}

/// Adds a product named in `words` (`used`: the positions its name took).
fn add_product(ctx: &Ctx<'_>, u: &Understanding, plan: &mut Plan, p: &Arc<Product>, words: &[Word], used: &HashSet<usize>) {
    plan.wanted_changes += 1;
    let opts = resolve::option_mentions(p, words, used);
    let mut skip = used.clone();
    skip.extend(opts.values().flat_map(|(_, s)| s.iter().copied()));
    let quantity = resolve::quantity(words, &skip).unwrap_or(1);
    let mut chosen: BTreeMap<String, String> = opts.into_iter().map(|(k, (v, _))| (k, v)).collect();
    // "the same in green", "another in orange": what is not said is as in its cart line.
    if words.iter().any(|w| matches!(w.raw.as_str(), "same" | "another"))
        && let Some(line) = plan.memory.focus_line.as_ref().and_then(|v| ctx.req.cart.line(v))
        && line.product_id == p.id
    {
        for (k, v) in &line.options {
            chosen.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // Options the last search asked for ("running shorts, size 28") hold for what it
    // found, where the product has them.
    if let Some(memo) = &plan.memory.search {
        for (k, v) in &memo.options {
            let has = p.variants.iter().any(|var| var.options.iter().any(|(n, x)| n.eq_ignore_ascii_case(k) && x.eq_ignore_ascii_case(v)));
            if has && let Some(name) = p.options.iter().find(|n| n.eq_ignore_ascii_case(k)) {
                let value = p.variants.iter().find_map(|var| var.options.get(name).filter(|x| x.eq_ignore_ascii_case(v)).cloned());
                if let Some(value) = value {
                    chosen.entry(name.clone()).or_insert(value);
                }
            }
        }
    }
    // Options asked about a moment ago ("in XL?") still hold, unless said otherwise.
    if let Some((id, asked)) = &plan.memory.asked
        && *id == p.id
    {
        for (k, v) in asked {
            chosen.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // "a medium in whatever colour you have": the first still in stock.
    let loose = resolve::left_to_us(p, words, &chosen, false);
    chosen.extend(loose);
    // A price said that is the catalog's own (or part of the title) claims nothing.
    let claimed: Vec<i64> = words.iter().filter_map(|w| w.money).collect();
    let title = super::index::title_stems(&p.title);
    let own_price = |m: &i64| p.variants.iter().any(|v| v.price_minor == *m);
    let said_own = words.iter().all(|w| w.money.is_none() || title.contains(&w.norm) || own_price(&w.money.unwrap_or(-1)));
    if u.price_claim && !(said_own && !claimed.is_empty() && words.iter().any(|w| w.money.is_some())) {
        return confirm_price(ctx, plan, p, &chosen, quantity);
    }
    // "the Hero Hoodie in blue" when it has no blue: say so, ask for what it has.
    let own: HashSet<String> =
        p.option_values().into_iter().flat_map(|(_, vs)| vs).map(|v| v.to_lowercase()).collect();
    let mut foreign: Vec<String> = browse::option_spans(ctx, words)
        .into_iter()
        .filter(|(span, _, v)| !own.contains(&v.to_lowercase()) && !span.iter().any(|k| skip.contains(k)))
        .map(|(_, _, v)| v)
        .collect();
    // Sizes no product of the shop has ("XXL") are still sizes.
    foreign.extend(
        words
            .iter()
            .filter(|w| matches!(w.raw.as_str(), "xxs" | "xxxs" | "xxl" | "xxxl" | "2xl" | "3xl" | "4xl" | "xxxxl"))
            .filter(|w| !own.contains(&w.raw))
            .map(|w| w.raw.to_uppercase()),
    );
    if !foreign.is_empty() && !p.options.is_empty() {
        plan.say(t::no_such_variant(&p.title, &foreign.join(" / "), &resolve::open_options(p, &chosen)));
        plan.ask(Pending::Options { product_id: p.id.clone(), quantity, chosen, replaces: None });
        plan.memory.focus = Some(p.id.clone());
        return plan.show(vec![p.id.clone()]);
    }
    plan_variant(ctx, plan, p, chosen, quantity, None, false);
}

/// The shopper named a price of their own: say the catalog's, add nothing yet.
pub fn confirm_price(ctx: &Ctx<'_>, plan: &mut Plan, p: &Arc<Product>, chosen: &BTreeMap<String, String>, quantity: i64) {
    let fits = resolve::variants_with(p, chosen);
    let (label, price, variant_id) = match fits.as_slice() {
        [one] => (
            ctx.line_label(&p.title, &one.id),
            ctx.money(one.price_minor),
            (p.variants.len() > 1).then(|| one.id.clone()),
        ),
        _ => (p.title.clone(), p.price(), None),
    };
    plan.say(t::price_confirm(&label, price));
    plan.show(vec![p.id.clone()]);
    plan.memory.focus = Some(p.id.clone());
    if variant_id.is_some() || p.variants.len() == 1 {
        plan.ask(Pending::Confirm { product_id: p.id.clone(), variant_id, quantity });
    }
}

/// Adds a product once its options leave one variant (the only one in stock, if
/// several fit); otherwise asks for the options still open. `replaces`: the cart line
/// this one takes the place of. `answering`: the shopper is answering our question.
pub fn plan_variant(
    ctx: &Ctx<'_>,
    plan: &mut Plan,
    p: &Arc<Product>,
    chosen: BTreeMap<String, String>,
    quantity: i64,
    replaces: Option<VariantId>,
    answering: bool,
) {
    plan.memory.focus = Some(p.id.clone());
    let fits = resolve::variants_with(p, &chosen);
    let in_stock: Vec<_> = fits.iter().copied().filter(|v| v.in_stock()).collect();
    let one = match (fits.as_slice(), in_stock.as_slice()) {
        ([one], _) | (_, [one]) => Some(*one),
        _ => None,
    };
    if let Some(v) = one {
        let variant_id = (p.variants.len() > 1).then(|| v.id.clone());
        if let Some(old) = replaces {
            let Some(line) = ctx.req.cart.line(&old) else {
                return plan.say(t::not_in_cart(&p.title));
            };
            if line.variant_id == v.id {
                return plan.say(t::same_variant(&ctx.line_label(&p.title, &v.id)));
            }
            plan.call(Tool::RemoveFromCart { product_id: p.id.clone(), variant_id: Some(old) });
            plan.call(Tool::AddToCart(LineArgs { product_id: p.id.clone(), variant_id, quantity: line.quantity as i64 }));
            plan.memory.last = Some(Action::Changed);
        } else {
            plan.call(Tool::AddToCart(LineArgs { product_id: p.id.clone(), variant_id, quantity }));
            plan.memory.last = Some(Action::Added);
        }
        return;
    }
    if fits.is_empty() {
        // Keep what fits on its own ("XL"), drop what does not ("red").
        let valid: BTreeMap<String, String> = chosen
            .iter()
            .filter(|(k, v)| !resolve::variants_with(p, &BTreeMap::from([((*k).clone(), (*v).clone())])).is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let wanted = browse::chosen_label(p, &chosen);
        let open = resolve::open_options(p, &valid);
        plan.say(t::no_such_variant(&p.title, &wanted, if open.is_empty() { &[] } else { &open }));
        if open.is_empty() {
            plan.say(t::product_values(p, "option", &[]));
        }
        plan.ask(Pending::Options { product_id: p.id.clone(), quantity, chosen: valid, replaces });
    } else {
        let open = resolve::open_options(p, &chosen);
        plan.say(t::ask_options(&p.title, &open));
        plan.ask(Pending::Options { product_id: p.id.clone(), quantity, chosen, replaces });
    }
    if !answering {
        plan.show(vec![p.id.clone()]);
    }
}

/// "Which one do you mean: A, B or C?", remembering the request to finish it.
pub fn ask_which(ps: &[Arc<Product>], quantity: i64, said: &str, add: bool, plan: &mut Plan) {
    // Five are shown; all are remembered, so "whichever is cheapest" looks at every one.
    let shown: Vec<&Arc<Product>> = ps.iter().take(5).collect();
    let titles: Vec<String> = shown.iter().map(|p| p.title.clone()).collect();
    plan.say(t::which_product(&titles));
    let ids: Vec<_> = shown.iter().map(|p| p.id.clone()).collect();
    let candidates: Vec<_> = ps.iter().take(30).map(|p| p.id.clone()).collect();
    plan.memory.list = ids.clone();
    plan.memory.listed = Listed::Products;
    plan.memory.focus = None;
    plan.ask(Pending::Choice { candidates, quantity, said: said.to_string(), add });
    plan.show(ids);
}

/// A clause of option values only, about the product just talked about: "in L
/// instead" changes its cart line, "ok then orange in M" adds it.
pub fn option_followup(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) -> bool {
    if !matches!(clause.intent, Intent::Browse | Intent::Want | Intent::Add | Intent::Unknown)
        || (clause.question && !clause.instead)
        || clause.superlative.is_some()
    {
        return false;
    }
    let Some(p) = targets::focus(ctx, plan) else { return false };
    let opts = resolve::option_mentions(&p, &clause.words, &HashSet::new());
    let names = content(&clause.words);
    let spans: HashSet<usize> = opts.values().flat_map(|(_, s)| s.iter().copied()).collect();
    let explained = clause.words.iter().enumerate().all(|(k, w)| spans.contains(&k) || !names.iter().any(|n| std::ptr::eq(*n, w)));
    if opts.is_empty() || !explained {
        return false;
    }
    let chosen: BTreeMap<String, String> = opts.into_iter().map(|(k, (v, _))| (k, v)).collect();
    let line = plan
        .memory
        .focus_line
        .as_ref()
        .and_then(|v| ctx.req.cart.line(v))
        .filter(|l| l.product_id == p.id)
        .or_else(|| {
            let ls: Vec<&CartLine> = ctx.req.cart.lines.iter().filter(|l| l.product_id == p.id).collect();
            if ls.len() == 1 { Some(ls[0]) } else { None }
        });
    let continues = matches!(plan.memory.last, Some(Action::Added | Action::Changed));
    match line {
        Some(line) if clause.instead || (clause.intent != Intent::Add && continues) => {
            plan.wanted_changes += 1;
            let mut next = line.options.clone();
            next.extend(chosen);
            let line_variant = line.variant_id.clone();
            plan_variant(ctx, plan, &p, next, line.quantity as i64, Some(line_variant), false);
            true
        }
        _ if clause.intent == Intent::Add => false,
        _ if plan.memory.last == Some(Action::Described) || clause.intent == Intent::Want => {
            let used = HashSet::new();
            add_product(ctx, u, plan, &p, &clause.words, &used);
            true
        }
        _ => false,
    }
}

/// "another one", "two more", "add 2 more water bottles".
pub async fn more(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) {
    if !content(&clause.words).is_empty()
        && let Target::One(p, used, How::Named | How::Pointed) = targets::product(ctx, plan, clause, false).await
    {
        // A line of that product in the cart gets more of the same variant.
        let skip: HashSet<usize> = used.clone();
        let n = resolve::quantity(&clause.words, &skip).unwrap_or(1);
        let lines: Vec<&CartLine> = ctx.req.cart.lines.iter().filter(|l| l.product_id == p.id).collect();
        let mentioned = resolve::option_mentions(&p, &clause.words, &used);
        if let [line] = lines.as_slice() {
            plan.wanted_changes += 1;
            if mentioned.is_empty() {
                return add_line(plan, line, n);
            }
            // "another one in orange": the same as the line, in orange.
            let mut chosen = line.options.clone();
            chosen.extend(mentioned.into_iter().map(|(k, (v, _))| (k, v)));
            return plan_variant(ctx, plan, &p, chosen, n, None, false);
        }
        return add_product(ctx, u, plan, &p, &clause.words, &used);
    }
    let n = resolve::quantity(&clause.words, &HashSet::new()).unwrap_or(1);
    if let Some(line) = plan.memory.focus_line.as_ref().and_then(|v| ctx.req.cart.line(v)) {
        plan.wanted_changes += 1;
        return add_line(plan, line, n);
    }
    if let Some(p) = targets::focus(ctx, plan) {
        let mut words = clause.words.clone();
        words.retain(|w| w.num.is_none());
        words.push(Word { num: Some(n), ..Word::new(&n.to_string()) });
        return add_product(ctx, u, plan, &p, &words, &HashSet::new());
    }
    plan.say(t::product_not_found());
}

fn add_line(plan: &mut Plan, line: &CartLine, n: i64) {
    plan.call(Tool::AddToCart(LineArgs {
        product_id: line.product_id.clone(),
        variant_id: Some(line.variant_id.clone()),
        quantity: n,
    }));
    plan.memory.focus = Some(line.product_id.clone());
    plan.memory.focus_line = Some(line.variant_id.clone());
    plan.memory.last = Some(Action::Added);
}

/// The one cart line a quantity change means, or the reason there is none (said).
fn one_line(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan, used: &mut HashSet<usize>) -> Option<CartLine> {
    if ctx.req.cart.is_empty() {
        plan.say(t::cart_empty());
        return None;
    }
    match targets::cart_lines(ctx, plan, clause, used) {
        Lines::Some(ls) if ls.len() == 1 => Some(ls[0].clone()),
        Lines::Some(ls) | Lines::Ask(ls) => {
            let labels: Vec<String> = ls.iter().map(|l| ctx.line_label(&l.title, &l.variant_id)).collect();
            plan.say(t::which_cart_item(&labels));
            None
        }
        Lines::NotInCart(title) => {
            plan.say(t::not_in_cart(&title));
            None
        }
        Lines::Unclear => {
            let labels: Vec<String> = ctx.req.cart.lines.iter().map(|l| ctx.line_label(&l.title, &l.variant_id)).collect();
            plan.say(t::which_cart_item(&labels));
            None
        }
    }
}

fn set_line(plan: &mut Plan, line: &CartLine, quantity: i64) {
    plan.wanted_changes += 1;
    plan.memory.focus = Some(line.product_id.clone());
    plan.memory.focus_line = Some(line.variant_id.clone());
    if quantity <= 0 {
        plan.call(Tool::RemoveFromCart { product_id: line.product_id.clone(), variant_id: Some(line.variant_id.clone()) });
        plan.memory.last = Some(Action::Removed);
    } else {
        plan.call(Tool::SetQuantity(LineArgs {
            product_id: line.product_id.clone(),
            variant_id: Some(line.variant_id.clone()),
            quantity,
        }));
        plan.memory.last = Some(Action::Changed);
    }
}

/// "one less", "minus two".
pub fn less(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan) {
    let mut used = HashSet::new();
    let Some(line) = one_line(ctx, clause, plan, &mut used) else { return };
    let n = resolve::quantity(&clause.words, &used).unwrap_or(1);
    set_line(plan, &line, line.quantity as i64 - n);
}

/// "make it 5", "set the cardio balls to 4", "make the gray one 2".
pub fn set_quantity(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan) {
    let mut used = HashSet::new();
    let Some(line) = one_line(ctx, clause, plan, &mut used) else { return };
    // The last number is the new quantity ("change the 2 bottles to 3"), or, after
    // "by", a change of it ("decrease the bottles by one").
    let n = clause.words.iter().enumerate().rev().find(|(k, w)| !used.contains(k) && w.num.is_some() && w.ord.is_none());
    let by = n.is_some_and(|(k, _)| k > 0 && clause.words[k - 1].raw == "by");
    let down = clause.words.iter().any(|w| matches!(w.raw.as_str(), "decrease" | "reduce" | "lower" | "minus" | "less" | "cut"));
    match n.and_then(|(_, w)| w.num) {
        Some(d) if by && down => set_line(plan, &line, line.quantity as i64 - d),
        Some(d) if by => set_line(plan, &line, line.quantity as i64 + d),
        Some(q) => set_line(plan, &line, q),
        None => plan.say(t::how_many()),
    }
}

/// Only a number: retries an add the cart refused for its quantity, else sets the
/// line last touched.
pub fn bare_quantity(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) {
    let Some(n) = resolve::quantity(&clause.words, &HashSet::new()) else {
        return plan.say(t::how_many());
    };
    if let Some(r) = &ctx.memory.retry {
        plan.wanted_changes += 1;
        plan.call(Tool::AddToCart(LineArgs { product_id: r.product_id.clone(), variant_id: r.variant_id.clone(), quantity: n }));
        plan.memory.focus = Some(r.product_id.clone());
        plan.memory.last = Some(Action::Added);
        return;
    }
    if let Some(line) = plan.memory.focus_line.as_ref().and_then(|v| ctx.req.cart.line(v)).cloned() {
        return set_line(plan, &line, n);
    }
    // "three please" right after a product was described: three of it.
    if plan.memory.last == Some(Action::Described)
        && let Some(p) = targets::focus(ctx, plan)
    {
        let mut words = clause.words.clone();
        words.retain(|w| w.num.is_none());
        words.push(Word { num: Some(n), ..Word::new(&n.to_string()) });
        return add_product(ctx, u, plan, &p, &words, &HashSet::new());
    }
    plan.say(t::how_many());
}

/// "swap the roller for a yoga brick": remove one line, add the other product.
pub async fn swap(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) {
    let at = clause.words.iter().position(|w| w.raw == "for" || w.raw == "with").unwrap_or(clause.words.len());
    let from = Clause { words: clause.words[..at].to_vec(), intent: Intent::Remove, ..clause.clone() };
    let to = Clause { words: clause.words[(at + 1).min(clause.words.len())..].to_vec(), intent: Intent::Add, reference: None, ..clause.clone() };
    remove(ctx, &from, plan);
    add(ctx, u, &to, plan).await;
}

pub fn remove(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan) {
    if ctx.req.cart.is_empty() {
        return plan.say(t::cart_already_empty());
    }
    let mut used = HashSet::new();
    let lines = match targets::cart_lines(ctx, plan, clause, &mut used) {
        Lines::Some(ls) => ls,
        Lines::Ask(ls) => {
            let labels: Vec<String> = ls.iter().map(|l| ctx.line_label(&l.title, &l.variant_id)).collect();
            return plan.say(t::which_cart_item(&labels));
        }
        Lines::NotInCart(title) => return plan.say(t::not_in_cart(&title)),
        Lines::Unclear => {
            let labels: Vec<String> = ctx.req.cart.lines.iter().map(|l| ctx.line_label(&l.title, &l.variant_id)).collect();
            return plan.say(t::which_cart_item(&labels));
        }
    };
    // "remove one cardio ball", "remove 2 of the bottles": fewer, not gone.
    let n = resolve::quantity(&clause.words, &used);
    for line in lines {
        match n {
            Some(n) if (n as u32) < line.quantity && n > 0 => set_line(plan, &line, line.quantity as i64 - n),
            _ => {
                plan.wanted_changes += 1;
                plan.call(Tool::RemoveFromCart {
                    product_id: line.product_id.clone(),
                    variant_id: Some(line.variant_id.clone()),
                });
                plan.memory.last = Some(Action::Removed);
                if plan.memory.focus_line.as_ref() == Some(&line.variant_id) {
                    plan.memory.focus_line = None;
                }
            }
        }
    }
}

pub fn clear(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan) {
    if ctx.req.cart.is_empty() {
        return plan.say(t::cart_already_empty());
    }
    // "everything except the backpack": the lines named after "except" stay.
    let keep: Vec<VariantId> = match clause
        .words
        .iter()
        .position(|w| matches!(w.raw.as_str(), "except" | "but" | "besides" | "apart" | "excluding" | "other"))
    {
        Some(at) => {
            let kept = Clause { words: clause.words[at + 1..].to_vec(), reference: None, ..clause.clone() };
            let mut used = HashSet::new();
            match targets::cart_lines(ctx, plan, &kept, &mut used) {
                Lines::Some(ls) | Lines::Ask(ls) => ls.into_iter().map(|l| l.variant_id).collect(),
                // The exception names nothing in the cart: better to ask than to empty it.
                _ => {
                    let labels: Vec<String> =
                        ctx.req.cart.lines.iter().map(|l| ctx.line_label(&l.title, &l.variant_id)).collect();
                    return plan.say(t::which_cart_item(&labels));
                }
            }
        }
        None => Vec::new(),
    };
    for line in ctx.req.cart.lines.iter().filter(|l| !keep.contains(&l.variant_id)) {
        plan.wanted_changes += 1;
        plan.call(Tool::RemoveFromCart { product_id: line.product_id.clone(), variant_id: Some(line.variant_id.clone()) });
    }
    plan.memory.focus_line = None;
    plan.memory.last = Some(Action::Removed);
}

/// Shows the cart, or answers a question about it. The answer is written now from the
/// cart as the turn found it, unless this message changed the cart before asking:
/// then the `view_cart` result is reported.
pub fn view_cart(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan) {
    if plan.mutations > 0 {
        plan.call(Tool::ViewCart {});
        return;
    }
    let cart = &ctx.req.cart;
    let subtotal = ctx.money(cart.subtotal_minor());
    // A question about one line ("how much is the hoodie in my cart?", "how many jump
    // ropes do I have?") or the dearest/cheapest line.
    let positions: Vec<usize> = cart.lines.iter().filter_map(|l| ctx.ix.position(&l.product_id)).collect();
    let named: Vec<&CartLine> = match ctx.pick(&clause.words, Some(&positions)) {
        resolve::Pick::One(m) if !content(&clause.words).is_empty() => {
            cart.lines.iter().filter(|l| l.product_id == m.product.id).collect()
        }
        _ => Vec::new(),
    };
    let by_price: Option<&CartLine> = match clause.superlative {
        Some(super::understand::Superlative::Cheapest) => cart.lines.iter().min_by_key(|l| l.unit_price_minor),
        Some(super::understand::Superlative::Dearest) => cart.lines.iter().max_by_key(|l| l.unit_price_minor),
        None => None,
    };
    let label = |l: &CartLine| ctx.line_label(&l.title, &l.variant_id);
    let line_text = |ls: &[&CartLine]| {
        let parts: Vec<String> =
            ls.iter().map(|l| t::cart_line(l.quantity, &label(l), ctx.money(l.line_total_minor()))).collect();
        t::cart_lines_text(&parts)
    };
    let text = match clause.cart_question.unwrap_or(CartQuestion::List) {
        _ if by_price.is_some() => line_text(&[by_price.unwrap_or(&cart.lines[0])]),
        CartQuestion::Count | CartQuestion::Total if !named.is_empty() => line_text(&named),
        CartQuestion::Count => t::cart_count(cart.item_count(), subtotal),
        CartQuestion::Total => t::cart_total(cart.item_count(), subtotal),
        CartQuestion::Contains => {
            let positions: Vec<usize> = cart.lines.iter().filter_map(|l| ctx.ix.position(&l.product_id)).collect();
            let named = ctx.pick(&clause.words, Some(&positions));
            match named {
                resolve::Pick::One(m) => {
                    let lines: Vec<String> = cart
                        .lines
                        .iter()
                        .filter(|l| l.product_id == m.product.id)
                        .map(|l| t::line_count(l.quantity, &ctx.line_label(&l.title, &l.variant_id)))
                        .collect();
                    t::in_cart(&lines)
                }
                _ => match ctx.pick(&clause.words, None) {
                    resolve::Pick::One(m) => t::not_in_cart(&m.product.title),
                    _ => cart_listing(ctx),
                },
            }
        }
        CartQuestion::List => cart_listing(ctx),
    };
    plan.say(text);
    if cart.lines.len() > 1 {
        plan.memory.listed = Listed::Cart;
    }
    plan.call_quietly(Tool::ViewCart {});
}

fn cart_listing(ctx: &Ctx<'_>) -> String {
    let cart = &ctx.req.cart;
    let lines: Vec<String> = cart
        .lines
        .iter()
        .map(|l| t::cart_line(l.quantity, &ctx.line_label(&l.title, &l.variant_id), ctx.money(l.line_total_minor())))
        .collect();
    t::cart_summary(&lines, ctx.money(cart.subtotal_minor()))
}
