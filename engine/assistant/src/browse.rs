//! Product questions: searches ("do you have hoodies under $50?"), follow-ups that
//! only change the last search ("any in blue?", "what about men's?", "and the most
//! expensive one?"), and questions about one product (price, colours, sizes, stock,
//! a feature, "tell me about").
//!
//! Filters said in the message go to retrieval as `SearchFilters`: price bounds, the
//! top-level category ("women's"), option values the catalog uses ("black", "XL"),
//! in stock. Every answer names only products of this catalog, with its prices.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::domain::Product;
use crate::ports::retriever::{SearchFilters, SearchQuery};
use crate::retrieval::analyze;

use super::memory::{Action, Listed, SearchMemo};
use super::plan::{Ctx, Plan, content};
use super::resolve;
use super::targets::{self, How, Target};
use super::templates as t;
use super::text::{Word, stem};
use super::understand::{Aspect, Clause, Reference, Superlative};

mod describe;
mod kinds;

pub use describe::{chosen_label, describe};
use describe::{feature, option_answer};
use kinds::{Asked, kind_asked};
use kinds::{need_search, not_sold};

/// Words for "anything at all".
const GENERIC: &[&str] =
    &["thing", "things", "anything", "something", "everything", "item", "items", "product", "products", "stuff"];

/// How many products a list shows.
pub const LIST_LIMIT: usize = 5;
/// How many hits a superlative or a price range looks at.
const WIDE_LIMIT: usize = 300;

/// Raw words of `words` that are option values somewhere in the catalog.
pub fn option_words_in(ctx: &Ctx<'_>, words: &[Word]) -> HashSet<String> {
    option_spans(ctx, words).into_iter().flat_map(|(span, _, _)| span.into_iter().map(|k| words[k].raw.clone())).collect()
}

/// The catalog's option values the words name, as the shop writes them.
pub fn option_values_named(ctx: &Ctx<'_>, words: &[Word]) -> Vec<String> {
    option_spans(ctx, words).into_iter().map(|(_, _, v)| v).collect()
}

/// Spans of the words that are option values of the catalog: (positions, name, value).
pub fn option_spans(ctx: &Ctx<'_>, words: &[Word]) -> Vec<(Vec<usize>, String, String)> {
    let mut out: Vec<(Vec<usize>, String, String)> = Vec::new();
    // Longest values first: "Rose Gold" before "Rose" and "Gold".
    let mut values: Vec<&(Vec<String>, String, String)> = ctx.ix.option_values().iter().collect();
    values.sort_by_key(|(s, _, _)| std::cmp::Reverse(s.len()));
    for (stems, name, value) in values {
        let n = stems.len();
        if n == 0 || words.len() < n {
            continue;
        }
        for start in 0..=words.len() - n {
            let span: Vec<usize> = (start..start + n).collect();
            if !span.iter().zip(stems).all(|(&k, s)| words[k].norm == *s && words[k].money.is_none()) {
                continue;
            }
            // Lone letters and numbers are sizes only after "size" ("size m", "size 28").
            let short = n == 1 && (stems[0].len() == 1 || stems[0].bytes().all(|b| b.is_ascii_digit()));
            let after_size = start > 0 && matches!(words[start - 1].raw.as_str(), "size" | "waist" | "sz" | "in");
            if short && !after_size {
                continue;
            }
            if out.iter().any(|(s, _, _)| s.iter().any(|k| span.contains(k))) {
                continue;
            }
            out.push((span, name.clone(), value.clone()));
        }
    }
    out
}

/// Filters the clause says, and the positions of the words they used.
fn read_filters(ctx: &Ctx<'_>, clause: &Clause) -> (SearchMemo, HashSet<usize>) {
    let mut memo = SearchMemo {
        min_price: clause.min_price,
        max_price: clause.max_price,
        in_stock: clause.in_stock,
        ..SearchMemo::default()
    };
    let mut used = HashSet::new();
    for (k, w) in clause.words.iter().enumerate() {
        if let Some(c) = ctx.ix.category_for(&w.norm).or_else(|| ctx.ix.category_for(&w.raw)) {
            memo.category = Some(c.to_string());
            used.insert(k);
        }
    }
    for (span, name, value) in option_spans(ctx, &clause.words) {
        // A title word is a name before it is a filter ("Jet Black" phones are titles too).
        used.extend(span.iter().copied());
        memo.options.insert(name.to_lowercase(), value);
    }
    (memo, used)
}

