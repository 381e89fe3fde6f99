//! Which product, or which cart line, a clause points at: by position in the last
//! list ("the second one"), by name (a title match, first among what was just
//! listed), by pronoun ("it", "those"), and, for names the titles do not have, by
//! retrieval (synonyms, descriptions).
//!
//! Cart lines are only ever chosen among the cart's own lines, so a removal can never
//! reach a product the shopper does not have.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::{CartLine, Product};
use crate::ports::retriever::{SearchFilters, SearchQuery};

use super::memory::Listed;
use super::plan::{Ctx, Plan, content};
use super::resolve::{self, Pick};
use super::text::Word;
use super::understand::{Clause, Reference};

/// What a clause points at.
#[derive(Debug)]
pub enum Target {
    /// The product, with the positions of the clause's words its title used.
    One(Arc<Product>, HashSet<usize>, How),
    Several(Vec<Arc<Product>>),
    Nothing,
}

/// How a single product was found: a title naming exactly it, or less directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Its name, clearly ("the Josie jacket").
    Named,
    /// A list position, a pronoun, or a name among what was just listed.
    Pointed,
    /// A kind that only one product fits, or one search hit.
    Loosely,
}

/// The products last listed, in order.
pub fn listed(ctx: &Ctx<'_>, plan: &Plan) -> Vec<Arc<Product>> {
    let ids = if plan.memory.list.is_empty() { &ctx.req.dialogue.last_products } else { &plan.memory.list };
    ids.iter().filter_map(|id| ctx.product(id)).collect()
}

pub fn focus(ctx: &Ctx<'_>, plan: &Plan) -> Option<Arc<Product>> {
    plan.memory.focus.as_ref().and_then(|id| ctx.product(id))
}

/// The n-th (1-based; -1 the last) of a list.
pub fn nth<T: Clone>(items: &[T], n: i64) -> Option<T> {
    let k = if n < 0 { items.len() as i64 + n } else { n - 1 };
    usize::try_from(k).ok().and_then(|k| items.get(k)).cloned()
}

/// Words of the clause that an option of `p` explains ("in black" after "add it").
fn explained_by_options(p: &Product, words: &[Word], pointed: bool) -> bool {
    let opts = resolve::option_mentions(p, words, &HashSet::new());
    let explained: HashSet<usize> = opts.values().flat_map(|(_, s)| s.iter().copied()).collect();
    // When the shopper points at it ("add it in black") its own title's words count too: a phone
    // titled "… - Black" has no colour option. Without a pointer, a named product is matched by name.
    let title = if pointed { super::index::title_stems(&p.title) } else { Vec::new() };
    words.iter().enumerate().all(|(k, w)| {
        explained.contains(&k) || content(std::slice::from_ref(w)).is_empty() || title.contains(&w.norm)
    })
}

/// Among products that fit a name equally, the ones the last search was about
/// ("the Moto G4 Play" after "unlocked phones under $200": the unlocked one).
fn by_last_search(ctx: &Ctx<'_>, plan: &Plan, candidates: &[Arc<Product>]) -> Option<Arc<Product>> {
    let memo = plan.memory.search.as_ref()?;
    let terms: Vec<String> = super::text::stems(&memo.query);
    let score = |p: &Product| -> (bool, usize, usize) {
        let fits = p.variants.iter().any(|v| {
            memo.min_price.is_none_or(|m| v.price_minor >= m) && memo.max_price.is_none_or(|m| v.price_minor <= m)
        }) && memo.category.as_ref().is_none_or(|c| p.category.to_lowercase().contains(c.as_str()));
        let i = ctx.ix.position(&p.id);
        let strong = terms.iter().filter(|t| i.is_some_and(|i| ctx.ix.product_is(i, t))).count();
        let any = terms.iter().filter(|t| i.is_some_and(|i| ctx.ix.product_has(i, t))).count();
        (fits, strong, any)
    };
    // ((fits, strong, any), product)
    type Scored<'p> = ((bool, usize, usize), &'p Arc<Product>);
    let mut scored: Vec<Scored> = candidates.iter().map(|p| (score(p), p)).collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    match scored.as_slice() {
        [(best, p), (next, _), ..] if best.1 > next.1 && best.0 => Some((*p).clone()),
        _ => None,
    }
}

