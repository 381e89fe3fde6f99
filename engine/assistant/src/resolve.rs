//! From a clause's words to the tenant's products: which product it names, which
//! option values, which variant they leave, and how many.
//!
//! Titles are matched by the stems they share with the message (a word one typo away
//! from a title word counts a little less), each weighted by how rare it is among the
//! catalog's titles, so "hoodie" in a shop of hoodies says less than "hero"; a title
//! the message covers completely beats a longer one it covers in part. Only products
//! of the request's catalog can come out of here, which is what keeps the assistant
//! from naming anything else.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::domain::{Product, Variant};

use super::index::CatalogIndex;
use super::lexicon::is_stopword;
use super::text::{Word, cached_stems, one_typo_apart};

/// Weight of a title word matched through a typo.
const TYPO_WEIGHT: f32 = 0.8;
/// Weight of a word found only in a product's SKU.
const SKU_WORD_WEIGHT: f32 = 0.6;

/// Words of sizes as shoppers say them, for the values shops write.
const SIZE_WORDS: &[(&str, &[&[&str]])] = &[
    ("xxs", &[&["extra", "extra", "small"], &["2xs"]]),
    ("xs", &[&["extra", "small"], &["xsmall"], &["x", "small"]]),
    ("s", &[&["small"], &["sm"]]),
    ("m", &[&["medium"], &["med"], &["mid"]]),
    ("l", &[&["large"], &["lg"]]),
    ("xl", &[&["extra", "large"], &["xlarge"], &["x", "large"]]),
    ("xxl", &[&["extra", "extra", "large"], &["xxlarge"], &["2xl"]]),
    ("gray", &[&["grey"]]),
    ("grey", &[&["gray"]]),
];

/// A product a clause may name, with how well.
#[derive(Clone, Debug)]
pub struct Match {
    /// Position in the snapshot.
    pub pos: usize,
    pub product: Arc<Product>,
    pub score: f32,
    /// Share of the title's words the clause has.
    pub coverage: f32,
    /// Option values of this product the clause also names (a tie-breaker).
    pub option_hits: usize,
    /// Positions of the clause's words the title used.
    pub used: HashSet<usize>,
    /// A matched word is rare in the catalog's titles: it names this product, not a kind.
    pub rare: bool,
}

impl Match {
    fn key(&self) -> (f32, f32, usize) {
        (self.score, self.coverage, self.option_hits)
    }
}

/// What a clause's product words came to.
#[derive(Clone, Debug)]
pub enum Pick {
    One(Match),
    /// Several products fit equally well.
    Several(Vec<Arc<Product>>),
    Nothing,
}

/// Whether a word may name a product (by title). Numbers written as words ("two")
/// say how many, not which: "pop two in my basket" is not the "Two-Tone" jacket.
fn naming(w: &Word) -> bool {
    let number_word = w.num.is_some() && w.raw.chars().all(char::is_alphabetic);
    !w.is_sep() && !w.bound && !is_stopword(&w.raw) && !w.raw.starts_with('#') && !number_word
}