/// The words of a clause that may name what is asked for: not its filters' words.
fn naming_words<'c>(ctx: &Ctx<'_>, clause: &'c Clause) -> (SearchMemo, Vec<&'c Word>) {
    let (filters, used) = read_filters(ctx, clause);
    let naming = clause
        .words
        .iter()
        .enumerate()
        .filter(|(k, w)| !used.contains(k) && !content(std::slice::from_ref(*w)).is_empty())
        .map(|(_, w)| w)
        .collect();
    (filters, naming)
}

/// A need or a kind the shop does not sell, rather than a product: answered by
/// [`browse`] whatever the verb ("I need something warm", "add a yoga mat").
pub fn not_a_product(ctx: &Ctx<'_>, clause: &Clause) -> bool {
    if !reads_as_kind(clause) {
        return false;
    }
    let (_, naming) = naming_words(ctx, clause);
    !matches!(kind_asked(ctx, clause, &naming), Asked::Kind)
}

/// Whether a clause may ask for a kind of thing or a need, rather than about
/// something shown: no pointer ("is it warm?" is about it), no "cheaper", except in a
/// need said around it ("I need something to protect it").
fn reads_as_kind(clause: &Clause) -> bool {
    let vague_need = clause.words.iter().any(|w| super::needs::VAGUE.contains(&w.raw.as_str()))
        && super::needs::read(&clause.words).is_some();
    clause.comparative.is_none() && (clause.reference.is_none() || vague_need && clause.reference == Some(Reference::One))
}

