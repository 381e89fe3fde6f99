//! The rounds after tool calls: what the cart (or the catalog) answered, in words, in
//! the order the first round planned (`TurnPlan`), and what follows from it: a
//! question when a variant is needed (kept in memory so the next message can answer
//! it), a retry remembered when a quantity was refused, and the checkout the shopper
//! asked for in the same message once every cart change before it went through.
//!
//! Everything said here comes from the tool results and the catalog: amounts from the
//! cart or the order, never from the shopper's text. Without a plan (a remote model
//! made the calls and failed), every result is reported in order.

use std::collections::HashMap;

use crate::domain::{Currency, Money, ProductId, VariantId};
use crate::events::ErrorCode;
use crate::ports::llm::ToolCall;
use crate::turn::tools::{LineArgs, Tool, ToolResult};
use crate::views::CartView;

use super::memory::{Action, Listed, Pending, Retry, Step, TurnPlan};
use super::plan::{Ctx, Plan, PlanStep, is_mutation};
use super::resolve;
use super::templates as t;

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

/// What reporting a round's results found.
#[derive(Default)]
struct Tally<'a> {
    last_cart: Option<&'a CartView>,
    listed_cart: bool,
    failed: bool,
    changed: bool,
    /// Where the cart's new state is said: right after the last change reported.
    summary_at: usize,
}

/// Reports the previous round's results, as planned.
pub fn later_round(ctx: &Ctx<'_>, done: &[Done]) -> Plan {
    let mut memory = ctx.memory.clone();
    let turn = memory.turn.take();
    let mut plan = Plan::new(memory);
    let mut tally = Tally::default();
    let steps: Vec<Step> = match &turn {
        Some(tp) => tp.steps.clone(),
        None => (0..done.len()).map(|call| Step::Result { call, report: true }).collect(),
    };
    for step in steps {
        match step {
            Step::Say { text } => plan.say(text),
            Step::Result { call, report } => {
                let Some(d) = done.get(call) else { continue };
                render(ctx, d, report, &mut plan, &mut tally);
            }
        }
    }
    if tally.changed
        && !tally.listed_cart
        && let Some(cart) = tally.last_cart
    {
        let count: u32 = cart.items.iter().map(|i| i.quantity).sum();
        let summary = t::cart_short(count, Money::new(cart.subtotal_minor, cart.currency));
        plan.steps.insert(tally.summary_at.min(plan.steps.len()), PlanStep::Say(summary));
    }
    let checking_out = turn.as_ref().is_some_and(|tp| tp.checkout);
    // "You might also like …": after adds that all went through, unless a question is
    // waiting for the shopper or the order is about to be placed.
    let added: Vec<ProductId> = done
        .iter()
        .filter_map(|d| match (&d.tool, &d.result) {
            (Tool::AddToCart(a), Some(ToolResult::Cart { .. })) => Some(a.product_id.clone()),
            _ => None,
        })
        .collect();
    // Nor after a swap ("the roller for a brick"): what was just put back is no news.
    let swapped = done.iter().any(|d| matches!(d.tool, Tool::RemoveFromCart { .. }));
    if !added.is_empty() && !tally.failed && !checking_out && !swapped && plan.memory.pending.is_empty() {
        super::suggest::after_add(&mut plan, &added);
    }
    if checking_out {
        if !tally.failed && tally.changed && !done.iter().any(|d| matches!(d.tool, Tool::Checkout {})) {
            plan.say(t::checking_out());
            plan.call(Tool::Checkout {});
        } else {
            plan.say(t::checkout_not_done());
        }
    }
    plan
}

