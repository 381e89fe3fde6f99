//! The first round of a turn: from what the shopper asked (`understand`) and what it
//! names (`targets`, `resolve`) to the steps that answer it, in the order asked: text
//! that is already known, and tool calls whose results later rounds (`report`) put
//! into words. Product questions are in `browse`, cart changes in `cart_ops`.
//!
//! Cart changes are never made here: they are tool calls the pipeline runs through the
//! cart actor. Checkout is planned only for a checkout clause; after cart changes of
//! the same message it waits until they have all gone through (round 2 places it),
//! and it is never planned in a message that tries to rewrite the rules.

use std::collections::HashSet;
use std::sync::Arc;

use crate::domain::{Money, Product, ProductId, VariantId};
use crate::ports::llm::ModelRequest;
use crate::ports::retriever::Retriever;
use crate::turn::tools::{LineArgs, Tool};

use super::browse;
use super::cart_ops;
use super::index::CatalogIndex;
use super::memory::{Action, Memory, Pending};
use super::resolve;
use super::templates as t;
use super::text::{Word, read};
use super::understand::{Clause, Intent, Reference, Understanding};

/// Title matches made this round, by words and the positions they were limited to.
pub type SeenMatches = std::collections::HashMap<(String, Option<Vec<usize>>), Arc<Vec<resolve::Match>>>;

/// What the assistant knows while it answers one round.
pub struct Ctx<'a> {
    pub req: &'a ModelRequest,
    pub ix: &'a CatalogIndex,
    /// As the round started with it.
    pub memory: Memory,
    pub retriever: &'a dyn Retriever,
    /// Title matches already made this round: the rules ask the same question of the
    /// same words several times (which product? specific? among the list?).
    pub seen: std::sync::Mutex<SeenMatches>,
}

impl<'a> Ctx<'a> {
    pub fn new(req: &'a ModelRequest, ix: &'a CatalogIndex, memory: Memory, retriever: &'a dyn Retriever) -> Self {
        Ctx { req, ix, memory, retriever, seen: Default::default() }
    }

    /// The products whose titles the words name, best first (see `resolve::matches`).
    pub fn matches(&self, words: &[Word], only: Option<&[usize]>) -> Arc<Vec<resolve::Match>> {
        let key: String = words.iter().map(|w| w.raw.as_str()).collect::<Vec<_>>().join("\u{1f}");
        let key = (key, only.map(<[usize]>::to_vec));
        if let Some(hit) = self.seen.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return hit;
        }
        let found = Arc::new(resolve::matches(self.ix, words, only));
        if let Ok(mut m) = self.seen.lock() {
            m.insert(key, found.clone());
        }
        found
    }

    /// The one product the words name, if one stands out (see `resolve::pick`).
    pub fn pick(&self, words: &[Word], only: Option<&[usize]>) -> resolve::Pick {
        resolve::pick_in(&self.matches(words, only))
    }

    pub fn product(&self, id: &ProductId) -> Option<Arc<Product>> {
        self.req.catalog.product(id).cloned()
    }

    /// Money of the cart's currency.
    pub fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.req.cart.currency)
    }

    /// "Hero Hoodie (M / Black)": the variant's own title from the catalog.
    pub fn line_label(&self, title: &str, variant: &VariantId) -> String {
        match self.req.catalog.variant(variant) {
            Some((p, v)) if p.variants.len() > 1 => t::item_label(&p.title, Some(&v.title)),
            Some((p, _)) => p.title.clone(),
            None => title.to_string(),
        }
    }
}

/// One step of a round, in the order the shopper asked.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanStep {
    Say(String),
    /// A tool call; `report`: a later round puts its result into words.
    Call { tool: Tool, report: bool },
}

/// A round's answer being built: its steps and the memory it leaves.
#[derive(Debug)]
pub struct Plan {
    pub steps: Vec<PlanStep>,
    pub memory: Memory,
    /// Check out once the cart changes of this message went through.
    pub checkout_after: bool,
    /// Cart changes planned as calls, and cart changes asked for (some become a
    /// question instead: checkout then waits for the shopper).
    pub mutations: usize,
    pub wanted_changes: usize,
    /// A product question found nothing.
    pub found_nothing: bool,
}