/// Answers a product question.
pub async fn browse(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan) {
    let words = &clause.words;
    let (filters, naming) = naming_words(ctx, clause);
    // Numbers name models ("iPhone 7", "65 cm") in a search; they are no quantities here.
    let numbers: Vec<&Word> =
        words.iter().filter(|w| w.num.is_some() && w.raw.bytes().all(|b| b.is_ascii_digit())).collect();
    let list = targets::listed(ctx, plan);
    let focus = targets::focus(ctx, plan);
    let option_only = naming.is_empty() && !filters.options.is_empty();

    if let Some(Reference::Position(_)) = clause.reference
        && let Target::One(p, _, _) = targets::product(ctx, plan, clause, false).await
        && naming.is_empty()
    {
        return describe(ctx, clause, &p, plan);
    }
    // "anything cheaper?": the same kind of thing, below what was just shown.
    if let Some(dir) = clause.comparative
        && naming.is_empty()
    {
        let cheaper = dir == Superlative::Cheapest;
        let mut memo = filters.clone();
        let prices: Vec<i64> = match (&focus, plan.memory.last) {
            (Some(p), Some(Action::Described | Action::Added)) => {
                memo.category = Some(p.category.to_lowercase());
                vec![p.price().minor]
            }
            _ => {
                if let Some(old) = ctx.memory.search.clone() {
                    memo = merge(old, memo);
                }
                list.iter().map(|p| p.price().minor).collect()
            }
        };
        if cheaper && let Some(low) = prices.iter().min() {
            memo.max_price = Some(low - 1);
        } else if let Some(high) = prices.iter().max() {
            memo.min_price = Some(high + 1);
        }
        memo.page = 0;
        return search(ctx, clause, memo, plan).await;
    }
    // "which is better, the Hero Hoodie or the Chaz Kangeroo Hoodie?"
    if let Some(both) = compared(ctx, plan, clause).await {
        let refs: Vec<&Product> = both.iter().map(|p| p.as_ref()).collect();
        plan.say(t::comparison(&refs));
        plan.memory.list = both.iter().map(|p| p.id.clone()).collect();
        plan.memory.listed = Listed::Products;
        plan.memory.focus = None;
        plan.memory.last = Some(Action::Searched);
        return plan.show(both.iter().map(|p| p.id.clone()).collect());
    }
    // "anything from otterbox?" after a search for iPhone 6s cases: the same search,
    // narrowed, when some product has both ("what about watches?" after hoodies is a
    // new search).
    let opener = words.iter().find(|w| !w.is_sep()).map(|w| w.raw.as_str());
    let narrows = matches!(opener, Some("any" | "anything" | "something" | "what" | "how" | "and" | "only"))
        && naming.len() <= 2
        && plan.memory.last == Some(Action::Searched);
    if narrows
        && !resolve::is_specific(&ctx.matches(words, None))
        && let Some(old) = ctx.memory.search.clone()
    {
        let mut memo = merge(old.clone(), filters.clone());
        memo.query = format!("{} {}", old.query, naming.iter().map(|w| corrected(ctx, w)).collect::<Vec<_>>().join(" "));
        let all_terms = super::text::read(&memo.query).words.iter().filter(|w| !w.is_sep()).count();
        let found = retrieve(ctx, &memo, LIST_LIMIT * 20).await;
        let covers_all = found.first().and_then(|p| ctx.ix.position(&p.id)).is_some_and(|i| {
            super::text::read(&memo.query).words.iter().filter(|w| !w.is_sep()).all(|w| ctx.ix.product_has(i, &w.norm))
        });
        if covers_all && all_terms > 0 {
            return search(ctx, clause, memo, plan).await;
        }
    }
    // "something warm for a cold morning run", "cheap gear for the gym": the kinds
    // that meet the need, not the product talked about. "running shoes" in a shop
    // without shoes: said so, with the nearest it has.
    if reads_as_kind(clause) {
        match kind_asked(ctx, clause, &naming) {
            Asked::Need(need) => {
                if need_search(ctx, clause, &need, filters.clone(), plan).await {
                    return;
                }
            }
            Asked::NotSold(head) => return not_sold(ctx, clause, &naming, head, filters, plan).await,
            Asked::Kind => {}
        }
    }
    if !naming.is_empty() {
        let kind = is_kind(&naming);
        match targets::product(ctx, plan, clause, false).await {
            Target::One(p, used, how) if !(kind && clause.reference.is_none() && how != How::Pointed) => {
                // "is the Overnight Duffle waterproof?": words beside the name ask
                // about a feature.
                let extra: Vec<&Word> = words
                    .iter()
                    .enumerate()
                    .filter(|(k, w)| !used.contains(k) && naming.iter().any(|n| std::ptr::eq(*n, *w)))
                    .map(|(_, w)| w)
                    .filter(|w| resolve::option_mentions(&p, std::slice::from_ref(*w), &HashSet::new()).is_empty())
                    .filter(|w| w.raw.chars().count() >= 3 && !super::lexicon::FILLER.contains(&w.raw.as_str()))
                    .collect();
                // "do you have a matching bra top?": a kind with words of its own is a
                // search, where "the" would have named this one product.
                let first = used.iter().min().copied().unwrap_or(0);
                let indefinite = words[..first].iter().rev().find(|w| !extra.iter().any(|e| std::ptr::eq(*e, *w))).is_some_and(|w| {
                    matches!(w.raw.as_str(), "a" | "an" | "any" | "some" | "other" | "another")
                });
                if !indefinite || extra.is_empty() {
                    if clause.question && !extra.is_empty() && matches!(clause.aspect, Aspect::General | Aspect::Detail) {
                        return feature(ctx, &p, &extra, plan);
                    }
                    return describe(ctx, clause, &p, plan);
                }
            }
            target => {
                // "does it have a laptop sleeve?": a feature of the product talked about.
                // "does it have a laptop sleeve?" is about "it", whatever else "sleeve"
                // names; without "it", words that name other products (even several)
                // are a search ("do you have a pink ball?").
                let about_it = clause.reference == Some(Reference::One) && !matches!(target, Target::One(..));
                let about_focus = about_it || (clause.question && !kind && matches!(target, Target::Nothing));
                if let Some(p) = &focus
                    && about_focus
                    && clause.superlative.is_none()
                    && plan.memory.last != Some(Action::Searched)
                {
                    return match clause.aspect {
                        Aspect::General | Aspect::Detail => feature(ctx, p, &naming, plan),
                        _ => describe(ctx, clause, p, plan),
                    };
                }
            }
        }
    } else {
        // "do they come in 30?" right after adding or describing them: that product.
        let about_focus = matches!(plan.memory.last, Some(Action::Added | Action::Changed | Action::Described));
        if clause.reference == Some(Reference::Those)
            && about_focus
            && let Some(p) = &focus
            && (option_only || clause.aspect != Aspect::General || !option_spans(ctx, words).is_empty())
        {
            return describe(ctx, clause, p, plan);
        }
        if clause.reference == Some(Reference::Those) && list.len() > 1 {
            return answer_products(ctx, clause, list, None, plan);
        }
        // "show me more", "any others?": the next page of the last search.
        if words.iter().any(|w| matches!(w.raw.as_str(), "more" | "others" | "else" | "other"))
            && clause.aspect == Aspect::General
            && clause.comparative.is_none()
            && let Some(mut memo) = ctx.memory.search.clone()
        {
            memo.page += 1;
            return search(ctx, clause, memo, plan).await;
        }
        if option_only
            && let Some(p) = &focus
            && plan.memory.last != Some(Action::Searched)
        {
            // "what about purple?" about the product just described.
            return describe(ctx, clause, p, plan);
        }
        let follow_up = clause.superlative.is_some()
            || clause.has_filters()
            || !filters.options.is_empty()
            || filters.category.is_some();
        // "the cheapest thing you sell", "anything under $20": the whole catalog.
        let everything = words.iter().any(|w| GENERIC.contains(&w.raw.as_str()))
            && words.iter().any(|w| matches!(w.raw.as_str(), "sell" | "have" | "carry" | "offer" | "store" | "shop" | "everything"));
        if follow_up
            && !everything
            && let Some(old) = ctx.memory.search.clone().or(plan.memory.search.clone())
        {
            let memo = merge(old, filters);
            return search(ctx, clause, memo, plan).await;
        }
        if (clause.aspect != Aspect::General || clause.reference == Some(Reference::One))
            && clause.superlative.is_none()
            && let Some(p) = focus.clone().or_else(|| (list.len() == 1).then(|| list[0].clone()))
        {
            return describe(ctx, clause, &p, plan);
        }
        if (clause.reference == Some(Reference::One) || clause.aspect != Aspect::General && !follow_up)
            && clause.superlative.is_none()
        {
            // "how much is it?" with nothing talked about: the last list, or a question back.
            if list.len() > 1 {
                return answer_products(ctx, clause, list, None, plan);
            }
            return plan.say(t::product_not_found());
        }
    }
    // "a pink ball": when the shop's own names (titles, SKUs) pick out a few products
    // with every word, those are the answer.
    if clause.superlative.is_none()
        && clause.aspect == Aspect::General
        && let resolve::Pick::Several(few) = ctx.pick(words, None)
        && few.len() <= LIST_LIMIT
        && filters.options.is_empty()
        && !clause.has_filters()
    {
        let ms = ctx.matches(words, None);
        let all_named = ms.first().is_some_and(|m| {
            words.iter().enumerate().all(|(k, w)| m.used.contains(&k) || !naming.iter().any(|n| std::ptr::eq(*n, w)))
        });
        if all_named {
            return answer_products(ctx, clause, few, None, plan);
        }
    }
    let mut memo = filters;
    let mut query: Vec<&Word> = naming.clone();
    query.extend(numbers.iter().copied().filter(|w| !naming.is_empty() && !query_has(&naming, w)));
    query.sort_by_key(|w| words.iter().position(|x| std::ptr::eq(x, *w)));
    memo.query = query.iter().map(|w| corrected(ctx, w)).collect::<Vec<_>>().join(" ");
    search(ctx, clause, memo, plan).await
}