fn render<'a>(ctx: &Ctx<'_>, d: &'a Done, report: bool, plan: &mut Plan, tally: &mut Tally<'a>) {
    let ok = !matches!(d.result, Some(ToolResult::Error { .. }) | None);
    if is_mutation(&d.tool) && !ok {
        tally.failed = true;
    }
    match (&d.tool, &d.result) {
        (_, None) => plan.say(t::tool_failed("no answer from the cart")),
        (Tool::ShowProducts { .. }, Some(ToolResult::Products { .. })) => {}
        (Tool::RecommendProducts { .. }, Some(ToolResult::Products { items })) => {
            // Suggestions after an add: said, but what "the second one" means stays
            // the list the shopper was choosing from.
            let found = super::suggest::found(ctx, items);
            if report && !found.is_empty() {
                let titles: Vec<String> = found.iter().map(|p| p.title.clone()).collect();
                plan.say(t::you_might_like(&titles));
                plan.memory.suggestions = found.iter().map(|p| p.id.clone()).collect();
            }
        }
        // Suggestions are a courtesy: their failure is not the shopper's concern.
        (Tool::RecommendProducts { .. }, Some(ToolResult::Error { .. })) => {}
        (Tool::SearchProducts(_), Some(ToolResult::Products { items })) => {
            let ps: Vec<_> = items
                .iter()
                .filter_map(|i| ProductId::parse(i.id.as_str()).ok())
                .filter_map(|id| ctx.product(&id))
                .collect();
            let refs: Vec<_> = ps.iter().map(|p| p.as_ref()).collect();
            match refs.as_slice() {
                [] => plan.say(t::nothing_found()),
                [one] => plan.say(t::product_detail(one)),
                many => plan.say(t::product_list(many)),
            }
            plan.memory.list = ps.iter().map(|p| p.id.clone()).collect();
            plan.memory.focus = (ps.len() == 1).then(|| ps[0].id.clone());
        }
        (Tool::AddToCart(a) | Tool::SetQuantity(a), Some(ToolResult::Cart { cart })) => {
            let label = added_label(ctx, a, cart);
            let is_add = matches!(d.tool, Tool::AddToCart(_));
            if report {
                plan.say(match (is_add, a.quantity) {
                    (true, q) => t::added(q, &label),
                    (false, 0) => t::removed(&label),
                    (false, q) => t::quantity_set(q, &label),
                });
            }
            plan.memory.focus = Some(a.product_id.clone());
            plan.memory.focus_line = line_of(a, cart);
            plan.memory.retry = None;
            (tally.last_cart, tally.changed, tally.summary_at) = (Some(cart), true, plan.steps.len());
        }
        (Tool::RemoveFromCart { product_id, variant_id }, Some(ToolResult::Cart { cart })) => {
            if report {
                plan.say(t::removed(&removed_label(ctx, product_id, variant_id.as_ref())));
            }
            if plan.memory.focus_line.as_ref().is_some_and(|v| !cart.items.iter().any(|i| i.variant_id == v.as_str())) {
                plan.memory.focus_line = None;
            }
            (tally.last_cart, tally.changed, tally.summary_at) = (Some(cart), true, plan.steps.len());
        }
        (Tool::ViewCart {}, Some(ToolResult::Cart { cart })) => {
            if report {
                plan.say(cart_text(ctx, cart));
                tally.listed_cart = true;
                if cart.items.len() > 1 {
                    plan.memory.listed = Listed::Cart;
                }
            }
            tally.last_cart = Some(cart);
        }
        (Tool::Checkout {}, Some(ToolResult::Order { order_id, total_minor, currency })) => {
            let total = Currency::parse(currency)
                .map(|c| Money::new(*total_minor, c))
                .unwrap_or_else(|_| ctx.money(*total_minor));
            plan.say(t::order_placed(order_id, total));
            plan.memory.suggested.clear();
            plan.memory.focus_line = None;
            plan.memory.last = None;
        }
        (Tool::Checkout {}, Some(ToolResult::Error { code: ErrorCode::EmptyCart, .. })) => {
            plan.say(t::nothing_to_check_out());
        }
        (Tool::Checkout {}, Some(ToolResult::Error { message, .. })) => plan.say(t::checkout_failed(message)),
        (tool, Some(ToolResult::Error { code, message, options, .. })) => {
            error_text(ctx, tool, *code, message, options, plan);
        }
        (_, Some(_)) => {}
    }
}

/// The cart line an add or set touched.
fn line_of(a: &LineArgs, cart: &CartView) -> Option<VariantId> {
    let item = cart.items.iter().find(|i| match &a.variant_id {
        Some(v) => i.variant_id == v.as_str(),
        None => i.product_id == a.product_id.as_str(),
    })?;
    VariantId::parse(item.variant_id.as_str()).ok()
}

