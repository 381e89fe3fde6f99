//! What kind of thing a clause asks for, and whether the shop sells that kind: the
//! head of the noun phrase looked up among the catalog's kinds, a need read into kinds
//! (`super::super::needs`), or a kind the shop does not sell.

#[allow(unused_imports)]
use super::*;

/// What kind of thing a clause asks for.
pub(super) enum Asked<'w> {
    /// A need rather than a kind ("something warm for a run").
    Need(crate::needs::Need),
    /// A kind the shop does not sell ("running *shoes*"): its word.
    NotSold(&'w Word),
    /// A kind it sells, a product's name, or nothing to tell.
    Kind,
}

/// Whether the shop sells things of the kind a word names: its own kinds, their
/// synonyms, a shopper's word for one, or one typo away from a title's word.
pub(super) fn sells(ctx: &Ctx<'_>, w: &Word) -> bool {
    if forms(&w.raw).iter().any(|f| ctx.ix.sells(f)) || ctx.ix.typo_matches(&w.norm).iter().any(|t| ctx.ix.sells(t)) {
        return true;
    }
    crate::lexicon::SHOPPER_SYNONYMS
        .iter()
        .filter(|(k, _)| *k == w.raw || stem(k) == w.norm)
        .flat_map(|(_, alts)| alts.iter())
        .any(|a| ctx.ix.sells(&stem(a)))
}

