//! The rounds after tool calls: what the cart (or the catalog) answered, in words,
//! and what follows from it: a question when a variant is needed (kept in memory so
//! the next message can answer it), and the checkout the shopper asked for in the same
//! message once every cart change before it went through.
//!
//! Everything said here comes from the tool results and the catalog: amounts from the
//! cart or the order, never from the shopper's text.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::domain::{Money, ProductId, VariantId};
use crate::events::ErrorCode;
use crate::ports::llm::ToolCall;
use crate::turn::tools::{LineArgs, Tool, ToolResult};
use crate::views::CartView;

use super::memory::PendingAdd;
use super::plan::{Ctx, Reply, cart_money, is_mutation, line_label, mutations_wanted};
use super::resolve;
use super::templates as t;
use super::understand::{Intent, Understanding};

/// One call of the previous round with what it returned.
pub struct Done {
    pub tool: Tool,
    pub result: Option<ToolResult>,
}

/// Pairs the previous round's calls with their results (by call id). Calls that do
/// not parse were refused by the pipeline and are left out.
pub fn pair(calls: &[ToolCall], results: &HashMap<String, ToolResult>) -> Vec<Done> {
    calls
        .iter()
        .filter_map(|c| {
            let tool = Tool::parse(&c.name, &c.arguments).ok()?;
            Some(Done { tool, result: results.get(&c.id).cloned() })
        })
        .collect()
}

/// Renders the previous round's results; `round` counts from 0 (the first round);
/// `earlier` are every call made in this turn before the previous round's.
pub fn later_round(ctx: &Ctx<'_>, u: &Understanding, round: usize, done: &[Done], earlier: &[Tool]) -> Reply {
    let mut reply = Reply::default();
    // Only the turn's last round keeps memory: replay what earlier rounds talked about.
    reply.memory.focus = ctx.memory.focus.clone();
    for tool in earlier {
        match tool {
            Tool::AddToCart(a) | Tool::SetQuantity(a) => reply.memory.focus = Some(a.product_id.clone()),
            Tool::RemoveFromCart { product_id, .. } => reply.memory.focus = Some(product_id.clone()),
            Tool::ShowProducts { product_ids } => {
                reply.memory.focus = product_ids.first().filter(|_| product_ids.len() == 1).cloned()
            }
            _ => {}
        }
    }
    let mut last_cart: Option<&CartView> = None;
    let mut listed_cart = false;
    let mut failed = false;
    let mut changed = false;
    for d in done {
        let ok = !matches!(d.result, Some(ToolResult::Error { .. }) | None);
        if is_mutation(&d.tool) {
            failed |= !ok;
        }
        match (&d.tool, &d.result) {
            (_, None) => reply.say(t::tool_failed("no answer from the cart")),
            (Tool::ShowProducts { product_ids }, Some(ToolResult::Products { .. })) => {
                // The answer was written in round 1; "it" now means what was shown.
                reply.memory.focus = match product_ids.as_slice() {
                    [one] => Some(one.clone()),
                    _ => None,
                };
            }
            (Tool::SearchProducts(_), Some(ToolResult::Products { items })) => {
                let ps: Vec<_> = items
                    .iter()
                    .filter_map(|i| ProductId::parse(i.id.as_str()).ok())
                    .filter_map(|id| ctx.req.catalog.product(&id).cloned())
                    .collect();
                let refs: Vec<_> = ps.iter().map(|p| p.as_ref()).collect();
                match refs.as_slice() {
                    [] => reply.say(t::nothing_found()),
                    [one] => reply.say(t::product_detail(one)),
                    many => reply.say(t::product_list(many)),
                }
                reply.memory.focus = (ps.len() == 1).then(|| ps[0].id.clone());
            }
            (Tool::AddToCart(a) | Tool::SetQuantity(a), Some(ToolResult::Cart { cart })) => {
                let label = added_label(ctx, a, cart);
                let is_add = matches!(d.tool, Tool::AddToCart(_));
                reply.say(match (is_add, a.quantity) {
                    (true, q) => t::added(q, &label),
                    (false, 0) => t::removed(&label),
                    (false, q) => t::quantity_set(q, &label),
                });
                reply.memory.focus = Some(a.product_id.clone());
                (last_cart, changed) = (Some(cart), true);
            }
            (Tool::RemoveFromCart { product_id, variant_id }, Some(ToolResult::Cart { cart })) => {
                reply.say(t::removed(&removed_label(ctx, product_id, variant_id.as_ref())));
                (last_cart, changed) = (Some(cart), true);
            }
            (Tool::ViewCart {}, Some(ToolResult::Cart { cart })) => {
                reply.say(cart_text(ctx, cart));
                (last_cart, listed_cart) = (Some(cart), true);
            }
            (Tool::Checkout {}, Some(ToolResult::Order { order_id, total_minor, currency })) => {
                let total = crate::domain::Currency::parse(currency)
                    .map(|c| Money::new(*total_minor, c))
                    .unwrap_or_else(|_| cart_money(ctx, *total_minor));
                reply.say(t::order_placed(order_id, total));
            }
            (Tool::Checkout {}, Some(ToolResult::Error { code: ErrorCode::EmptyCart, .. })) => {
                reply.say(t::nothing_to_check_out());
            }
            (Tool::Checkout {}, Some(ToolResult::Error { message, .. })) => reply.say(t::checkout_failed(message)),
            (tool, Some(ToolResult::Error { code, message, options, .. })) => {
                error_text(ctx, u, tool, *code, message, options, &mut reply);
            }
            (_, Some(_)) => {}
        }
    }
    if changed
        && !listed_cart
        && let Some(cart) = last_cart
    {
        reply.say(cart_text(ctx, cart));
    }
    let checkout_asked = u.has(Intent::Checkout)
        && !earlier.iter().chain(done.iter().map(|d| &d.tool)).any(|c| matches!(c, Tool::Checkout {}));
    if checkout_asked {
        let made = done.iter().filter(|d| is_mutation(&d.tool)).count();
        if round == 1 && !failed && changed && made >= mutations_wanted(ctx, u) {
            reply.say(t::checking_out());
            reply.call(Tool::Checkout {});
        } else if failed {
            reply.say(t::checkout_not_done());
        }
    }
    reply
}

