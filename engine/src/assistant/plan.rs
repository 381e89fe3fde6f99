//! The first round of a turn: from what the shopper asked (`understand`) and what it
//! names (`resolve`) to the tool calls that do it, and any text already known.
//!
//! Cart changes are never made here: they are tool calls the pipeline runs through the
//! cart actor, whose answer the next round (`report`) puts into words. Text is only
//! written here when no tool result is needed for it (a product answer, a question
//! back). Checkout is planned only for a checkout clause, and after cart changes of
//! the same message only once they have all gone through (it then waits for round 2).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::domain::{Money, Product, ProductId, VariantId};
use crate::ports::llm::ModelRequest;
use crate::ports::retriever::{Retriever, SearchFilters, SearchQuery};
use crate::turn::tools::{LineArgs, Tool};

use super::memory::{Memory, PendingAdd};
use super::resolve::{self, Index, Pick};
use super::templates as t;
use super::text::Word;
use super::understand::{Clause, Intent, Reference, STOPWORDS, Understanding};

/// How many products a search shows.
pub const SEARCH_LIMIT: usize = 5;

/// What the assistant knows while it answers one round.
pub struct Ctx<'a> {
    pub req: &'a ModelRequest,
    pub index: Index<'a>,
    /// As the turn started with it.
    pub memory: Memory,
    pub retriever: &'a dyn Retriever,
}

/// One round's answer: text, then tool calls, then the memory to keep if this is the
/// turn's last round.
#[derive(Debug, Default)]
pub struct Reply {
    pub sentences: Vec<String>,
    pub calls: Vec<Tool>,
    pub memory: Memory,
}

impl Reply {
    pub fn say(&mut self, s: impl Into<String>) {
        self.sentences.push(s.into());
    }
    pub fn call(&mut self, tool: Tool) {
        self.calls.push(tool);
    }
    pub fn text(&self) -> String {
        self.sentences.join(" ")
    }
}

/// What a clause points at.
enum Target {
    One(Arc<Product>, HashSet<usize>),
    Several(Vec<Arc<Product>>),
    Nothing,
}

/// Words that may name a product: not grammar, not intent words, not numbers.
pub fn content(words: &[Word]) -> Vec<&Word> {
    words.iter().filter(|w| !w.is_sep() && w.num.is_none() && !STOPWORDS.contains(&w.raw.as_str())).collect()
}

impl Ctx<'_> {
    fn product(&self, id: &ProductId) -> Option<Arc<Product>> {
        self.req.catalog.product(id).cloned()
    }

    /// Retrieval, kept to this tenant's catalog; the title index stands in when the
    /// retriever fails.
    async fn search(&self, text: &str, filters: SearchFilters) -> Vec<Arc<Product>> {
        let query = SearchQuery { text: text.to_string(), filters, limit: SEARCH_LIMIT };
        match self.retriever.search(&self.req.tenant, &query).await {
            Ok(hits) => {
                let found: Vec<Arc<Product>> = hits.iter().filter_map(|h| self.product(&h.product.id)).collect();
                prefer_named_kind(text, found)
            }
            Err(e) => {
                tracing::warn!(error = %e, "offline assistant: retrieval failed, matching titles only");
                let words = super::text::read(text).words;
                self.index.matches(&words, None).into_iter().take(SEARCH_LIMIT).map(|m| m.product).collect()
            }
        }
    }

    /// "it", "those": the product talked about last, or the products shown last.
    fn reference(&self, r: Reference) -> Target {
        let shown: Vec<Arc<Product>> =
            self.req.dialogue.last_products.iter().filter_map(|id| self.product(id)).collect();
        let focus = self.memory.focus.as_ref().and_then(|id| self.product(id));
        match (r, focus, shown.as_slice()) {
            (Reference::One, Some(p), _) => Target::One(p, HashSet::new()),
            (_, _, [one]) => Target::One(one.clone(), HashSet::new()),
            (Reference::Those, Some(p), []) => Target::One(p, HashSet::new()),
            (_, _, []) => Target::Nothing,
            (_, _, many) => Target::Several(many.to_vec()),
        }
    }

    /// The product a clause names: by reference, by title, else by retrieval.
    async fn target(&self, clause: &Clause, only: Option<&HashSet<ProductId>>) -> Target {
        let words = &clause.words;
        let content = content(words);
        let by_ref = clause.reference.or(content.is_empty().then_some(Reference::One));
        let referred = by_ref.map(|r| self.reference(r));
        if let Some(Target::One(p, _)) = &referred {
            // "add it in black": the remaining words are that product's options.
            let opts = resolve::option_mentions(p, words, &HashSet::new());
            let explained: HashSet<usize> = opts.values().flat_map(|(_, s)| s.iter().copied()).collect();
            let all_explained = words
                .iter()
                .enumerate()
                .all(|(k, w)| explained.contains(&k) || w.num.is_some() || STOPWORDS.contains(&w.raw.as_str()));
            if all_explained && only.is_none_or(|o| o.contains(&p.id)) {
                return Target::One(p.clone(), HashSet::new());
            }
        }
        if content.is_empty() {
            return match referred {
                Some(Target::Several(v)) => Target::Several(v),
                _ => Target::Nothing,
            };
        }
        match self.index.pick(words, only) {
            Pick::One(m) => Target::One(m.product, m.used),
            Pick::Several(v) => match referred {
                // "that hoodie": the hoodie talked about, among the hoodies.
                Some(Target::One(p, _)) if v.iter().any(|x| x.id == p.id) => Target::One(p, HashSet::new()),
                _ => Target::Several(v),
            },
            Pick::Nothing if only.is_some() => Target::Nothing,
            Pick::Nothing => {
                let q: Vec<&str> = content.iter().map(|w| w.raw.as_str()).collect();
                let hits = self.search(&q.join(" "), SearchFilters::default()).await;
                match hits.as_slice() {
                    [] => Target::Nothing,
                    [one] => Target::One(one.clone(), HashSet::new()),
                    many => Target::Several(many.to_vec()),
                }
            }
        }
    }
}