/// Reads what kind of thing a clause asks for (see [`Asked`]). The head of its noun
/// phrase is looked up among the kinds the shop sells, once (no scan of the catalog).
pub(super) fn kind_asked<'w>(ctx: &Ctx<'_>, clause: &Clause, naming: &[&'w Word]) -> Asked<'w> {
    let words = &clause.words;
    let head = crate::needs::head(naming, words);
    let need = crate::needs::read(words);
    if head.is_none() && need.is_none() {
        return Asked::Kind;
    }
    let ms = ctx.matches(words, None);
    let specific = resolve::is_specific(&ms);
    // A product named by most of what the clause says ("the Jenny TV", "the hero
    // hoodie for running"), not by one word of a longer story ("… long *trips*").
    let named = |except: Option<&Word>| {
        if !specific {
            return false;
        }
        let used = naming
            .iter()
            .filter(|w| except.is_none_or(|e| !std::ptr::eq(**w, e)))
            .filter(|w| ms[0].used.iter().any(|&k| std::ptr::eq(&words[k], **w)))
            // "… for select Lenovo laptops" is no laptop.
            .filter(|w| !ctx.ix.product_for(ms[0].pos, &w.norm))
            .count();
        used > 0 && used * 2 >= naming.len()
    };
    let sold = head.is_some_and(|h| sells(ctx, h));
    // "hero", "the Josie": a word of a product's own name (not one it is only "for",
    // nor "a tv" said of a phone called "Jenny TV") names that product.
    let own_name = |h: &Word| {
        let at = words.iter().position(|w| std::ptr::eq(w, h)).unwrap_or(0);
        let indefinite = at > 0 && matches!(words[at - 1].raw.as_str(), "a" | "an" | "any" | "some");
        // "bikes" asks for a kind even where a "Bike Short" exists.
        let plural = h.raw.ends_with('s') && h.raw != h.norm;
        specific
            && !indefinite
            && !plural
            && ms[0].used.iter().any(|&k| std::ptr::eq(&words[k], h))
            && !ctx.ix.product_for(ms[0].pos, &h.norm)
    };
    // The match has the very word asked for ("the Jenny *TV*"), not only its
    // modifiers ("*yoga* mats" is no yoga strap).
    let head_matched =
        |h: &Word| specific && ms[0].used.iter().any(|&k| std::ptr::eq(&words[k], h));
    match (head, need) {
        (_, _) if named(head) && head.is_none_or(|h| sold || head_matched(h)) => Asked::Kind,
        (Some(h), _) if sold || own_name(h) => Asked::Kind,
        // A situation the shop has things for: "my phone always *dies* on trips"
        // (but "running *shoes*", "a wedding *dress*" are kinds it does not sell).
        (Some(h), Some(need)) if crate::needs::is_cue(h) => Asked::Need(need),
        (Some(h), _) => Asked::NotSold(h),
        (None, Some(need)) => Asked::Need(need),
        (None, None) => Asked::Kind,
    }
}

/// Products that meet a need: for each kind it names that the shop sells, the best
/// for its activity, in turn; the activity alone when no kind is named. False when the
/// shop has nothing for it (the clause is then answered as a search).
pub(super) async fn need_search(ctx: &Ctx<'_>, clause: &Clause, need: &crate::needs::Need, filters: SearchMemo, plan: &mut Plan) -> bool {
    let context: Vec<&str> = need.context.iter().copied().filter(|c| ctx.ix.knows(&stem(c))).collect();
    let kinds: Vec<&String> = need.kinds.iter().filter(|k| ctx.ix.sells(k.as_str())).take(4).collect();
    let mut lists: Vec<Vec<Arc<Product>>> = Vec::new();
    if kinds.is_empty() {
        if context.is_empty() {
            return false;
        }
        // "gear for the gym": gym things first, then workout, fitness… things.
        for c in &context {
            let memo = SearchMemo { query: c.to_string(), ..filters.clone() };
            lists.push(retrieve(ctx, &memo, LIST_LIMIT * 8).await);
        }
    } else {
        for kind in &kinds {
            let surface = ctx.ix.surface(kind).unwrap_or(kind.as_str()).to_string();
            let memo = SearchMemo { query: format!("{} {surface}", context.join(" ")).trim().to_string(), ..filters.clone() };
            let found: Vec<Arc<Product>> = retrieve(ctx, &memo, LIST_LIMIT * 8)
                .await
                .into_iter()
                .filter(|p| ctx.ix.position(&p.id).is_some_and(|i| ctx.ix.product_kind(i, kind) && !ctx.ix.product_for(i, kind)))
                .collect();
            lists.push(found);
        }
    }
    if need.cheap {
        // "cheap": the lower half of each list's prices.
        for list in &mut lists {
            let mut prices: Vec<i64> = list.iter().map(|p| p.price().minor).collect();
            prices.sort_unstable();
            if let Some(&median) = prices.get(prices.len() / 2) {
                list.retain(|p| p.price().minor <= median);
            }
        }
    }
    // One of each kind in turn, best first.
    let mut out: Vec<Arc<Product>> = Vec::new();
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for list in &lists {
            if let Some(p) = list.get(k)
                && !out.iter().any(|x| x.id == p.id)
            {
                out.push(p.clone());
            }
        }
    }
    if out.is_empty() {
        return false;
    }
    let query = if kinds.is_empty() {
        context.join(" ")
    } else {
        kinds.iter().map(|k| ctx.ix.surface(k).unwrap_or(k.as_str())).collect::<Vec<_>>().join(" ")
    };
    plan.memory.search = Some(SearchMemo { query, ..filters });
    out.truncate(LIST_LIMIT * 4);
    answer_products(ctx, clause, out, None, plan);
    true
}

/// "Do you sell running shoes?" where no product is one: said so, with the nearest
/// kinds the shop has (the other words of the request: "running" things).
pub(super) async fn not_sold(ctx: &Ctx<'_>, clause: &Clause, naming: &[&Word], head: &Word, filters: SearchMemo, plan: &mut Plan) {
    let others: Vec<String> = naming
        .iter()
        .filter(|w| !std::ptr::eq(**w, head) && w.raw.chars().count() >= 3 && sells(ctx, w))
        .map(|w| corrected(ctx, w))
        .collect();
    let near: Vec<Arc<Product>> = if others.is_empty() {
        Vec::new()
    } else {
        let memo = SearchMemo { query: others.join(" "), ..filters };
        retrieve(ctx, &memo, LIST_LIMIT).await.into_iter().take(3).collect()
    };
    plan.memory.focus = None;
    plan.memory.last = Some(Action::Searched);
    if near.is_empty() {
        return plan.say(t::not_sold());
    }
    let refs: Vec<&Product> = near.iter().map(|p| p.as_ref()).collect();
    plan.say(t::not_sold_nearest(&refs));
    let ids: Vec<_> = near.iter().map(|p| p.id.clone()).collect();
    plan.memory.list = ids.clone();
    plan.memory.listed = Listed::Products;
    plan.show(ids);
    let _ = clause;
}