/// A word and the synonyms retrieval knows for it, as the assistant's stems; the
/// word itself first.
pub fn forms(word: &str) -> Vec<String> {
    let w = word.to_lowercase();
    let mut out = vec![stem(&w)];
    out.extend(analyze::synonyms(&analyze::stem(&w)).iter().map(|s| stem(s)));
    out
}

/// A query word as the catalog writes it: a typo ("strapp", "hodie") becomes the
/// title word one edit away; a known word stays.
fn corrected(ctx: &Ctx<'_>, w: &Word) -> String {
    if w.num.is_some() || ctx.ix.in_titles(&w.norm) || ctx.ix.knows(&w.norm) {
        return w.raw.clone();
    }
    match ctx.ix.typo_matches(&w.norm).first().and_then(|s| ctx.ix.surface(s)) {
        Some(fixed) => fixed.to_string(),
        None => w.raw.clone(),
    }
}

fn query_has(ws: &[&Word], w: &Word) -> bool {
    ws.iter().any(|x| std::ptr::eq(*x, w))
}

/// Plural words name a kind of product ("hoodies", "water bottles").
fn is_kind(naming: &[&Word]) -> bool {
    naming.iter().any(|w| w.raw.len() > 3 && w.raw.ends_with('s') && !w.raw.ends_with("ss") && w.norm != w.raw)
}