/// Products whose titles (or SKUs) the words name, best first; `only` restricts the
/// candidates to these snapshot positions.
pub fn matches(ix: &CatalogIndex, words: &[Word], only: Option<&[usize]>) -> Vec<Match> {
    // product → (score, matched stems, used positions, rare)
    type Acc<'w> = HashMap<usize, (f32, HashSet<&'w str>, HashSet<usize>, bool)>;
    let mut acc: Acc = HashMap::new();
    for (k, w) in words.iter().enumerate() {
        if !naming(w) {
            continue;
        }
        // A SKU names its product ("MH07"); plain words that happen to be one do not.
        if w.raw.len() >= 3
            && w.raw.bytes().any(|b| b.is_ascii_digit())
            && let Some(i) = ix.by_sku(&w.raw)
            && only.is_none_or(|o| o.contains(&i))
        {
            let e = acc.entry(i).or_default();
            e.0 += 10.0;
            e.2.insert(k);
            e.3 = true;
            e.1.extend(ix.title(i).iter().map(String::as_str));
            continue;
        }
        let exact = ix.in_titles(&w.norm);
        // An amount names a product only when its title has it ("the $50 Verizon card").
        if w.money.is_some() && (!exact || w.bound) {
            continue;
        }
        let typos: Vec<&str> = if exact || w.num.is_some() { Vec::new() } else { ix.typo_matches(&w.norm) };
        let forms: Vec<(&str, f32)> = if exact {
            vec![(w.norm.as_str(), 1.0)]
        } else {
            typos.iter().map(|t| (*t, TYPO_WEIGHT)).collect()
        };
        if !exact {
            // A word of the SKU only ("pink" in 24-WG082-pink, titled "(Red)").
            for &p in ix.sku_postings(&w.norm) {
                let p = p as usize;
                if only.is_some_and(|o| !o.contains(&p)) {
                    continue;
                }
                let e = acc.entry(p).or_default();
                e.0 += SKU_WORD_WEIGHT;
                e.2.insert(k);
            }
        }
        for (stem, weight) in forms {
            let rare = ix.df(stem) <= ix.rare_df;
            for &p in ix.postings(stem) {
                let p = p as usize;
                if only.is_some_and(|o| !o.contains(&p)) {
                    continue;
                }
                let e = acc.entry(p).or_default();
                if e.1.insert(stem) {
                    e.0 += ix.idf(stem) * weight;
                    e.3 |= rare && weight == 1.0;
                }
                e.2.insert(k);
            }
        }
    }
    // Options only tip the balance among the best titles: read them for those alone.
    let best = acc.values().map(|e| e.0).fold(0.0f32, f32::max);
    let mut out: Vec<Match> = acc
        .into_iter()
        .map(|(i, (score, hit, used, rare))| {
            if score < best * 0.5 {
                let title = ix.title(i);
                let coverage = hit.len().min(title.len()) as f32 / title.len().max(1) as f32;
                let product = ix.catalog.products[i].clone();
                return Match { pos: i, product, score, coverage, option_hits: 0, used, rare };
            }
            let title = ix.title(i);
            let product = ix.catalog.products[i].clone();
            let coverage = hit.len().min(title.len()) as f32 / title.len().max(1) as f32;
            let options = option_mentions(&product, words, &used);
            // Words the product's options explain count like title words: "Galaxy S7
            // 32GB in pink gold" is the phone sold in Pink Gold, as much as a title
            // that says "Pink Gold".
            let option_score: f32 = options
                .values()
                .flat_map(|(_, span)| span.iter())
                .map(|&k| ix.idf(&words[k].norm).max(1.0))
                .sum();
            Match { pos: i, product, score: score + option_score, coverage, option_hits: options.len(), used, rare }
        })
        .collect();
    out.sort_by(|a, b| {
        // Equal matches keep the catalog's order (the shop's own listing).
        b.key().partial_cmp(&a.key()).unwrap_or(std::cmp::Ordering::Equal).then(a.pos.cmp(&b.pos))
    });
    out
}

/// Options the shopper leaves to the shop ("any colour", "whatever size", "doesn't
/// matter"), each given its first value still in stock beside what was chosen.
/// `answering`: the words answer our question about the options, so a bare "any",
/// "either" or "doesn't matter" leaves every open option to us.
pub fn left_to_us(product: &Product, words: &[Word], chosen: &BTreeMap<String, String>, answering: bool) -> BTreeMap<String, String> {
    let r: Vec<&str> = words.iter().filter(|w| !w.is_sep()).map(|w| w.raw.as_str()).collect();
    let loose = |w: &str| matches!(w, "any" | "whatever" | "whichever" | "either" | "anything");
    let option_of = |w: &str| {
        let w = w.trim_end_matches('s').replace("colour", "color");
        product.options.iter().find(|n| n.to_lowercase() == w).cloned()
    };
    let mut names: Vec<String> = Vec::new();
    for (i, w) in r.iter().enumerate() {
        if loose(w)
            && let Some(name) = r.get(i + 1).and_then(|n| option_of(n))
        {
            names.push(name);
        }
    }
    let whole = |seqs: &[&[&str]]| seqs.iter().any(|s| r.windows(s.len()).any(|x| x == *s));
    let all = whole(&[&["doesnt", "matter"], &["dont", "care"], &["you", "choose"], &["you", "pick"], &["surprise", "me"], &["any", "is", "fine"], &["up", "to", "you"]])
        || (answering && r.len() <= 3 && r.iter().any(|w| loose(w)));
    if all && (answering || names.is_empty()) {
        // A size is the shopper's fit: chosen for them only when they say "any size".
        names.extend(product.options.iter().filter(|n| !n.to_lowercase().contains("size")).cloned());
    }
    let mut chosen = chosen.clone();
    let mut out = BTreeMap::new();
    for name in names {
        if chosen.contains_key(&name) {
            continue;
        }
        let value = open_options(product, &chosen)
            .into_iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, vs)| vs.into_iter().next());
        if let Some(v) = value {
            chosen.insert(name.clone(), v.clone());
            out.insert(name, v);
        }
    }
    out
}