/// A match that leaves as many real words of the clause unexplained as it explains
/// ("the Hero Hoodie in M black" is not the "Studio M HD" phone because of its "M").
fn weak(m: &resolve::Match, words: &[Word], neutral: &HashSet<String>) -> bool {
    // Any word of any of its option values explains itself ("black and blue" is two
    // colours of the hoodie, even if not one choice).
    let values: HashSet<String> =
        m.product.option_values().into_iter().flat_map(|(_, vs)| vs).flat_map(|v| super::text::stems(&v)).collect();
    let explained: HashSet<usize> = words
        .iter()
        .enumerate()
        .filter(|(k, w)| m.used.contains(k) || values.contains(&w.norm))
        .map(|(k, _)| k)
        .collect();
    let long = |w: &Word| w.raw.chars().count() >= 4 && w.num.is_none();
    let names: Vec<(usize, &Word)> =
        words.iter().enumerate().filter(|(_, w)| !content(std::slice::from_ref(*w)).is_empty()).collect();
    // A colour or size the shop sells elsewhere ("blue" for a hoodie without blue) is
    // no sign of another product.
    let missed =
        names.iter().filter(|(k, w)| !explained.contains(k) && long(w) && !neutral.contains(&w.raw)).count();
    let hit = names.iter().filter(|(k, w)| m.used.contains(k) && (long(w) || w.raw.chars().count() >= 2)).count();
    missed > 0 && missed >= hit
}

