//! Answers about one product: its price, colours, sizes, stock, a feature, or
//! "tell me about".

#[allow(unused_imports)]
use super::*;

/// Answers a question about one product, for the aspect asked.
pub fn describe(ctx: &Ctx<'_>, clause: &Clause, p: &Arc<Product>, plan: &mut Plan) {
    let asked = resolve::option_mentions(p, &clause.words, &HashSet::new());
    // Option values the catalog knows that this product does not have ("purple", "30").
    let own: HashSet<String> = p.option_values().into_iter().flat_map(|(_, vs)| vs).map(|v| v.to_lowercase()).collect();
    let foreign: Vec<(String, String)> = option_spans(ctx, &clause.words)
        .into_iter()
        .filter(|(_, _, v)| !own.contains(&v.to_lowercase()))
        .map(|(_, n, v)| (n, v))
        .collect();
    if !asked.is_empty() {
        let chosen: BTreeMap<String, String> = asked.into_iter().map(|(k, (v, _))| (k, v)).collect();
        plan.memory.asked = Some((p.id.clone(), chosen.clone()));
        let wanted = chosen_label(p, &chosen);
        let fits = resolve::variants_with(p, &chosen);
        plan.say(if !fits.iter().any(|v| v.in_stock()) {
            t::not_available_in(&p.title, &wanted)
        } else {
            t::available_in(&p.title, &wanted, &resolve::open_options(p, &chosen))
        });
    } else if !foreign.is_empty() && !p.options.is_empty() {
        let wanted: Vec<String> = foreign.iter().map(|(_, v)| v.clone()).collect();
        plan.say(t::not_available_in(&p.title, &wanted.join(" / ")));
        let name = foreign[0].0.to_lowercase();
        let values = p.option_values().into_iter().find(|(n, _)| n.to_lowercase() == name).map(|(_, v)| v);
        plan.say(t::product_values(p, &name, &values.unwrap_or_else(|| describe_values(p))));
    } else {
        match clause.aspect {
            Aspect::Price => {
                // "how much would 3 of them cost?": the price, and for that many.
                let used = ctx
                    .ix
                    .position(&p.id)
                    .and_then(|i| ctx.matches(&clause.words, Some(&[i])).first().map(|m| m.used.clone()))
                    .unwrap_or_default();
                match resolve::quantity(&clause.words, &used).filter(|n| (2..=99).contains(n)) {
                    Some(n) => plan.say(t::price_times(p, n, ctx.money(p.price().minor * n))),
                    None => plan.say(t::product_price(p)),
                }
            }
            Aspect::Colors | Aspect::Sizes => plan.say(option_answer(p, clause.aspect)),
            Aspect::Stock => plan.say(t::product_stock(p)),
            Aspect::Material => plan.say(t::product_materials(p)),
            Aspect::Detail | Aspect::General => plan.say(t::product_detail(p)),
        }
    }
    plan.memory.focus = Some(p.id.clone());
    plan.memory.last = Some(Action::Described);
    plan.show(vec![p.id.clone()]);
}

/// "It comes in Black, Gray and Green" for a colours (or sizes) question.
pub(super) fn option_answer(p: &Product, aspect: Aspect) -> String {
    let name = if aspect == Aspect::Sizes { "size" } else { "color" };
    let prefix = if aspect == Aspect::Sizes { "size" } else { "col" };
    match p.option_values().into_iter().find(|(n, _)| n.to_lowercase().starts_with(prefix)) {
        Some((_, v)) => t::product_values(p, name, &v),
        None => t::product_no_options(p, name),
    }
}

/// Every option value of a product, flattened ("Black, Gray, Green").
fn describe_values(p: &Product) -> Vec<String> {
    p.option_values().into_iter().filter(|(n, _)| n.to_lowercase().starts_with("col")).flat_map(|(_, v)| v).collect()
}

/// "M / Black": chosen values in the product's option order.
pub fn chosen_label(product: &Product, chosen: &BTreeMap<String, String>) -> String {
    product.options.iter().filter_map(|o| chosen.get(o).cloned()).collect::<Vec<_>>().join(" / ")
}

/// "Does it have a laptop sleeve?": the product's tags and description, read.
pub(super) fn feature(ctx: &Ctx<'_>, p: &Arc<Product>, naming: &[&Word], plan: &mut Plan) {
    let Some(i) = ctx.ix.position(&p.id) else { return };
    let wanted: Vec<&Word> = naming.iter().copied().filter(|w| !ctx.ix.title(i).contains(&w.norm)).collect();
    let has: Vec<&&Word> = wanted.iter().filter(|w| ctx.ix.product_has(i, &w.norm)).collect();
    if has.is_empty() || wanted.is_empty() {
        plan.say(t::feature_unknown(p));
    } else {
        // Evidence in the shop's own words: the tags that have them, else a sentence.
        let stems: Vec<&str> = has.iter().map(|w| w.norm.as_str()).collect();
        let tags: Vec<String> = p
            .tags
            .iter()
            .filter(|tag| crate::text::stems(tag).iter().any(|s| stems.contains(&s.as_str())))
            .cloned()
            .collect();
        if !tags.is_empty() {
            plan.say(t::feature_tags(p, &tags));
        } else {
            let sentence = p
                .description_text
                .split(['.', '•', '!', '?'])
                .find(|s| crate::text::stems(s).iter().any(|x| stems.contains(&x.as_str())))
                .map(|s| s.trim().chars().take(160).collect::<String>())
                .unwrap_or_default();
            plan.say(t::feature_described(p, &sentence));
        }
    }
    plan.memory.focus = Some(p.id.clone());
    plan.memory.last = Some(Action::Described);
    plan.show(vec![p.id.clone()]);
}