fn error_text(
    ctx: &Ctx<'_>,
    tool: &Tool,
    code: ErrorCode,
    message: &str,
    options: &[(String, Vec<String>)],
    plan: &mut Plan,
) {
    let line = match tool {
        Tool::AddToCart(a) | Tool::SetQuantity(a) => Some(a),
        _ => None,
    };
    match (code, line) {
        (ErrorCode::VariantRequired, Some(a)) => {
            let Some(product) = ctx.product(&a.product_id) else {
                return plan.say(t::product_gone());
            };
            let mut open = resolve::open_options(&product, &Default::default());
            if open.is_empty() {
                open = options.to_vec();
            }
            plan.say(t::ask_options(&product.title, &open));
            plan.memory.focus = Some(product.id.clone());
            plan.ask(Pending::Options {
                product_id: product.id.clone(),
                quantity: a.quantity,
                chosen: Default::default(),
                replaces: None,
            });
        }
        (ErrorCode::OutOfStock, Some(a)) => {
            let Some(product) = ctx.product(&a.product_id) else {
                return plan.say(t::product_gone());
            };
            let variant = match &a.variant_id {
                Some(id) => product.variant(id),
                None => product.variants.first(),
            };
            let (label, available) = match variant {
                Some(v) => {
                    let in_cart = ctx.req.cart.line(&v.id).map_or(0, |l| l.quantity as i64);
                    let left = if matches!(tool, Tool::AddToCart(_)) { v.stock - in_cart } else { v.stock };
                    (ctx.line_label(&product.title, &v.id), left.max(0))
                }
                None => (product.title.clone(), 0),
            };
            plan.say(t::out_of_stock(&label, available));
            remember_retry(plan, a, &product);
        }
        (ErrorCode::BadRequest, Some(a)) if a.quantity >= 1 && over_line_limit(ctx, tool, a) => {
            plan.say(t::line_limit());
            if let Some(product) = ctx.product(&a.product_id) {
                remember_retry(plan, a, &product);
            }
        }
        (ErrorCode::BadRequest, Some(_)) => plan.say(t::quantity_range()),
        (ErrorCode::NotFound, Some(a)) if matches!(tool, Tool::SetQuantity(_)) => {
            let title = ctx.product(&a.product_id).map_or_else(|| "item".to_string(), |p| p.title.clone());
            plan.say(t::not_in_cart(&title));
        }
        (ErrorCode::NotFound, Some(_)) => plan.say(t::product_gone()),
        (ErrorCode::NotFound, None) => {
            if let Tool::RemoveFromCart { product_id, .. } = tool {
                let title = ctx.product(product_id).map_or_else(|| "item".to_string(), |p| p.title.clone());
                plan.say(t::not_in_cart(&title));
            } else {
                plan.say(t::tool_failed(message));
            }
        }
        _ => plan.say(t::tool_failed(message)),
    }
}

fn remember_retry(plan: &mut Plan, a: &LineArgs, product: &crate::domain::Product) {
    let variant_id = a.variant_id.clone().or_else(|| (product.variants.len() == 1).then(|| product.variants[0].id.clone()));
    plan.memory.retry = Some(Retry { product_id: a.product_id.clone(), variant_id });
    plan.memory.focus = Some(a.product_id.clone());
    plan.memory.last = Some(Action::Added);
}

/// Would this add or set take its line past 99 (the one `bad_request` worth its own words)?
fn over_line_limit(ctx: &Ctx<'_>, tool: &Tool, a: &LineArgs) -> bool {
    let variant = a.variant_id.clone().or_else(|| {
        let p = ctx.product(&a.product_id)?;
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
    match (line, ctx.product(product_id)) {
        (Some(l), _) => ctx.line_label(&l.title, &l.variant_id),
        (None, Some(p)) => match variant {
            Some(v) => ctx.line_label(&p.title, v),
            None => p.title.clone(),
        },
        (None, None) => "that item".into(),
    }
}

fn item_label(ctx: &Ctx<'_>, title: &str, variant_id: &str) -> String {
    match VariantId::parse(variant_id) {
        Ok(v) => ctx.line_label(title, &v),
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

/// Turns a plan into what a round streams: the text known now, the calls, and the
/// steps left for the next round (none when the round makes no call).
pub fn split_round(plan: Plan) -> (Vec<String>, Vec<Tool>, TurnPlan, crate::Memory) {
    let mut now = Vec::new();
    let mut later: Vec<Step> = Vec::new();
    let mut calls = Vec::new();
    let mut deferring = false;
    for step in plan.steps {
        match step {
            PlanStep::Say(s) if !deferring => now.push(s),
            PlanStep::Say(text) => later.push(Step::Say { text }),
            PlanStep::Call { tool, report } => {
                later.push(Step::Result { call: calls.len(), report });
                calls.push(tool);
                deferring |= report;
            }
        }
    }
    (now, calls, TurnPlan { steps: later, checkout: plan.checkout_after }, plan.memory)
}