/// Two or more products named one by one ("the X or the Y", "X vs Y").
async fn compared(ctx: &Ctx<'_>, plan: &Plan, clause: &Clause) -> Option<Vec<Arc<Product>>> {
    let mut parts: Vec<Vec<Word>> = vec![Vec::new()];
    for w in &clause.words {
        if matches!(w.raw.as_str(), "or" | "vs" | "versus" | "and") || w.is_sep() {
            parts.push(Vec::new());
        } else if let Some(p) = parts.last_mut() {
            p.push(w.clone());
        }
    }
    parts.retain(|p| !content(p).is_empty());
    if parts.len() < 2 {
        return None;
    }
    // Parts that name no product ("which is better") are the question, not a side.
    parts.retain(|p| !ctx.matches(p, None).is_empty());
    if parts.len() < 2 {
        return None;
    }
    let mut found: Vec<Arc<Product>> = Vec::new();
    for words in parts {
        let part = Clause { words, reference: None, ..clause.clone() };
        match targets::product(ctx, plan, &part, false).await {
            Target::One(p, _, How::Named | How::Pointed) if !found.iter().any(|f| f.id == p.id) => found.push(p),
            _ => return None,
        }
    }
    Some(found)
}

/// A follow-up's filters over the last search.
fn merge(old: SearchMemo, new: SearchMemo) -> SearchMemo {
    let mut options = old.options;
    options.extend(new.options);
    SearchMemo {
        query: old.query,
        min_price: new.min_price.or(old.min_price),
        max_price: new.max_price.or(old.max_price),
        category: new.category.or(old.category),
        options,
        in_stock: new.in_stock || old.in_stock,
        page: 0,
    }
}

/// Retrieval for a memo: this tenant's products, best first, the ones covering the
/// most of the query's words first (so "water bottles" answers with bottles, not
/// with bags whose descriptions mention a bottle pocket).
async fn retrieve(ctx: &Ctx<'_>, memo: &SearchMemo, limit: usize) -> Vec<Arc<Product>> {
    let filters = SearchFilters {
        min_price_minor: memo.min_price,
        max_price_minor: memo.max_price,
        category: memo.category.clone(),
        options: memo.options.clone(),
        in_stock_only: memo.in_stock,
    };
    let query = SearchQuery { text: memo.query.clone(), filters, limit };
    let hits = match ctx.retriever.search(&ctx.req.tenant, &query).await {
        Ok(hits) => hits.into_iter().filter_map(|h| ctx.product(&h.product.id).map(|p| (p, h.score))).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "offline assistant: retrieval failed, matching titles only");
            let words = super::text::read(&memo.query).words;
            ctx.matches(&words, None)
                .iter()
                .filter(|m| passes(m.product.as_ref(), memo))
                .take(limit)
                .map(|m| (m.product.clone(), m.score))
                .collect::<Vec<_>>()
        }
    };
    best_covering(ctx, &memo.query, hits)
}