#[cfg(test)]
pub fn pick(ix: &CatalogIndex, words: &[Word], only: Option<&[usize]>) -> Pick {
    pick_in(&matches(ix, words, only))
}

/// [`pick`] over matches already made.
pub fn pick_in(ms: &[Match]) -> Pick {
    if ms.is_empty() {
        return Pick::Nothing;
    }
    match standout(ms) {
        Some(m) => Pick::One(m.clone()),
        None => Pick::Several(contenders(ms).map(|m| m.product.clone()).collect()),
    }
}

fn contenders(ms: &[Match]) -> impl Iterator<Item = &Match> {
    let top = ms.first().map_or(0.0, |m| m.score);
    ms.iter().take_while(move |m| (top - m.score).abs() < 1e-4)
}

/// The best match if it stands out: the only one with the top score, else the only
/// top-scored title the words cover completely ("hero hoodie" over "Hero Hoodie
/// Zip"), else the only one whose options the words also name.
fn standout(ms: &[Match]) -> Option<&Match> {
    let top: Vec<&Match> = contenders(ms).collect();
    if let [one] = top.as_slice() {
        return Some(one);
    }
    let full: Vec<&&Match> = top.iter().filter(|m| m.coverage >= 0.99).collect();
    if let [one] = full.as_slice() {
        return Some(one);
    }
    // The title the words cover clearly best, when they name it with several words
    // ("Galaxy S7 32GB" over "Galaxy S7 Active 32GB" and longer ones).
    let mut by_cov: Vec<&&Match> = top.iter().collect();
    by_cov.sort_by(|a, b| b.coverage.partial_cmp(&a.coverage).unwrap_or(std::cmp::Ordering::Equal));
    if let [first, second, ..] = by_cov.as_slice()
        && first.coverage >= 0.6
        && first.coverage - second.coverage >= 0.12
        && first.used.len() >= 2
    {
        return Some(first);
    }
    let most = top.iter().map(|m| m.option_hits).max().unwrap_or(0);
    let with: Vec<&&Match> = top.iter().filter(|m| m.option_hits == most).collect();
    match with.as_slice() {
        [one] if most > 0 => Some(one),
        _ => None,
    }
}

/// Does the clause name this one product ("the Hero Hoodie", "the Josie jacket"),
/// rather than a kind of product ("hoodies")?
pub fn is_specific(ms: &[Match]) -> bool {
    standout(ms).is_some_and(|m| m.coverage >= 0.99 || m.rare || m.used.len() >= 3)
}

/// Option values of `product` named in the words (not counting `skip` positions):
/// option name → (value, positions). Where one option gets two values ("black or
/// blue"), neither counts; "light blue" wins over "blue" inside it. A word one typo
/// from a value ("blak") counts, and so does a word that is part of exactly one
/// value ("onyx" for "Black Onyx").
pub fn option_mentions(
    product: &Product,
    words: &[Word],
    skip: &HashSet<usize>,
) -> BTreeMap<String, (String, Vec<usize>)> {
    let mut out = BTreeMap::new();
    for name in &product.options {
        // Distinct values in first-seen order, borrowed (this runs for every product a
        // message may name: no copies of the catalog's strings).
        let mut values: Vec<&str> = Vec::new();
        for v in &product.variants {
            if let Some(val) = v.options.get(name)
                && !values.contains(&val.as_str())
            {
                values.push(val);
            }
        }
        let mut found: Vec<(&str, Vec<usize>)> = Vec::new();
        for value in &values {
            if let Some(span) = find_value(value, words, skip) {
                found.push((value, span));
            }
        }
        // Drop values found inside a longer value's span.
        let spans: Vec<Vec<usize>> = found.iter().map(|f| f.1.clone()).collect();
        found.retain(|(_, s)| !spans.iter().any(|o| o.len() > s.len() && s.iter().all(|k| o.contains(k))));
        if found.is_empty() {
            found = partial_value(&values, words, skip).into_iter().collect();
        }
        if let [(value, span)] = found.as_slice() {
            out.insert(name.clone(), (value.to_string(), span.clone()));
        }
    }
    out
}