impl Plan {
    pub fn new(memory: Memory) -> Plan {
        Plan { steps: Vec::new(), memory, checkout_after: false, mutations: 0, wanted_changes: 0, found_nothing: false }
    }

    pub fn say(&mut self, s: impl Into<String>) {
        let s = s.into();
        // The same sentence twice in one reply helps nobody.
        if !self.steps.iter().any(|x| matches!(x, PlanStep::Say(t) if *t == s)) {
            self.steps.push(PlanStep::Say(s));
        }
    }

    pub fn call(&mut self, tool: Tool) {
        if is_mutation(&tool) {
            self.mutations += 1;
        }
        self.steps.push(PlanStep::Call { tool, report: true });
    }

    /// A call with nothing to say about its result (a `products` event, a cart read
    /// already answered).
    pub fn call_quietly(&mut self, tool: Tool) {
        self.steps.push(PlanStep::Call { tool, report: false });
    }

    /// Attaches products to the reply (a `products` event), once each per round.
    pub fn show(&mut self, ids: Vec<ProductId>) {
        if ids.is_empty() {
            return;
        }
        let shown = self.steps.iter().any(|s| matches!(s, PlanStep::Call { tool: Tool::ShowProducts { product_ids }, .. } if *product_ids == ids));
        if !shown {
            self.call_quietly(Tool::ShowProducts { product_ids: ids });
        }
    }

    pub fn has_calls(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, PlanStep::Call { .. }))
    }

    pub fn said_anything(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, PlanStep::Say(x) if *x != t::hello()))
    }

    pub fn ask(&mut self, p: Pending) {
        self.memory.pending.retain(|q| q.product() != p.product() || p.product().is_none());
        self.memory.pending.push(p);
    }
}

pub fn is_mutation(tool: &Tool) -> bool {
    matches!(tool, Tool::AddToCart(_) | Tool::SetQuantity(_) | Tool::RemoveFromCart { .. })
}

/// Words that may name a product: not grammar, not intent words, not numbers, money
/// or separators.
pub fn content(words: &[Word]) -> Vec<&Word> {
    words
        .iter()
        .filter(|w| {
            !w.is_sep() && w.num.is_none() && w.money.is_none() && w.ord.is_none() && !super::lexicon::is_stopword(&w.raw)
        })
        .collect()
}

/// Plans the first round of a turn.
pub async fn first_round(ctx: &Ctx<'_>, u: &Understanding) -> Plan {
    let m = &ctx.memory;
    let mut plan = Plan::new(Memory {
        pending: Vec::new(),
        focus: m.focus.clone(),
        focus_line: m.focus_line.clone(),
        list: m.list.clone(),
        listed: m.listed,
        search: m.search.clone(),
        last: m.last,
        retry: None,
        asked: m.asked.clone(),
        suggested: m.suggested.clone(),
        suggestions: m.suggestions.clone(),
        turn: None,
    });
    if u.greeted {
        plan.say(t::hello());
    }
    let mut clauses: &[Clause] = &u.clauses;
    if u.affirmed
        && let Some(Pending::Confirm { product_id, variant_id, quantity }) =
            m.pending.iter().find(|p| matches!(p, Pending::Confirm { .. }))
    {
        // "yes, and check out": the yes answers the question first.
        plan.wanted_changes += 1;
        plan.call(Tool::AddToCart(LineArgs {
            product_id: product_id.clone(),
            variant_id: variant_id.clone(),
            quantity: *quantity,
        }));
    } else if let Some(first) = clauses.first()
        && !m.pending.is_empty()
        && answer_pending(ctx, u, first, &mut plan).await
    {
        clauses = &clauses[1..];
    }
    for (i, clause) in clauses.iter().enumerate() {
        // "Oh, that Driven Backpack looks nice, please add it": the first clause only
        // says what "it" is.
        let acts_later = clauses[i + 1..].iter().any(|c| {
            matches!(c.intent, Intent::Add | Intent::Want | Intent::More | Intent::SetQuantity | Intent::Remove)
        });
        if acts_later && clause.intent == Intent::Browse && !clause.question && clause.aspect == super::understand::Aspect::General
            && clause.superlative.is_none()
            && !clause.has_filters()
            && let super::targets::Target::One(p, _, _) = super::targets::product(ctx, &plan, clause, false).await
        {
            plan.memory.focus = Some(p.id.clone());
            continue;
        }
        dispatch(ctx, u, clause, &mut plan).await;
    }
    // A question about the product we asked options for ("what colours are there?")
    // keeps that question open.
    if plan.memory.pending.is_empty() && plan.wanted_changes == 0 {
        let shown = |id: &ProductId| {
            plan.steps.iter().any(|s| matches!(s, PlanStep::Call { tool: Tool::ShowProducts { product_ids }, .. } if product_ids == std::slice::from_ref(id)))
        };
        let kept: Vec<Pending> = m
            .pending
            .iter()
            .filter(|p| matches!(p, Pending::Options { product_id, .. } if plan.memory.focus.as_ref() == Some(product_id) && shown(product_id)))
            .cloned()
            .collect();
        plan.memory.pending.extend(kept);
    }
    if plan.found_nothing && !plan.has_calls() && !plan.said_anything() {
        plan.say(t::nothing_found());
    }
    if !plan.has_calls() && !plan.said_anything() {
        plan.say(t::fallback(&ctx.req.settings));
    }
    plan
}

