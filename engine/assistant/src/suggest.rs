//! "You might also like …": recommendations, after an add and when asked ("what goes
//! well with it?", "anything to go with it?", "recommend something").
//!
//! What goes with what is the retriever's (`Retriever::recommend`: complementary
//! kinds near the seeds, in stock, never in the cart); here is only when to ask and
//! what to say. After an add, the round that reported it calls the
//! `recommend_products` tool (so the pipeline shows them and checks the tenant), and
//! the next round names them; never after a refused change, a question, or an add
//! that is about to be checked out, and once per product added (not again for "two
//! more"). Asked for, the recommendations are listed like a search's results, so "add
//! the first one" picks from them.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::{Product, ProductId};
use crate::turn::tools::Tool;

use super::plan::{Ctx, Plan, content};
use super::resolve;
use super::templates as t;
use super::text::Word;
use super::understand::Clause;

/// Recommendations named in a reply.
pub const LIMIT: usize = 3;
/// Products remembered as already recommended for (a conversation is short).
const REMEMBERED: usize = 30;

/// Verbs of "X goes (well) with Y".
const GO_WORDS: &[&str] =
    &["go", "goes", "going", "pair", "pairs", "paired", "match", "matches", "wear", "combine", "combines", "team"];
/// Words that ask for a suggestion by themselves.
const ASK_WORDS: &[&str] = &[
    "recommend",
    "recommendation",
    "recommendations",
    "recommended",
    "suggest",
    "suggestion",
    "suggestions",
    "complement",
    "complements",
];
/// Words around a request for suggestions that name nothing wanted.
const AROUND: &[&str] = &[
    "well", "nicely", "great", "good", "best", "nice", "perfectly", "else", "complete", "look", "outfit", "together",
    "might", "also", "could", "would", "go", "goes", "going", "wear", "match", "matches", "pair", "pairs", "paired",
    "combine", "combines", "team", "up", "any", "ideas", "idea",
];

/// Where a request for suggestions says what they are for.
struct Ask {
    /// Words naming what to suggest things for ("with *the Hero Hoodie*"), if any.
    seed_words: Vec<Word>,
}

/// Reads "what goes well with the hoodie?", "anything to go with it?", "recommend
/// something", "any suggestions for my cart?"; `None` for a clause that wants a kind
/// of product of its own ("a water bottle to go with it" is a search).
fn read_ask(clause: &Clause) -> Option<Ask> {
    let ws = &clause.words;
    let raw = |i: usize| ws.get(i).map_or("", |w| w.raw.as_str());
    // (cue start, where its seed marker is, where the seed words start)
    let go = (0..ws.len()).find_map(|i| {
        // "goes (really) well with", "go with", "pair nicely with".
        if !GO_WORDS.contains(&raw(i)) {
            return None;
        }
        (i + 1..(i + 4).min(ws.len())).find(|&k| raw(k) == "with").map(|with| (i, with, with + 1))
    });
    let asked = || {
        (0..ws.len()).find(|&i| ASK_WORDS.contains(&raw(i))).map(|i| {
            let marker = (i + 1..ws.len()).find(|&k| matches!(raw(k), "with" | "for"));
            marker.map_or((i, ws.len(), ws.len()), |k| (i, k, k + 1))
        })
    };
    let look = || {
        (0..ws.len())
            .find(|&i| raw(i) == "complete" && raw(i + 1) == "the" && matches!(raw(i + 2), "look" | "outfit"))
            .map(|i| (i, ws.len(), ws.len()))
    };
    let (at, marker, seed_from) = go.or_else(asked).or_else(look)?;
    // Nothing wanted of its own before the cue or between it and its seed.
    let wanted = |from: usize, to: usize| {
        content(&ws[from.min(ws.len())..to.min(ws.len())])
            .into_iter()
            .any(|w| !AROUND.contains(&w.raw.as_str()) && !ASK_WORDS.contains(&w.raw.as_str()))
    };
    if wanted(0, at) || wanted(at, marker) {
        return None;
    }
    let seed_words: Vec<Word> = ws.get(seed_from..).map(<[Word]>::to_vec).unwrap_or_default();
    Some(Ask { seed_words })
}

/// Words that point at the cart rather than a product.
fn means_cart(words: &[Word]) -> bool {
    words.iter().any(|w| matches!(w.raw.as_str(), "cart" | "basket" | "order" | "everything" | "stuff"))
        || words.windows(2).any(|p| p[0].raw == "what" && matches!(p[1].raw.as_str(), "i" | "ive"))
}