/// Whether a product passes a memo's filters (for the title fallback).
fn passes(p: &Product, memo: &SearchMemo) -> bool {
    p.variants.iter().any(|v| {
        memo.min_price.is_none_or(|m| v.price_minor >= m)
            && memo.max_price.is_none_or(|m| v.price_minor <= m)
            && (!memo.in_stock || v.in_stock())
            && memo.options.iter().all(|(k, val)| v.options.iter().any(|(n, x)| n.eq_ignore_ascii_case(k) && x.eq_ignore_ascii_case(val)))
    }) && memo.category.as_ref().is_none_or(|c| p.category.to_lowercase().contains(c.as_str()))
}

/// Keeps the hits that have the most of the query's words (or their synonyms) among
/// their own words; equal scores keep the catalog's order.
fn best_covering(ctx: &Ctx<'_>, query: &str, hits: Vec<(Arc<Product>, f32)>) -> Vec<Arc<Product>> {
    let terms: Vec<Vec<String>> = analyze::words(query)
        .into_iter()
        .filter(|w| !analyze::is_stop_word(w) && !super::lexicon::is_stopword(w))
        .map(|w| forms(&w))
        .collect();
    // (words its title, tags, category or options have as written; the same with
    // synonyms; words it has anywhere): a hoodie before a jacket tagged "pullover".
    // Its title or category first: pants before shorts tagged "workout pants".
    // Then its own name: iPhones before cases "for iPhone".
    let asks_accessory = terms.iter().any(|forms| super::lexicon::ACCESSORY_WORDS.contains(&forms[0].as_str()));
    let cover = |p: &Product| -> (usize, usize, usize, usize, usize, usize) {
        let Some(i) = ctx.ix.position(&p.id) else { return (0, 0, 0, 0, 0, 0) };
        let thing = usize::from(
            asks_accessory || !ctx.ix.title(i).iter().any(|w| super::lexicon::ACCESSORY_WORDS.contains(&w.as_str())),
        );
        let kind = terms.iter().filter(|forms| ctx.ix.product_kind(i, &forms[0])).count();
        let named = terms.iter().filter(|forms| !ctx.ix.product_for(i, &forms[0])).count();
        let exact = terms.iter().filter(|forms| ctx.ix.product_is(i, &forms[0])).count();
        let strong = terms.iter().filter(|forms| forms.iter().any(|f| ctx.ix.product_is(i, f))).count();
        let any = terms.iter().filter(|forms| forms.iter().any(|f| ctx.ix.product_has(i, f))).count();
        (kind, named, thing, exact, strong, any)
    };
    // (product, retrieval score, its coverage counts, its place in retrieval's order)
    type Scored = (Arc<Product>, f32, (usize, usize, usize, usize, usize, usize), usize);
    let mut scored: Vec<Scored> = hits
        .into_iter()
        .map(|(p, s)| {
            let c = cover(&p);
            let pos = ctx.ix.position(&p.id).unwrap_or(usize::MAX);
            (p, s, c, pos)
        })
        .collect();
    let best = scored.iter().map(|x| x.2).max().unwrap_or((0, 0, 0, 0, 0, 0));
    if best.5 > 0 {
        scored.retain(|x| x.2 == best);
    }
    scored.sort_by(|a, b| {
        let (sa, sb) = ((a.1 * 1000.0).round(), (b.1 * 1000.0).round());
        sb.partial_cmp(&sa).unwrap_or(std::cmp::Ordering::Equal).then(a.3.cmp(&b.3))
    });
    scored.into_iter().map(|x| x.0).collect()
}