/// Among retrieved products, those whose titles share the most words with the query:
/// "water bottles" answers with the water bottle, not the bags whose descriptions
/// mention a bottle pocket. With no title sharing a word, retrieval's order stands.
fn prefer_named_kind(text: &str, found: Vec<Arc<Product>>) -> Vec<Arc<Product>> {
    let want: Vec<String> = super::text::stems(text);
    let overlap = |p: &Product| resolve::title_words(&p.title).iter().filter(|w| want.contains(w)).count();
    let best = found.iter().map(|p| overlap(p)).max().unwrap_or(0);
    found.into_iter().filter(|p| best == 0 || overlap(p) == best).take(SEARCH_LIMIT).collect()
}

/// How many cart changes the message asks for (a completed option question counts):
/// checkout in the same message waits until that many have gone through.
pub fn mutations_wanted(ctx: &Ctx<'_>, u: &Understanding) -> usize {
    let completes = match (u.clauses.first(), &ctx.memory.pending) {
        (Some(first), Some(p)) => pending_answer(ctx, p, first).is_some(),
        _ => false,
    };
    let skip = usize::from(completes);
    skip + u.clauses[skip..].iter().filter(|c| c.intent.mutates_cart() && c.intent != Intent::ClearCart).count()
}

/// Plans the first round of a turn.
pub async fn first_round(ctx: &Ctx<'_>, u: &Understanding) -> Reply {
    let mut reply = Reply { memory: Memory { pending: None, focus: ctx.memory.focus.clone() }, ..Reply::default() };
    let settings = &ctx.req.settings;
    if u.greeted {
        reply.say(t::hello());
    }
    let mut clauses: &[Clause] = &u.clauses;
    let mutations_wanted = mutations_wanted(ctx, u);
    if let Some(first) = clauses.first()
        && let Some(pending) = &ctx.memory.pending
        && let Some((product, chosen, quantity)) = pending_answer(ctx, pending, first)
    {
        plan_variant(ctx, &product, chosen, quantity, &mut reply);
        clauses = &clauses[1..];
    }
    let mut found_nothing = false;
    for clause in clauses {
        match clause.intent {
            Intent::Greet => reply.say(t::greeting(settings)),
            Intent::Thanks => reply.say(t::thanks()),
            Intent::Help => reply.say(t::help(settings)),
            Intent::Unknown => reply.say(t::fallback(settings)),
            Intent::HoldCheckout => reply.say(t::hold_checkout()),
            Intent::CheckoutQuestion => reply.say(t::checkout_help()),
            Intent::ViewCart => reply.call(Tool::ViewCart {}),
            Intent::Browse => found_nothing |= !browse(ctx, clause, &mut reply).await,
            Intent::Add => {
                for part in split_products(ctx, clause) {
                    add(ctx, u, &part, &mut reply).await;
                }
            }
            Intent::SetQuantity => change_line(ctx, clause, &mut reply).await,
            Intent::Remove => {
                for part in split_products(ctx, clause) {
                    change_line(ctx, &part, &mut reply).await;
                }
            }
            Intent::ClearCart => {
                if ctx.req.cart.is_empty() {
                    reply.say(t::cart_already_empty());
                }
                for line in &ctx.req.cart.lines {
                    reply.call(Tool::RemoveFromCart {
                        product_id: line.product_id.clone(),
                        variant_id: Some(line.variant_id.clone()),
                    });
                }
            }
            Intent::Checkout => {
                let planned = reply.calls.iter().filter(|c| is_mutation(c)).count();
                if mutations_wanted == 0 {
                    reply.call(Tool::Checkout {});
                } else if planned < mutations_wanted {
                    reply.say(t::checkout_not_done());
                }
                // else: round 2 checks out once the cart changes went through.
            }
        }
    }
    // A browse clause that found nothing only matters if nothing else was answered.
    if found_nothing && reply.calls.is_empty() && reply.sentences.iter().all(|s| *s == t::hello()) {
        reply.say(t::nothing_found());
    }
    reply
}