fn find_value(value: &str, words: &[Word], skip: &HashSet<usize>) -> Option<Vec<usize>> {
    let want = cached_stems(value);
    if want.is_empty() {
        return None;
    }
    let mut forms: Vec<Vec<&str>> = vec![want.iter().map(String::as_str).collect()];
    // Looked up by the value as written ("Gray"), not its stem ("grai").
    if want.len() == 1
        && let Some((_, alts)) = SIZE_WORDS.iter().find(|(v, _)| v.eq_ignore_ascii_case(value.trim()))
    {
        forms.extend(alts.iter().map(|a| a.to_vec()));
    }
    for (f, form) in forms.iter().enumerate() {
        let n = form.len();
        if words.len() < n {
            continue;
        }
        for start in 0..=words.len() - n {
            let span: Vec<usize> = (start..start + n).collect();
            if span.iter().any(|k| skip.contains(k) || words[*k].money.is_some()) {
                continue;
            }
            let exact = span.iter().zip(form).all(|(&k, s)| words[k].norm == *s || words[k].raw == *s);
            // One typo in a one-word value of 4+ letters ("blak", "purpel"); the
            // shop's own spelling only (f == 0), never for sizes.
            let typo = f == 0 && n == 1 && words[start].raw.len() >= 4 && one_typo_apart(&words[start].raw, form[0]);
            if !(exact || typo) {
                continue;
            }
            // "add 28 karmen pants": a number right before the title is a quantity.
            if n == 1 && words[start].num.is_some() && is_quantity_position(words, start) {
                continue;
            }
            // A lone letter size ("s", "m", "l") only where it can be a size.
            if n == 1 && form[0].len() == 1 && !single_letter_ok(words, start) {
                continue;
            }
            return Some(span);
        }
    }
    None
}

/// "add 2 …", "28 of the …": a number just after a verb or before "of"/"x" counts.
fn is_quantity_position(words: &[Word], k: usize) -> bool {
    let before = k.checked_sub(1).map(|i| words[i].raw.as_str());
    let after = words.get(k + 1).map(|w| w.raw.as_str());
    let size_word = matches!(before, Some("size" | "sz" | "waist" | "in" | "inch" | "length"));
    !size_word
        && (matches!(before, Some("add" | "get" | "buy" | "want" | "take" | "need" | "order" | "me") | None)
            || matches!(after, Some("of" | "x" | "more" | "pcs" | "pieces" | "units")))
}

/// "m" is a size in "hoodie m black", "size m", "in m", but not in "i m" or "a m".
fn single_letter_ok(words: &[Word], k: usize) -> bool {
    let before = k.checked_sub(1).map(|i| words[i].raw.as_str());
    !matches!(before, Some("i" | "a" | "an" | "the" | "u"))
}

/// A word that is part of exactly one value ("onyx" → "Black Onyx"), when no value
/// matched whole.
fn partial_value<'v>(values: &[&'v str], words: &[Word], skip: &HashSet<usize>) -> Option<(&'v str, Vec<usize>)> {
    let mut found: Option<(&'v str, Vec<usize>)> = None;
    for (k, w) in words.iter().enumerate() {
        if skip.contains(&k) || !naming(w) || w.raw.len() < 3 || w.num.is_some() {
            continue;
        }
        let owners: Vec<&str> = values
            .iter()
            .copied()
            .filter(|v| {
                let s = cached_stems(v);
                s.len() > 1 && s.contains(&w.norm)
            })
            .collect();
        let whole = values.iter().any(|v| *cached_stems(v) == [w.norm.clone()]);
        match owners.as_slice() {
            [one] if !whole => {
                if found.as_ref().is_some_and(|(v, _)| v != one) {
                    return None;
                }
                found = Some((one, vec![k]));
            }
            _ => {}
        }
    }
    found
}

/// The variants that have every chosen option value.
pub fn variants_with<'p>(product: &'p Product, chosen: &BTreeMap<String, String>) -> Vec<&'p Variant> {
    product
        .variants
        .iter()
        .filter(|v| chosen.iter().all(|(k, val)| v.options.get(k).is_some_and(|x| x.eq_ignore_ascii_case(val))))
        .collect()
}

/// The options still open once `chosen` is fixed, each with the values some in-stock
/// variant (or, if none is in stock, any variant) still offers.
pub fn open_options(product: &Product, chosen: &BTreeMap<String, String>) -> Vec<(String, Vec<String>)> {
    let fitting = variants_with(product, chosen);
    let in_stock: Vec<&Variant> = fitting.iter().copied().filter(|v| v.in_stock()).collect();
    let pool = if in_stock.is_empty() { fitting } else { in_stock };
    product
        .options
        .iter()
        .filter(|name| !chosen.contains_key(*name))
        .map(|name| {
            let mut values: Vec<String> = Vec::new();
            for (_, all) in product.option_values().into_iter().filter(|(n, _)| n == name) {
                for val in all {
                    if pool.iter().any(|v| v.options.get(name) == Some(&val)) && !values.contains(&val) {
                        values.push(val);
                    }
                }
            }
            (name.clone(), values)
        })
        .filter(|(_, values)| values.len() > 1)
        .collect()
}