/// The product a clause means. `retrieve`: fall back to retrieval when no title fits.
pub async fn product(ctx: &Ctx<'_>, plan: &Plan, clause: &Clause, retrieve: bool) -> Target {
    let words = &clause.words;
    let list = listed(ctx, plan);
    let names = content(words);
    let mut neutral = super::browse::option_words_in(ctx, words);
    neutral.extend(
        words.iter().filter(|w| matches!(w.raw.as_str(), "small" | "medium" | "large" | "extra")).map(|w| w.raw.clone()),
    );
    // "the second one": a position in what was just listed.
    if let Some(Reference::Position(n)) = clause.reference {
        let by_title = ctx.matches(words, None);
        let ordinal_in_title = by_title.first().is_some_and(|m| m.used.iter().any(|&k| words[k].ord.is_some()));
        // With no list shown, "the second one" (naming nothing else) is among the
        // last suggestions; "the watches first" is not.
        let suggested: Vec<Arc<Product>> = if list.is_empty() && names.is_empty() {
            plan.memory.suggestions.iter().filter_map(|id| ctx.product(id)).collect()
        } else {
            Vec::new()
        };
        let among = if list.is_empty() { &suggested } else { &list };
        if !ordinal_in_title && let Some(p) = nth(among, n) {
            return Target::One(p, HashSet::new(), How::Pointed);
        }
    }
    let referred: Option<Arc<Product>> = match clause.reference {
        Some(Reference::Those) if list.len() > 1 && plan.memory.focus.is_none() => None,
        Some(Reference::One | Reference::Those) | None => {
            focus(ctx, plan).or_else(|| if list.len() == 1 { list.first().cloned() } else { None })
        }
        Some(Reference::Position(_)) => None,
    };
    if let Some(p) = &referred
        && explained_by_options(p, words, clause.reference.is_some())
    {
        return Target::One(p.clone(), HashSet::new(), How::Pointed);
    }
    // "add it in gray" when it has no gray: still it (and its options are explained),
    // not another product that happens to have "gray" in its title.
    if let Some(p) = &referred
        && clause.reference == Some(Reference::One)
        && !names.is_empty()
        && names.iter().all(|w| neutral.contains(&w.raw) || matches!(w.raw.as_str(), "size" | "color" | "colour"))
    {
        return Target::One(p.clone(), HashSet::new(), How::Pointed);
    }
    if names.is_empty() {
        return match clause.reference {
            Some(Reference::Those) if list.len() > 1 => Target::Several(list),
            _ => Target::Nothing,
        };
    }
    let ms = ctx.matches(words, None);
    if resolve::is_specific(&ms)
        && let Pick::One(m) = ctx.pick(words, None)
        && !weak(&m, words, &neutral)
    {
        return Target::One(m.product, m.used, How::Named);
    }
    // A name among what was just listed: "the jabra one", "the Logan one".
    if list.len() > 1 {
        let positions: Vec<usize> = list.iter().filter_map(|p| ctx.ix.position(&p.id)).collect();
        match ctx.pick(words, Some(&positions)) {
            Pick::One(m) if !weak(&m, words, &neutral) => return Target::One(m.product, m.used, How::Pointed),
            // "the jabra one" among two listed Jabras of seven: ask among the two.
            Pick::Several(v)
                if !resolve::is_specific(&ms)
                    && matches!(ctx.pick(words, None), Pick::Several(all) if all.len() > 5) =>
            {
                return Target::Several(v);
            }
            _ => {}
        }
    }
    match ctx.pick(words, None) {
        Pick::One(m) if weak(&m, words, &neutral) => Target::Nothing,
        Pick::One(m) => Target::One(m.product, m.used, How::Loosely),
        Pick::Several(v) => match referred {
            // "that hoodie": the hoodie talked about, among the hoodies.
            Some(p) if v.iter().any(|x| x.id == p.id) && clause.reference.is_some() => {
                Target::One(p, HashSet::new(), How::Pointed)
            }
            _ => match by_last_search(ctx, plan, &v) {
                Some(p) => {
                    let used = ms.iter().find(|m| m.product.id == p.id).map(|m| m.used.clone()).unwrap_or_default();
                    Target::One(p, used, How::Pointed)
                }
                None => Target::Several(v),
            },
        },
        Pick::Nothing if !retrieve => Target::Nothing,
        Pick::Nothing => {
            // Only words that can name something: not lone letters, not colours or
            // sizes alone ("the hero hoodie in M black" in a phone shop finds nothing).
            let options = super::browse::option_words_in(ctx, words);
            let names: Vec<&&Word> =
                names.iter().filter(|w| w.raw.chars().count() >= 3 && !options.contains(&w.raw)).collect();
            if names.is_empty() {
                return Target::Nothing;
            }
            let q: Vec<&str> = names.iter().map(|w| w.raw.as_str()).collect();
            let query = SearchQuery { text: q.join(" "), filters: SearchFilters::default(), limit: 5 };
            let hits = match ctx.retriever.search(&ctx.req.tenant, &query).await {
                Ok(h) => h.into_iter().filter_map(|h| ctx.product(&h.product.id)).collect::<Vec<_>>(),
                Err(_) => Vec::new(),
            };
            // Every naming word (or a synonym retrieval knows) must be the product's own.
            let stems: Vec<Vec<String>> = names.iter().map(|w| super::browse::forms(&w.raw)).collect();
            let hits: Vec<Arc<Product>> = hits
                .into_iter()
                .filter(|p| {
                    ctx.ix.position(&p.id).is_some_and(|i| stems.iter().all(|f| f.iter().any(|s| ctx.ix.product_has(i, s))))
                })
                .collect();
            match hits.as_slice() {
                [] => Target::Nothing,
                [one] => Target::One(one.clone(), HashSet::new(), How::Loosely),
                many => Target::Several(many.to_vec()),
            }
        }
    }
}

/// Which lines of the cart a clause means.
#[derive(Debug)]
pub enum Lines {
    Some(Vec<CartLine>),
    /// Several lines could be meant: ask which.
    Ask(Vec<CartLine>),
    /// A product named that the cart does not have.
    NotInCart(String),
    /// Nothing the clause says picks a line.
    Unclear,
}

/// Plural or "all"/"both": every line of the product named.
fn plural(words: &[Word]) -> bool {
    words.iter().any(|w| {
        matches!(w.raw.as_str(), "all" | "both" | "them" | "those" | "these")
            || (w.raw.len() > 3 && w.raw.ends_with('s') && !w.raw.ends_with("ss") && w.norm != w.raw && !super::lexicon::is_stopword(&w.raw))
    })
}