pub fn is_mutation(tool: &Tool) -> bool {
    matches!(tool, Tool::AddToCart(_) | Tool::SetQuantity(_) | Tool::RemoveFromCart { .. })
}

/// "M in black" answering "Which size and color?": the product, the options chosen
/// so far with the new ones, and the quantity; `None` when the clause is not an answer.
fn pending_answer(
    ctx: &Ctx<'_>,
    pending: &PendingAdd,
    clause: &Clause,
) -> Option<(Arc<Product>, BTreeMap<String, String>, i64)> {
    if !matches!(clause.intent, Intent::Browse | Intent::Add | Intent::Unknown) {
        return None;
    }
    let product = ctx.product(&pending.product_id)?;
    let new = resolve::option_mentions(&product, &clause.words, &HashSet::new());
    if new.is_empty() {
        return None;
    }
    // "the Chaz hoodie in M" names another product: not an answer to this question.
    let ms = ctx.index.matches(&clause.words, None);
    if resolve::is_specific(&ms) && ms[0].product.id != product.id {
        return None;
    }
    let used: HashSet<usize> = new.values().flat_map(|(_, s)| s.iter().copied()).collect();
    let mut chosen = pending.chosen.clone();
    chosen.extend(new.into_iter().map(|(k, (v, _))| (k, v)));
    let quantity = resolve::quantity(&clause.words, &used).unwrap_or(pending.quantity);
    Some((product, chosen, quantity))
}

/// Adds a product once its options leave one variant; otherwise asks for them.
fn plan_variant(
    ctx: &Ctx<'_>,
    product: &Arc<Product>,
    chosen: BTreeMap<String, String>,
    quantity: i64,
    reply: &mut Reply,
) {
    reply.memory.focus = Some(product.id.clone());
    let fits = resolve::variants_with(product, &chosen);
    match fits.as_slice() {
        [] => {
            let wanted = chosen_label(product, &chosen);
            reply.say(t::no_such_variant(&product.title, &wanted, &product.option_values()));
            reply.memory.pending =
                Some(PendingAdd { product_id: product.id.clone(), quantity, chosen: BTreeMap::new() });
        }
        [one] => {
            let variant_id = (product.variants.len() > 1).then(|| one.id.clone());
            reply.call(Tool::AddToCart(LineArgs { product_id: product.id.clone(), variant_id, quantity }));
        }
        _ if ctx.memory.pending.as_ref().is_none_or(|p| p.product_id != product.id) => {
            // The cart's own answer (variant_required) asks the question in round 2.
            reply.call(Tool::ShowProducts { product_ids: vec![product.id.clone()] });
            reply.call(Tool::AddToCart(LineArgs { product_id: product.id.clone(), variant_id: None, quantity }));
        }
        _ => {
            // Still answering the same question: ask what is left, no need to try.
            reply.say(t::ask_options(&product.title, &resolve::open_options(product, &chosen)));
            reply.memory.pending = Some(PendingAdd { product_id: product.id.clone(), quantity, chosen });
        }
    }
}