async fn search(ctx: &Ctx<'_>, clause: &Clause, memo: SearchMemo, plan: &mut Plan) {
    // Many hits, so the products a query names come before the ones that only mention
    // it (phones before their cases), whatever retrieval's order.
    let limit = WIDE_LIMIT;
    let mut found = retrieve(ctx, &memo, limit).await;
    let mut memo = memo;
    if found.is_empty() && !memo.options.is_empty() {
        // Shops that write colours in titles, not as options: search the words instead.
        let mut loose = memo.clone();
        let values: Vec<String> = loose.options.values().cloned().collect();
        loose.options.clear();
        loose.query = format!("{} {}", loose.query, values.join(" ")).trim().to_string();
        found = retrieve(ctx, &loose, limit).await;
        if !found.is_empty() {
            memo = loose;
        }
    }
    if found.is_empty() && !memo.query.is_empty() {
        // "jumpers", "trousers": the shop's words for what the shopper means.
        let mut changed = false;
        let swapped: Vec<String> = super::text::read(&memo.query)
            .words
            .iter()
            .map(|w| {
                if ctx.ix.knows(&w.norm) {
                    return w.raw.clone();
                }
                let alt = super::lexicon::SHOPPER_SYNONYMS
                    .iter()
                    .find(|(k, _)| *k == w.raw || stem(k) == w.norm)
                    .and_then(|(_, alts)| alts.iter().find(|a| ctx.ix.knows(&stem(a))));
                match alt {
                    Some(a) => {
                        changed = true;
                        a.to_string()
                    }
                    None => w.raw.clone(),
                }
            })
            .collect();
        if changed {
            let mut other = memo.clone();
            other.query = swapped.join(" ");
            found = retrieve(ctx, &other, limit).await;
            if !found.is_empty() {
                memo = other;
            }
        }
    }
    if found.is_empty() && !memo.query.is_empty() {
        // "a gift under $30": words the catalog has never heard of go; the rest stays.
        let known: Vec<String> = super::text::read(&memo.query)
            .words
            .iter()
            .filter(|w| w.num.is_some() || ctx.ix.knows(&w.norm))
            .map(|w| w.raw.clone())
            .collect();
        if known.join(" ") != memo.query && (!known.is_empty() || memo.min_price.is_some() || memo.max_price.is_some() || memo.category.is_some()) {
            let mut narrower = memo.clone();
            narrower.query = known.join(" ");
            found = retrieve(ctx, &narrower, limit).await;
            if !found.is_empty() {
                memo = narrower;
            }
        }
    }
    if found.is_empty() {
        if memo.query.is_empty() || !clause.has_filters() && memo.options.is_empty() && memo.category.is_none() {
            plan.found_nothing = true;
        } else {
            plan.say(t::nothing_fits_filters());
        }
        return;
    }
    plan.memory.search = Some(memo);
    answer_products(ctx, clause, found, clause.superlative, plan);
}

/// The cheapest (or dearest) product a clause means: among the last list for "of
/// those", else among the last search, else the whole catalog.
pub async fn superlative_pick(ctx: &Ctx<'_>, clause: &Clause, plan: &Plan) -> Option<Arc<Product>> {
    let s = clause.superlative?;
    let (filters, used) = read_filters(ctx, clause);
    let list = targets::listed(ctx, plan);
    // Words of the filters ("size 32 black") are not what is searched for.
    let naming = clause
        .words
        .iter()
        .enumerate()
        .filter(|(k, w)| !used.contains(k) && !content(std::slice::from_ref(*w)).is_empty())
        .map(|(_, w)| w.raw.clone())
        .collect::<Vec<_>>()
        .join(" ");
    let pool: Vec<Arc<Product>> = if clause.reference == Some(Reference::Those) && list.len() > 1 {
        list
    } else {
        let memo = match plan.memory.search.clone() {
            Some(old) if naming.is_empty() => merge(old, filters),
            _ => SearchMemo { query: naming, ..filters },
        };
        retrieve(ctx, &memo, WIDE_LIMIT).await
    };
    let price = |p: &Arc<Product>| p.price().minor;
    match s {
        Superlative::Cheapest => pool.iter().min_by_key(|p| price(p)).cloned(),
        Superlative::Dearest => pool.iter().max_by_key(|p| price(p)).cloned(),
    }
}