fn error_text(
    ctx: &Ctx<'_>,
    u: &Understanding,
    tool: &Tool,
    code: ErrorCode,
    message: &str,
    options: &[(String, Vec<String>)],
    reply: &mut Reply,
) {
    let line = match tool {
        Tool::AddToCart(a) | Tool::SetQuantity(a) => Some(a),
        _ => None,
    };
    match (code, line) {
        (ErrorCode::VariantRequired, Some(a)) => {
            let Some(product) = ctx.req.catalog.product(&a.product_id) else {
                return reply.say(t::product_gone());
            };
            // Options named in the message stay chosen; ask only for the rest.
            let words: Vec<_> = u.text.words.iter().filter(|w| !w.is_sep()).cloned().collect();
            let chosen: BTreeMap<String, String> = resolve::option_mentions(product, &words, &HashSet::new())
                .into_iter()
                .map(|(k, (v, _))| (k, v))
                .collect();
            let mut open = resolve::open_options(product, &chosen);
            if open.is_empty() {
                open = options.to_vec();
            }
            reply.say(t::ask_options(&product.title, &open));
            reply.memory.focus = Some(product.id.clone());
            reply.memory.pending = Some(PendingAdd { product_id: product.id.clone(), quantity: a.quantity, chosen });
        }
        (ErrorCode::OutOfStock, Some(a)) => {
            let Some(product) = ctx.req.catalog.product(&a.product_id) else {
                return reply.say(t::product_gone());
            };
            let variant = match &a.variant_id {
                Some(id) => product.variant(id),
                None => product.variants.first(),
            };
            let (label, available) = match variant {
                Some(v) => {
                    let in_cart = ctx.req.cart.line(&v.id).map_or(0, |l| l.quantity as i64);
                    let left = if matches!(tool, Tool::AddToCart(_)) { v.stock - in_cart } else { v.stock };
                    (line_label(ctx, &product.title, &v.id), left.max(0))
                }
                None => (product.title.clone(), 0),
            };
            reply.say(t::out_of_stock(&label, available));
        }
        (ErrorCode::BadRequest, Some(a)) if a.quantity >= 1 && over_line_limit(ctx, tool, a) => {
            reply.say(t::line_limit())
        }
        (ErrorCode::NotFound, Some(a)) if matches!(tool, Tool::SetQuantity(_)) => {
            let title = ctx.req.catalog.product(&a.product_id).map_or_else(|| "item".to_string(), |p| p.title.clone());
            reply.say(t::not_in_cart(&title));
        }
        (ErrorCode::NotFound, Some(_)) => reply.say(t::product_gone()),
        (ErrorCode::NotFound, None) => {
            if let Tool::RemoveFromCart { product_id, .. } = tool {
                let title = ctx.req.catalog.product(product_id).map_or_else(|| "item".to_string(), |p| p.title.clone());
                reply.say(t::not_in_cart(&title));
            } else {
                reply.say(t::tool_failed(message));
            }
        }
        _ => reply.say(t::tool_failed(message)),
    }
}