async fn add(ctx: &Ctx<'_>, u: &Understanding, clause: &Clause, reply: &mut Reply) {
    match ctx.target(clause, None).await {
        Target::Nothing => reply.say(t::product_not_found()),
        Target::Several(ps) => ask_which(&ps, reply),
        Target::One(product, used) => {
            let opts = resolve::option_mentions(&product, &clause.words, &used);
            let mut skip = used;
            skip.extend(opts.values().flat_map(|(_, s)| s.iter().copied()));
            let quantity = resolve::quantity(&clause.words, &skip).unwrap_or(1);
            if !u.text.prices.is_empty() {
                // A price in the message changes nothing; say which price applies.
                reply.say(t::price_note(&product.title, product.price()));
            }
            let chosen = opts.into_iter().map(|(k, (v, _))| (k, v)).collect();
            plan_variant(ctx, &product, chosen, quantity, reply);
        }
    }
}

/// "add the hoodie in M black and the backpack": one change per product, when every
/// part after an "and" names a product of its own (else "black and blue" would split).
fn split_products(ctx: &Ctx<'_>, clause: &Clause) -> Vec<Clause> {
    let parts: Vec<&[Word]> = clause.words.split(|w| w.raw == "and").filter(|p| !p.is_empty()).collect();
    let names_one = |p: &[Word]| !content(p).is_empty() && matches!(ctx.index.pick(p, None), Pick::One(_));
    if parts.len() < 2 || !parts.iter().all(|p| names_one(p)) {
        return vec![clause.clone()];
    }
    parts.into_iter().map(|p| Clause { words: p.to_vec(), reference: None, ..clause.clone() }).collect()
}

fn ask_which(ps: &[Arc<Product>], reply: &mut Reply) {
    let titles: Vec<String> = ps.iter().map(|p| p.title.clone()).collect();
    reply.say(t::which_product(&titles));
    reply.call(Tool::ShowProducts { product_ids: ps.iter().map(|p| p.id.clone()).collect() });
    reply.memory.focus = None;
}

/// Answers a product question; false when nothing fitted (the caller says so).
async fn browse(ctx: &Ctx<'_>, clause: &Clause, reply: &mut Reply) -> bool {
    let content = content(&clause.words);
    let products: Vec<Arc<Product>> = if content.is_empty() {
        match clause.reference.map(|r| ctx.reference(r)) {
            Some(Target::One(p, _)) => vec![p],
            Some(Target::Several(ps)) => ps,
            _ => ctx.search("", SearchFilters::default()).await,
        }
    } else {
        let ms = ctx.index.matches(&clause.words, None);
        let one = match ctx.index.pick(&clause.words, None) {
            Pick::One(m) if resolve::is_specific(&ms) || clause.wants_detail => Some(m.product),
            _ => None,
        };
        match one {
            Some(p) => vec![p],
            None => {
                let q: Vec<&str> = content.iter().map(|w| w.raw.as_str()).collect();
                let found = ctx.search(&q.join(" "), SearchFilters::default()).await;
                if found.is_empty() { ms.into_iter().take(SEARCH_LIMIT).map(|m| m.product).collect() } else { found }
            }
        }
    };
    match products.as_slice() {
        [] => return false,
        [one] => {
            reply.say(t::product_detail(one));
            // "do you have the hero hoodie in green?": answer for those options too.
            let asked = resolve::option_mentions(one, &clause.words, &HashSet::new());
            if !asked.is_empty() {
                let chosen: BTreeMap<String, String> = asked.into_iter().map(|(k, (v, _))| (k, v)).collect();
                let wanted = chosen_label(one, &chosen);
                let fits = resolve::variants_with(one, &chosen);
                reply.say(if !fits.iter().any(|v| v.in_stock()) {
                    t::not_available_in(&one.title, &wanted)
                } else {
                    t::available_in(&wanted, &resolve::open_options(one, &chosen))
                });
            }
            reply.memory.focus = Some(one.id.clone());
        }
        many => {
            let refs: Vec<&Product> = many.iter().map(|p| p.as_ref()).collect();
            reply.say(t::product_list(&refs));
            reply.memory.focus = None;
        }
    }
    reply.call(Tool::ShowProducts { product_ids: products.iter().map(|p| p.id.clone()).collect() });
    true
}