/// "which one is the most expensive?" while choosing among `among` for `request`
/// ("I need a car charger"): the cheapest (or dearest) of them and of what a search
/// for the request finds (titles alone miss the "vehicle chargers").
pub async fn answer_superlative(ctx: &Ctx<'_>, clause: &Clause, request: &Clause, among: &[Arc<Product>], plan: &mut Plan) {
    let Some(s) = clause.superlative else { return };
    let (mut memo, used) = read_filters(ctx, request);
    memo.query = request
        .words
        .iter()
        .enumerate()
        .filter(|(k, w)| !used.contains(k) && !content(std::slice::from_ref(*w)).is_empty())
        .map(|(_, w)| corrected(ctx, w))
        .collect::<Vec<_>>()
        .join(" ");
    let mut pool: Vec<Arc<Product>> = among.to_vec();
    // "the cheapest of those": of those only.
    if !memo.query.is_empty() && clause.reference != Some(Reference::Those) {
        for p in retrieve(ctx, &memo, WIDE_LIMIT).await {
            if !pool.iter().any(|x| x.id == p.id) {
                pool.push(p);
            }
        }
    }
    superlative_answer(s, &pool, plan);
}

fn superlative_answer(s: Superlative, found: &[Arc<Product>], plan: &mut Plan) {
    let price = |p: &Arc<Product>| p.price().minor;
    let best = match s {
        Superlative::Cheapest => found.iter().map(price).min(),
        Superlative::Dearest => found.iter().map(price).max(),
    };
    let top: Vec<Arc<Product>> = found.iter().filter(|p| Some(price(p)) == best).take(3).cloned().collect();
    let refs: Vec<&Product> = top.iter().map(|p| p.as_ref()).collect();
    plan.say(t::superlative(s == Superlative::Cheapest, &refs));
    plan.memory.focus = top.first().map(|p| p.id.clone());
    plan.memory.last = Some(Action::Described);
    plan.show(top.iter().map(|p| p.id.clone()).collect());
}

/// Answers with several products: a list, a price range, or the cheapest/dearest.
fn answer_products(
    ctx: &Ctx<'_>,
    clause: &Clause,
    found: Vec<Arc<Product>>,
    superlative: Option<Superlative>,
    plan: &mut Plan,
) {
    let superlative = superlative.or(clause.superlative);
    if let Some(s) = superlative {
        return superlative_answer(s, &found, plan);
    }
    if let [one] = found.as_slice() {
        return describe(ctx, clause, one, plan);
    }
    let page = plan.memory.search.as_ref().map_or(0, |m| m.page);
    let mut shown: Vec<Arc<Product>> = found.iter().skip(page * LIST_LIMIT).take(LIST_LIMIT).cloned().collect();
    if shown.is_empty() {
        // Past the last page: start over.
        if let Some(m) = plan.memory.search.as_mut() {
            m.page = 0;
        }
        shown = found.iter().take(LIST_LIMIT).cloned().collect();
    }
    let refs: Vec<&Product> = shown.iter().map(|p| p.as_ref()).collect();
    if matches!(clause.aspect, Aspect::Colors | Aspect::Sizes) && shown.len() <= 3 {
        // "the leggings look nice, what colours?": each one's, when they are few.
        for p in &shown {
            plan.say(option_answer(p, clause.aspect));
        }
    } else if clause.aspect == Aspect::Price {
        let low = found.iter().map(|p| p.price()).min_by_key(|m| m.minor);
        let high = found.iter().map(|p| p.variants.iter().map(|v| v.price_minor).max().unwrap_or(0)).max();
        if let (Some(low), Some(high)) = (low, high) {
            plan.say(t::price_range(low, ctx.money(high), &refs));
        }
    } else {
        plan.say(t::product_list(&refs));
    }
    let ids: Vec<_> = shown.iter().map(|p| p.id.clone()).collect();
    plan.memory.list = ids.clone();
    plan.memory.listed = Listed::Products;
    plan.memory.focus = None;
    plan.memory.last = Some(Action::Searched);
    plan.show(ids);
}