/// Answers a request for suggestions; false when the clause is not one (it is then
/// answered as the product question it is).
pub async fn asked(ctx: &Ctx<'_>, clause: &Clause, plan: &mut Plan) -> bool {
    let Some(ask) = read_ask(clause) else { return false };
    let cart: Vec<ProductId> = cart_products(ctx);
    let named: Vec<&Word> =
        content(&ask.seed_words).into_iter().filter(|w| !AROUND.contains(&w.raw.as_str())).collect();
    let seeds: Vec<Arc<Product>> = if !named.is_empty() && !means_cart(&ask.seed_words) {
        match ctx.pick(&ask.seed_words, None) {
            resolve::Pick::One(m) if resolve::is_specific(&ctx.matches(&ask.seed_words, None)) => vec![m.product],
            // "what do you recommend for running?": a search, not a suggestion.
            _ => return false,
        }
    } else if means_cart(&ask.seed_words) {
        cart.iter().filter_map(|id| ctx.product(id)).collect()
    } else {
        match super::targets::focus(ctx, plan) {
            Some(p) => vec![p],
            None => cart.iter().filter_map(|id| ctx.product(id)).collect(),
        }
    };
    if seeds.is_empty() {
        plan.say(t::suggest_what());
        return true;
    }
    let ids: Vec<ProductId> = seeds.iter().map(|p| p.id.clone()).collect();
    let found: Vec<Arc<Product>> = match ctx.retriever.recommend(&ctx.req.tenant, &ctx.req.catalog, &ids, &cart, LIMIT).await {
        Ok(hits) => hits.into_iter().filter_map(|h| ctx.product(&h.product.id)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "offline assistant: recommendations failed");
            Vec::new()
        }
    };
    let seed_label = match seeds.as_slice() {
        [one] => one.title.clone(),
        _ => String::new(),
    };
    if found.is_empty() {
        plan.say(t::no_suggestions(&seed_label));
        return true;
    }
    let titles: Vec<String> = found.iter().map(|p| p.title.clone()).collect();
    plan.say(t::goes_well_with(&seed_label, &titles));
    plan.show(found.iter().map(|p| p.id.clone()).collect());
    plan.memory.list = found.iter().map(|p| p.id.clone()).collect();
    plan.memory.listed = super::memory::Listed::Products;
    plan.memory.focus = None;
    plan.memory.last = Some(super::memory::Action::Searched);
    remember(plan, &ids);
    true
}

/// The products of the cart as the round sees it, each once.
fn cart_products(ctx: &Ctx<'_>) -> Vec<ProductId> {
    let mut seen = HashSet::new();
    ctx.req.cart.lines.iter().map(|l| l.product_id.clone()).filter(|id| seen.insert(id.clone())).collect()
}

fn remember(plan: &mut Plan, ids: &[ProductId]) {
    for id in ids {
        if !plan.memory.suggested.contains(id) {
            plan.memory.suggested.push(id.clone());
        }
    }
    let over = plan.memory.suggested.len().saturating_sub(REMEMBERED);
    plan.memory.suggested.drain(..over);
}

/// After adds went through: ask for recommendations for the products added, unless
/// they were all recommended for already.
pub fn after_add(plan: &mut Plan, added: &[ProductId]) {
    let fresh: Vec<ProductId> = added.iter().filter(|id| !plan.memory.suggested.contains(id)).cloned().collect();
    if fresh.is_empty() {
        return;
    }
    remember(plan, &fresh);
    plan.call(Tool::RecommendProducts { product_ids: fresh, limit: Some(LIMIT as u32) });
}

/// The recommended products, from this shop's catalog only.
pub fn found(ctx: &Ctx<'_>, items: &[crate::views::ProductView]) -> Vec<Arc<Product>> {
    items.iter().filter_map(|i| ProductId::parse(i.id.as_str()).ok()).filter_map(|id| ctx.product(&id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::understand::understand;

    fn ask(s: &str) -> Option<String> {
        let u = understand(s);
        read_ask(&u.clauses[0]).map(|a| a.seed_words.iter().filter(|w| !w.is_sep()).map(|w| w.raw.clone()).collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn reads_requests_for_suggestions() {
        assert_eq!(ask("what goes well with it?").as_deref(), Some("it"));
        assert_eq!(ask("anything to go with it?").as_deref(), Some("it"));
        assert_eq!(ask("what would go nicely with the Hero Hoodie").as_deref(), Some("the hero hoodie"));
        assert_eq!(ask("recommend something").as_deref(), Some(""));
        assert_eq!(ask("any suggestions for my cart?").as_deref(), Some("my cart"));
        assert_eq!(ask("what do you recommend?").as_deref(), Some(""));
        // A kind of its own is a search.
        assert_eq!(ask("would you also have some kind of water bottle to go with it?"), None);
        assert_eq!(ask("can you recommend a backpack"), None);
        assert_eq!(ask("show me hoodies"), None);
    }
}