/// How many the clause asks for: its first number that is not part of the product's
/// title or an option value, and not "one" as in "that one".
pub fn quantity(words: &[Word], used: &HashSet<usize>) -> Option<i64> {
    words.iter().enumerate().find_map(|(k, w)| {
        if used.contains(&k) || w.ord.is_some() {
            return None;
        }
        let n = w.num?;
        let before = k.checked_sub(1).map(|i| words[i].raw.as_str());
        let after_determiner = matches!(
            before,
            Some(
                "this" | "that" | "the" | "which" | "another" | "other" | "each" | "any" | "first" | "second" | "last"
                    | "every" | "number" | "no"
            )
        );
        // "one" counts when it says how many ("add one", "one hoodie", "one more"),
        // not as a pronoun ("that one", "the 8 foot one", "the blue one").
        if w.raw == "one" {
            let next = words.get(k + 1);
            let counts = matches!(
                before,
                Some(
                    "add" | "get" | "buy" | "want" | "take" | "need" | "order" | "just" | "only" | "me" | "grab" | "remove"
                        | "delete" | "drop" | "minus" | "by" | "to"
                ) | None
            ) || next.is_some_and(|n| !n.is_sep() && !super::lexicon::is_stopword(&n.raw) || n.raw == "more" || n.raw == "less");
            if after_determiner || !counts {
                return None;
            }
        }
        if before == Some("number") {
            return None;
        }
        Some(n)
    })
}


#[cfg(test)]
mod tests {
    use super::super::tests::fixture_catalog;
    use super::super::text::read;
    use super::*;

    fn words(s: &str) -> Vec<Word> {
        read(s).words
    }

    #[test]
    fn picks_the_most_specific_title() {
        let ix = CatalogIndex::build(Arc::new(fixture_catalog()));
        let title = |s: &str| match pick(&ix, &words(s), None) {
            Pick::One(m) => m.product.title.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(title("add 2 hero hoodie m black"), "Hero Hoodie");
        assert_eq!(title("the FUSION backpacks!"), "Fusion Backpack");
        assert_eq!(title("fusion"), "Fusion Backpack");
        assert_eq!(title("the fusoin backpak"), "Fusion Backpack");
        assert_eq!(title("the chaz hoodie in gray"), "Chaz Kangeroo Hoodie");
        assert!(matches!(pick(&ix, &words("a hoodie"), None), Pick::Several(v) if v.len() == 2));
        assert!(matches!(pick(&ix, &words("a unicorn"), None), Pick::Nothing));
        let ms = matches(&ix, &words("tell me about the hero hoodie"), None);
        assert!(is_specific(&ms));
        assert!(!is_specific(&matches(&ix, &words("do you have hoodies"), None)));
    }

    #[test]
    fn reads_options_and_quantities() {
        let cat = fixture_catalog();
        let hoodie = cat.products.iter().find(|p| p.title == "Hero Hoodie").unwrap();
        let ws = words("add 2 hero hoodie medium in black");
        let got = option_mentions(hoodie, &ws, &HashSet::new());
        assert_eq!(got["size"].0, "M");
        assert_eq!(got["color"].0, "Black");
        assert_eq!(option_mentions(hoodie, &words("extra small"), &HashSet::new())["size"].0, "XS");
        assert_eq!(option_mentions(hoodie, &words("in blak"), &HashSet::new())["color"].0, "Black");
        let chaz = cat.products.iter().find(|p| p.title == "Chaz Kangeroo Hoodie").unwrap();
        assert_eq!(option_mentions(chaz, &words("in grey"), &HashSet::new())["color"].0, "Gray");
        assert!(!option_mentions(hoodie, &words("black or blue"), &HashSet::new()).contains_key("color"));
        assert!(!option_mentions(hoodie, &words("i m looking"), &HashSet::new()).contains_key("size"));
        assert_eq!(quantity(&ws, &HashSet::new()), Some(2));
        assert_eq!(quantity(&words("add that one"), &HashSet::new()), None);
        assert_eq!(quantity(&words("add one"), &HashSet::new()), Some(1));
        let chosen = BTreeMap::from([("color".to_string(), "Green".to_string())]);
        let open = open_options(hoodie, &chosen);
        assert_eq!(open[0].0, "size");
        assert!(!open[0].1.contains(&"XL".to_string()), "no XL in green: {open:?}");
    }
}