/// Remove a line, or set its quantity: only ever a line of the cart.
async fn change_line(ctx: &Ctx<'_>, clause: &Clause, reply: &mut Reply) {
    let cart = &ctx.req.cart;
    if cart.is_empty() {
        reply.say(t::cart_already_empty());
        return;
    }
    let in_cart = resolve::cart_products(cart);
    let product = match ctx.target(clause, Some(&in_cart)).await {
        Target::One(p, used) => Some((p, used)),
        Target::Several(ps) => {
            let titles: Vec<String> = ps.iter().filter(|p| in_cart.contains(&p.id)).map(|p| p.title.clone()).collect();
            reply.say(t::which_cart_item(&titles));
            return;
        }
        Target::Nothing => None,
    };
    let product = match product {
        Some(found) => found,
        None if content(&clause.words).is_empty() && in_cart.len() == 1 => {
            match ctx.product(&cart.lines[0].product_id) {
                Some(p) => (p, HashSet::new()),
                None => return reply.say(t::product_gone()),
            }
        }
        None => {
            // Named something not in the cart, or nothing we can tell.
            match ctx.index.pick(&clause.words, None) {
                Pick::One(m) if !content(&clause.words).is_empty() => reply.say(t::not_in_cart(&m.product.title)),
                _ => {
                    let labels: Vec<String> =
                        cart.lines.iter().map(|l| line_label(ctx, &l.title, &l.variant_id)).collect();
                    reply.say(t::which_cart_item(&labels));
                }
            }
            return;
        }
    };
    let (product, used) = product;
    let lines: Vec<_> = cart.lines.iter().filter(|l| l.product_id == product.id).collect();
    let opts = resolve::option_mentions(&product, &clause.words, &used);
    let fitting: Vec<_> = lines
        .iter()
        .filter(|l| opts.iter().all(|(k, (v, _))| l.options.get(k).is_some_and(|x| x.eq_ignore_ascii_case(v))))
        .collect();
    let line = match fitting.as_slice() {
        [one] => *one,
        [] if lines.is_empty() => return reply.say(t::not_in_cart(&product.title)),
        [] => return reply.say(t::not_in_cart(&line_label_from(&product, &opts))),
        many => {
            let labels: Vec<String> = many.iter().map(|l| line_label(ctx, &l.title, &l.variant_id)).collect();
            return reply.say(t::which_cart_item(&labels));
        }
    };
    reply.memory.focus = Some(product.id.clone());
    let (product_id, variant_id) = (product.id.clone(), Some(line.variant_id.clone()));
    if clause.intent == Intent::Remove {
        reply.call(Tool::RemoveFromCart { product_id, variant_id });
    } else {
        let mut skip = used;
        skip.extend(opts.values().flat_map(|(_, s)| s.iter().copied()));
        let Some(quantity) = resolve::quantity(&clause.words, &skip) else {
            return reply.say(t::product_not_found());
        };
        reply.call(Tool::SetQuantity(LineArgs { product_id, variant_id, quantity }));
    }
}

/// "M / Black": chosen values in the product's option order.
fn chosen_label(product: &Product, chosen: &BTreeMap<String, String>) -> String {
    product.options.iter().filter_map(|o| chosen.get(o).cloned()).collect::<Vec<_>>().join(" / ")
}

fn line_label_from(product: &Product, opts: &BTreeMap<String, (String, Vec<usize>)>) -> String {
    let values: Vec<String> = product.options.iter().filter_map(|o| opts.get(o).map(|(v, _)| v.clone())).collect();
    t::item_label(&product.title, Some(&values.join(" / ")))
}

/// "Hero Hoodie (M / Black)": the variant's own title from the catalog.
pub fn line_label(ctx: &Ctx<'_>, title: &str, variant: &VariantId) -> String {
    match ctx.req.catalog.variant(variant) {
        Some((p, v)) if p.variants.len() > 1 => t::item_label(&p.title, Some(&v.title)),
        Some((p, _)) => p.title.clone(),
        None => title.to_string(),
    }
}

/// Money of the cart's currency.
pub fn cart_money(ctx: &Ctx<'_>, minor: i64) -> Money {
    Money::new(minor, ctx.req.cart.currency)
}