async fn dispatch(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) {
    let settings = &ctx.req.settings;
    if cart_ops::option_followup(ctx, u, clause, plan) {
        return;
    }
    match clause.intent {
        Intent::Greet => plan.say(t::greeting(settings)),
        Intent::Thanks => plan.say(t::thanks()),
        Intent::Bye => plan.say(t::bye()),
        Intent::Ack | Intent::Yes => plan.say(t::ack()),
        Intent::No => plan.say(t::never_mind()),
        Intent::Help => plan.say(t::help(settings)),
        Intent::Unknown => plan.say(t::fallback(settings)),
        Intent::Meta => plan.say(t::meta_refusal()),
        Intent::Policy => plan.say(t::policy()),
        Intent::PriceChange => {
            plan.say(t::price_refusal());
            if let Some(p) = named_or_focus(ctx, plan, clause) {
                plan.say(t::product_price(&p));
                plan.show(vec![p.id.clone()]);
                plan.memory.focus = Some(p.id.clone());
            }
        }
        Intent::HoldCheckout => plan.say(t::hold_checkout()),
        Intent::CheckoutQuestion => plan.say(t::checkout_help()),
        Intent::Checkout => {
            if u.injection || u.price_claim {
                plan.say(t::price_refusal());
                plan.say(t::checkout_reminder());
            } else if plan.wanted_changes > plan.mutations {
                plan.say(t::checkout_not_done());
            } else if plan.mutations > 0 {
                plan.checkout_after = true;
            } else {
                plan.call(Tool::Checkout {});
            }
        }
        // "what goes well with it?", "anything to go with it?", "any suggestions for
        // my cart?".
        Intent::Browse | Intent::Want | Intent::ViewCart if super::suggest::asked(ctx, clause, plan).await => {}
        Intent::ViewCart => cart_ops::view_cart(ctx, clause, plan),
        Intent::Browse if implicit_add(ctx, plan, clause).await => {
            for part in split_products(ctx, clause) {
                cart_ops::add(ctx, u, &part, plan).await;
            }
        }
        Intent::Browse => browse::browse(ctx, clause, plan).await,
        Intent::Want => {
            for part in split_products(ctx, clause) {
                cart_ops::want(ctx, u, &part, plan).await;
            }
        }
        Intent::Add => {
            for part in split_products(ctx, clause) {
                cart_ops::add(ctx, u, &part, plan).await;
            }
        }
        Intent::More => cart_ops::more(ctx, u, clause, plan).await,
        Intent::Less => cart_ops::less(ctx, clause, plan),
        Intent::SetQuantity => cart_ops::set_quantity(ctx, clause, plan),
        Intent::Quantity => cart_ops::bare_quantity(ctx, u, clause, plan),
        Intent::Swap => cart_ops::swap(ctx, u, clause, plan).await,
        Intent::Remove => {
            for part in split_products(ctx, clause) {
                cart_ops::remove(ctx, &part, plan);
            }
        }
        Intent::ClearCart => cart_ops::clear(ctx, clause, plan),
    }
}