/// Would this add or set take its line past 99 (the one `bad_request` worth its own words)?
fn over_line_limit(ctx: &Ctx<'_>, tool: &Tool, a: &LineArgs) -> bool {
    let variant = a.variant_id.clone().or_else(|| {
        let p = ctx.req.catalog.product(&a.product_id)?;
        (p.variants.len() == 1).then(|| p.variants[0].id.clone())
    });
    let in_cart = variant.and_then(|v| ctx.req.cart.line(&v).map(|l| l.quantity as i64)).unwrap_or(0);
    let wanted = if matches!(tool, Tool::AddToCart(_)) { in_cart + a.quantity } else { a.quantity };
    wanted > crate::domain::MAX_LINE_QUANTITY as i64
}

/// The label of the line an add or set touched, read from the cart it returned.
fn added_label(ctx: &Ctx<'_>, a: &LineArgs, cart: &CartView) -> String {
    let item = cart.items.iter().find(|i| match &a.variant_id {
        Some(v) => i.variant_id == v.as_str(),
        None => i.product_id == a.product_id.as_str(),
    });
    match item {
        Some(i) => item_label(ctx, &i.title, &i.variant_id),
        None => removed_label(ctx, &a.product_id, a.variant_id.as_ref()),
    }
}

fn removed_label(ctx: &Ctx<'_>, product_id: &ProductId, variant: Option<&VariantId>) -> String {
    let line =
        ctx.req.cart.lines.iter().find(|l| &l.product_id == product_id && variant.is_none_or(|v| &l.variant_id == v));
    match (line, ctx.req.catalog.product(product_id)) {
        (Some(l), _) => line_label(ctx, &l.title, &l.variant_id),
        (None, Some(p)) => match variant {
            Some(v) => line_label(ctx, &p.title, v),
            None => p.title.clone(),
        },
        (None, None) => "that item".into(),
    }
}

fn item_label(ctx: &Ctx<'_>, title: &str, variant_id: &str) -> String {
    match VariantId::parse(variant_id) {
        Ok(v) => line_label(ctx, title, &v),
        Err(_) => title.to_string(),
    }
}

/// "Your cart: 2 × Hero Hoodie (M / Black), $108.00. Subtotal: $108.00."
pub fn cart_text(ctx: &Ctx<'_>, cart: &CartView) -> String {
    let lines: Vec<String> = cart
        .items
        .iter()
        .map(|i| {
            let label = item_label(ctx, &i.title, &i.variant_id);
            t::cart_line(i.quantity, &label, Money::new(i.line_total_minor, cart.currency))
        })
        .collect();
    t::cart_summary(&lines, Money::new(cart.subtotal_minor, cart.currency))
}