/// The cart lines a clause means; `used` receives the positions of words spent on
/// naming them (so a number among them is not read as a quantity).
pub fn cart_lines(ctx: &Ctx<'_>, plan: &Plan, clause: &Clause, used: &mut HashSet<usize>) -> Lines {
    let cart = &ctx.req.cart;
    let words = &clause.words;
    let lines = &cart.lines;
    if let Some(Reference::Position(n)) = clause.reference
        && plan.memory.listed == Listed::Cart
        && let Some(l) = nth(lines, n)
    {
        return Lines::Some(vec![l]);
    }
    let positions: Vec<usize> = lines.iter().filter_map(|l| ctx.ix.position(&l.product_id)).collect();
    let names = content(words);
    let narrow = |ls: Vec<CartLine>, p: &Product, skip: &HashSet<usize>, used: &mut HashSet<usize>| -> Vec<CartLine> {
        let opts = resolve::option_mentions(p, words, skip);
        used.extend(opts.values().flat_map(|(_, s)| s.iter().copied()));
        let fit: Vec<CartLine> = ls
            .iter()
            .filter(|l| opts.iter().all(|(k, (v, _))| l.options.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v))))
            .cloned()
            .collect();
        if fit.is_empty() { ls } else { fit }
    };
    let decide = |ls: Vec<CartLine>| -> Lines {
        match ls.len() {
            0 => Lines::Unclear,
            1 => Lines::Some(ls),
            _ if plural(words) => Lines::Some(ls),
            _ => Lines::Ask(ls),
        }
    };
    if !names.is_empty() {
        match ctx.pick(words, Some(&positions)) {
            Pick::One(m) => {
                used.extend(m.used.iter().copied());
                let ls: Vec<CartLine> = lines.iter().filter(|l| l.product_id == m.product.id).cloned().collect();
                let ls = narrow(ls, &m.product, &m.used, used);
                return decide(ls);
            }
            Pick::Several(ps) => {
                let ls: Vec<CartLine> = lines.iter().filter(|l| ps.iter().any(|p| p.id == l.product_id)).cloned().collect();
                return decide(ls);
            }
            Pick::Nothing => {}
        }
        // "the black one": lines whose options the words name.
        let by_option: Vec<CartLine> = lines
            .iter()
            .filter(|l| {
                ctx.product(&l.product_id).is_some_and(|p| {
                    let opts = resolve::option_mentions(&p, words, &HashSet::new());
                    !opts.is_empty() && opts.iter().all(|(k, (v, _))| l.options.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v)))
                })
            })
            .cloned()
            .collect();
        if !by_option.is_empty() {
            for l in &by_option {
                if let Some(p) = ctx.product(&l.product_id) {
                    let opts = resolve::option_mentions(&p, words, &HashSet::new());
                    used.extend(opts.values().flat_map(|(_, s)| s.iter().copied()));
                }
            }
            return decide(by_option);
        }
        // Words that name nothing in the cart never pick a line by themselves: a change
        // to the cart must be clearly meant ("drop table carts" removes nothing).
        return match ctx.pick(words, None) {
            Pick::One(m) if resolve::is_specific(&ctx.matches(words, None)) || m.rare => {
                Lines::NotInCart(m.product.title.clone())
            }
            _ if lines.len() == 1 && clause.reference.is_some() => Lines::Some(lines.clone()),
            _ => Lines::Unclear,
        };
    }
    // "it", "that": the line last touched, else the product talked about.
    if let Some(v) = &plan.memory.focus_line
        && clause.reference != Some(Reference::Those)
        && let Some(l) = cart.line(v)
    {
        return Lines::Some(vec![l.clone()]);
    }
    if let Some(p) = focus(ctx, plan) {
        let ls: Vec<CartLine> = lines.iter().filter(|l| l.product_id == p.id).cloned().collect();
        if !ls.is_empty() {
            return decide(ls);
        }
    }
    if clause.reference == Some(Reference::Those) {
        let list = listed(ctx, plan);
        let ls: Vec<CartLine> = lines.iter().filter(|l| list.iter().any(|p| p.id == l.product_id)).cloned().collect();
        if !ls.is_empty() {
            return Lines::Some(ls);
        }
    }
    match lines.as_slice() {
        [one] => Lines::Some(vec![one.clone()]),
        _ => Lines::Unclear,
    }
}