/// A clause without a verb that still asks for something: "Affirm Water Bottle x2",
/// "also the Hero Hoodie in S, green", "the ReTrak one in green".
async fn implicit_add(ctx: &Ctx<'_>, plan: &Plan, clause: &Clause) -> bool {
    let browsing = clause.words.iter().any(|w| super::lexicon::BROWSE_VERBS.contains(&w.raw.as_str()));
    if clause.question || browsing || clause.aspect != super::understand::Aspect::General {
        return false;
    }
    // "the cheapest one please, size 32 black": a pick with options is an add.
    if clause.superlative.is_some() {
        return clause.continuation
            || !browse::option_spans(ctx, &clause.words).is_empty()
            || clause.words.iter().any(|w| w.raw == "please");
    }
    if clause.continuation && matches!(plan.memory.last, Some(Action::Added | Action::Changed)) {
        return true;
    }
    let parts = split_products(ctx, clause);
    let first = &parts[0];
    match super::targets::product(ctx, plan, first, false).await {
        super::targets::Target::One(p, used, how) => {
            let options = resolve::option_mentions(&p, &first.words, &used);
            let mut skip = used.clone();
            skip.extend(options.values().flat_map(|(_, s)| s.iter().copied()));
            how != super::targets::How::Loosely && !options.is_empty() || resolve::quantity(&first.words, &skip).is_some()
        }
        super::targets::Target::Several(ps) => {
            let used: HashSet<usize> = ctx
                .matches(&first.words, None)
                .iter()
                .filter(|m| ps.iter().any(|p| p.id == m.product.id))
                .flat_map(|m| m.used.iter().copied())
                .collect();
            resolve::quantity(&first.words, &used).is_some()
        }
        super::targets::Target::Nothing => false,
    }
}

/// The product a clause names by title, or else the one talked about.
fn named_or_focus(ctx: &Ctx<'_>, plan: &Plan, clause: &Clause) -> Option<Arc<Product>> {
    match ctx.pick(&clause.words, None) {
        resolve::Pick::One(m) => Some(m.product),
        _ => plan.memory.focus.as_ref().and_then(|id| ctx.product(id)),
    }
}

/// "add the hoodie in M black and the backpack, 2 bottles": one part per product,
/// split at "and" and commas, where every part names a product of its own (else
/// "black and blue", "medium, black" stay together).
pub fn split_products(ctx: &Ctx<'_>, clause: &Clause) -> Vec<Clause> {
    let mut parts: Vec<Vec<Word>> = vec![Vec::new()];
    for (i, w) in clause.words.iter().enumerate() {
        // "plus" splits "…, plus 2 bottles" but is part of "iPhone 7 Plus".
        let plus = w.raw == "plus"
            && clause.words.get(i + 1).is_some_and(|n| n.num.is_some() || matches!(n.raw.as_str(), "a" | "an" | "the" | "some"));
        if w.is_sep() || w.raw == "and" || w.raw == "&" || plus {
            parts.push(Vec::new());
        } else if let Some(p) = parts.last_mut() {
            p.push(w.clone());
        }
    }
    parts.retain(|p| !p.is_empty());
    if parts.len() < 2 {
        return vec![clause.clone()];
    }
    let option_words = browse::option_words_in;
    let names = |p: &[Word]| {
        let c = content(p);
        if c.is_empty() {
            return false;
        }
        let opts = option_words(ctx, p);
        if c.iter().all(|w| opts.contains(&w.raw)) {
            return false;
        }
        !matches!(ctx.pick(p, None), resolve::Pick::Nothing)
    };
    // Merge parts that name nothing into the part before them ("medium, black"), or,
    // leading, into the one after ("add to cart: Driven Backpack").
    let mut merged: Vec<Vec<Word>> = Vec::new();
    let mut lead: Vec<Word> = Vec::new();
    for p in parts {
        let first = p.iter().find(|w| !w.is_sep()).map(|w| w.raw.as_str());
        let another = matches!(first, Some("one" | "another")) && !option_words(ctx, &p).is_empty();
        match merged.last_mut() {
            // "a hero hoodie in M black and one in L green": the same product again.
            Some(prev) if !names(&p) && another => {
                let opts = option_words(ctx, prev);
                let name: Vec<Word> =
                    content(prev).into_iter().filter(|w| !opts.contains(&w.raw)).cloned().collect();
                let mut part = name;
                part.extend(p);
                merged.push(part);
            }
            Some(prev) if !names(&p) => {
                prev.push(Word::new(super::text::SEP));
                prev.extend(p);
            }
            None if !names(&p) => {
                lead.extend(p);
                lead.push(Word::new(super::text::SEP));
            }
            _ => {
                let mut p = p;
                if !lead.is_empty() {
                    let mut with = std::mem::take(&mut lead);
                    with.extend(p);
                    p = with;
                }
                merged.push(p);
            }
        }
    }
    if merged.len() < 2 {
        return vec![clause.clone()];
    }
    merged
        .into_iter()
        .enumerate()
        .map(|(i, words)| Clause {
            words,
            reference: if i == 0 { clause.reference.filter(|r| matches!(r, Reference::Position(_))) } else { None },
            ..clause.clone()
        })
        .collect()
}

/// Answers the question the assistant asked last turn, if this clause answers it.
async fn answer_pending(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, plan: &mut Plan) -> bool {
    if !matches!(
        clause.intent,
        Intent::Browse
            | Intent::Want
            | Intent::Add
            | Intent::Unknown
            | Intent::Quantity
            | Intent::SetQuantity
            | Intent::Yes
            | Intent::No
            | Intent::Ack
    ) {
        return false;
    }
    for pending in &ctx.memory.pending {
        match pending {
            Pending::Confirm { product_id, variant_id, quantity } => match clause.intent {
                Intent::Yes | Intent::Ack => {
                    plan.wanted_changes += 1;
                    plan.call(Tool::AddToCart(LineArgs {
                        product_id: product_id.clone(),
                        variant_id: variant_id.clone(),
                        quantity: *quantity,
                    }));
                    plan.memory.focus = Some(product_id.clone());
                    return true;
                }
                Intent::No => {
                    plan.say(t::never_mind());
                    return true;
                }
                _ => {}
            },
            Pending::Options { product_id, quantity, chosen, replaces } => {
                let Some(product) = ctx.product(product_id) else { continue };
                if clause.intent == Intent::No {
                    plan.say(t::never_mind());
                    return true;
                }
                // "the Chaz hoodie in M" names another product: not an answer to this one.
                let ms = ctx.matches(&clause.words, None);
                if resolve::is_specific(&ms) && ms[0].product.id != product.id {
                    continue;
                }
                let mut new = resolve::option_mentions(&product, &clause.words, &HashSet::new());
                let spans: HashSet<usize> = new.values().flat_map(|(_, s)| s.iter().copied()).collect();
                let quantity = resolve::quantity(&clause.words, &spans).unwrap_or(*quantity);
                // "any colour is fine", "doesn't matter": the first in stock.
                let mut said = chosen.clone();
                said.extend(new.iter().map(|(k, (v, _))| (k.clone(), v.clone())));
                for (k, v) in resolve::left_to_us(&product, &clause.words, &said, true) {
                    new.insert(k, (v, Vec::new()));
                }
                if new.is_empty() {
                    let foreign = browse::option_words_in(ctx, &clause.words);
                    if !foreign.is_empty() && content(&clause.words).iter().all(|w| foreign.contains(&w.raw)) {
                        // "red" for a hoodie that has no red: say what it has, keep asking.
                        let wanted = browse::option_values_named(ctx, &clause.words).join(" / ");
                        plan.say(t::no_such_variant(&product.title, &wanted, &resolve::open_options(&product, chosen)));
                        plan.ask(pending.clone());
                        return true;
                    }
                    if matches!(clause.intent, Intent::Quantity | Intent::SetQuantity) {
                        plan.say(t::ask_options(&product.title, &resolve::open_options(&product, chosen)));
                        plan.ask(Pending::Options {
                            product_id: product_id.clone(),
                            quantity,
                            chosen: chosen.clone(),
                            replaces: replaces.clone(),
                        });
                        return true;
                    }
                    continue;
                }
                let mut chosen = chosen.clone();
                chosen.extend(new.into_iter().map(|(k, (v, _))| (k, v)));
                plan.wanted_changes += 1;
                cart_ops::plan_variant(ctx, plan, &product, chosen, quantity, replaces.clone(), true);
                return true;
            }
            Pending::Choice { candidates, quantity, said, add } => {
                // "which one is the most expensive?" while choosing: among them, and the
                // question stays open.
                if clause.question && clause.superlative.is_some() && content(&clause.words).is_empty() {
                    let among: Vec<Arc<Product>> = candidates.iter().filter_map(|id| ctx.product(id)).collect();
                    if among.len() > 1 {
                        let request = super::understand::understand_for(said, "", ctx.req.settings.currency).clauses.into_iter().next().unwrap_or_else(|| clause.clone());
                        browse::answer_superlative(ctx, clause, &request, &among, plan).await;
                        plan.ask(pending.clone());
                        return true;
                    }
                }
                // A question about them ("how much is the overnight one?") is a question.
                if *add && (clause.question || clause.aspect != super::understand::Aspect::General) {
                    continue;
                }
                let positions: Vec<usize> = candidates.iter().filter_map(|id| ctx.ix.position(id)).collect();
                // Naming something else ("add a duffle bag and two yoga straps") is a new
                // request, not a pick among these.
                if split_products(ctx, clause).len() > 1 {
                    continue;
                }
                let everywhere = ctx.matches(&clause.words, None);
                let among = ctx.matches(&clause.words, Some(&positions));
                if let Some(top) = everywhere.first()
                    && !positions.contains(&top.pos)
                    && among.first().is_none_or(|m| m.score + 1e-3 < top.score)
                {
                    continue;
                }
                let cheapest = |dear: bool| {
                    let ps = positions.iter().map(|&i| ctx.ix.catalog.products[i].clone());
                    if dear { ps.max_by_key(|p| p.price().minor) } else { ps.min_by_key(|p| p.price().minor) }
                };
                let chosen: Option<Arc<Product>> = match (clause.superlative, clause.reference) {
                    (Some(s), _) => cheapest(s == super::understand::Superlative::Dearest),
                    (None, Some(Reference::Position(n))) => {
                        let k = if n < 0 { positions.len() as i64 + n } else { n - 1 };
                        usize::try_from(k).ok().and_then(|k| positions.get(k)).map(|&i| ctx.ix.catalog.products[i].clone())
                    }
                    (None, _) => match ctx.pick(&clause.words, Some(&positions)) {
                        resolve::Pick::One(m) => Some(m.product),
                        resolve::Pick::Several(ps) if ps.len() < positions.len() => {
                            cart_ops::ask_which(&ps, *quantity, said, *add, plan);
                            return true;
                        }
                        _ => None,
                    },
                };
                let Some(product) = chosen else { continue };
                // Options and a quantity may come with the request or with the answer.
                let mut words = read(said).words;
                words.push(Word::new(super::text::SEP));
                words.extend(clause.words.iter().cloned());
                let mut q_words = clause.words.clone();
                q_words.retain(|w| !w.is_sep());
                let title_used: HashSet<usize> = ctx.matches(&q_words, Some(&[ctx.ix.position(&product.id).unwrap_or(0)]))
                    .first()
                    .map(|m| m.used.clone())
                    .unwrap_or_default();
                let quantity = resolve::quantity(&q_words, &title_used).unwrap_or(*quantity);
                if *add {
                    plan.wanted_changes += 1;
                    let opts = resolve::option_mentions(&product, &words, &HashSet::new());
                    let chosen = opts.into_iter().map(|(k, (v, _))| (k, v)).collect();
                    if u.price_claim {
                        cart_ops::confirm_price(ctx, plan, &product, &chosen, quantity);
                    } else {
                        cart_ops::plan_variant(ctx, plan, &product, chosen, quantity, None, false);
                    }
                } else {
                    browse::describe(ctx, clause, &product, plan);
                }
                return true;
            }
        }
    }
    false
}
