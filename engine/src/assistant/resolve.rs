//! From a clause's words to the tenant's products: which product it names, which
//! option values, which variant they leave, and how many.
//!
//! Titles are matched by the stems they share with the message, each shared stem
//! weighted by how rare it is among the catalog's titles (so "hoodie" in a shop of
//! hoodies says less than "hero"); a title the message covers completely beats a
//! longer one it covers in part. Only products of the request's catalog can come out
//! of here, which is what keeps the assistant from naming anything else.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::catalog::CatalogSnapshot;
use crate::domain::{Cart, Product, ProductId, Variant};

use super::text::{Word, stems};
use super::understand::STOPWORDS;

/// Words of sizes as shoppers say them, for the values shops write.
const SIZE_WORDS: &[(&str, &[&[&str]])] = &[
    ("xxs", &[&["extra", "extra", "small"], &["2xs"]]),
    ("xs", &[&["extra", "small"], &["xsmall"], &["x", "small"]]),
    ("s", &[&["small"]]),
    ("m", &[&["medium"], &["med"]]),
    ("l", &[&["large"]]),
    ("xl", &[&["extra", "large"], &["xlarge"], &["x", "large"]]),
    ("xxl", &[&["extra", "extra", "large"], &["xxlarge"], &["2xl"]]),
    ("gray", &[&["grey"]]),
    ("grey", &[&["gray"]]),
];

/// The catalog's titles, read once per request.
pub struct Index<'a> {
    pub catalog: &'a CatalogSnapshot,
    titles: Vec<Vec<String>>,
    idf: HashMap<String, f32>,
}

/// A product a clause may name, with how well.
#[derive(Clone, Debug)]
pub struct Match {
    pub product: Arc<Product>,
    pub score: f32,
    /// Share of the title's words the clause has.
    pub coverage: f32,
    /// Option values of this product the clause also names (a tie-breaker).
    pub option_hits: usize,
    /// Positions of the clause's words the title used.
    pub used: HashSet<usize>,
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

/// A title's distinct stems, without stop words.
pub fn title_words(title: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in stems(title) {
        if !STOPWORDS.contains(&s.as_str()) && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

impl<'a> Index<'a> {
    pub fn new(catalog: &'a CatalogSnapshot) -> Self {
        let titles: Vec<Vec<String>> = catalog.products.iter().map(|p| title_words(&p.title)).collect();
        let mut df: HashMap<&str, usize> = HashMap::new();
        for t in &titles {
            for w in t {
                *df.entry(w.as_str()).or_default() += 1;
            }
        }
        let n = titles.len().max(1) as f32;
        let idf = df.into_iter().map(|(w, d)| (w.to_string(), (1.0 + n / d as f32).ln())).collect();
        Self { catalog, titles, idf }
    }

    /// Products whose titles (or SKUs) the words name, best first.
    pub fn matches(&self, words: &[Word], only: Option<&HashSet<ProductId>>) -> Vec<Match> {
        let mut out = Vec::new();
        for (i, p) in self.catalog.products.iter().enumerate() {
            if only.is_some_and(|o| !o.contains(&p.id)) {
                continue;
            }
            let title = &self.titles[i];
            let mut used = HashSet::new();
            let mut score = 0.0;
            let mut hit: HashSet<&str> = HashSet::new();
            for (k, w) in words.iter().enumerate() {
                if STOPWORDS.contains(&w.raw.as_str()) {
                    continue;
                }
                if title.contains(&w.norm) {
                    used.insert(k);
                    if hit.insert(w.norm.as_str()) {
                        score += self.idf.get(&w.norm).copied().unwrap_or(0.0);
                    }
                } else if w.raw.len() >= 3 && w.raw.eq_ignore_ascii_case(p.sku.as_str()) {
                    used.insert(k);
                    score += 10.0;
                    hit.extend(title.iter().map(String::as_str));
                }
            }
            if used.is_empty() {
                continue;
            }
            let coverage = hit.len().min(title.len()) as f32 / title.len().max(1) as f32;
            let option_hits = option_mentions(p, words, &used).len();
            out.push(Match { product: p.clone(), score, coverage, option_hits, used });
        }
        out.sort_by(|a, b| b.key().partial_cmp(&a.key()).unwrap_or(std::cmp::Ordering::Equal));
        out
    }

    /// The one product the words name, if one stands out.
    pub fn pick(&self, words: &[Word], only: Option<&HashSet<ProductId>>) -> Pick {
        let ms = self.matches(words, only);
        if ms.is_empty() {
            return Pick::Nothing;
        }
        match standout(&ms) {
            Some(m) => Pick::One(m.clone()),
            None => Pick::Several(contenders(&ms).take(5).map(|m| m.product.clone()).collect()),
        }
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
    let most = top.iter().map(|m| m.option_hits).max().unwrap_or(0);
    let with: Vec<&&Match> = top.iter().filter(|m| m.option_hits == most).collect();
    match with.as_slice() {
        [one] if most > 0 => Some(one),
        _ => None,
    }
}

/// Is the match so clear that a question is about this product alone ("the Hero
/// Hoodie"), rather than a kind of product ("hoodies")?
pub fn is_specific(ms: &[Match]) -> bool {
    standout(ms).is_some_and(|m| m.coverage >= 0.99 || m.used.len() >= 3)
}

/// Option values of `product` named in the words (not counting `skip` positions):
/// option name → (value, positions). Where one option gets two values ("black or
/// blue"), neither counts; "light blue" wins over "blue" inside it.
pub fn option_mentions(
    product: &Product,
    words: &[Word],
    skip: &HashSet<usize>,
) -> BTreeMap<String, (String, Vec<usize>)> {
    let mut out = BTreeMap::new();
    for (name, values) in product.option_values() {
        let mut found: Vec<(String, Vec<usize>)> = Vec::new();
        for value in values {
            if let Some(span) = find_value(&value, words, skip) {
                found.push((value, span));
            }
        }
        // Drop values found inside a longer value's span.
        let spans: Vec<Vec<usize>> = found.iter().map(|f| f.1.clone()).collect();
        found.retain(|(_, s)| !spans.iter().any(|o| o.len() > s.len() && s.iter().all(|k| o.contains(k))));
        if let [(value, span)] = found.as_slice() {
            out.insert(name, (value.clone(), span.clone()));
        }
    }
    out
}

fn find_value(value: &str, words: &[Word], skip: &HashSet<usize>) -> Option<Vec<usize>> {
    let want = stems(value);
    if want.is_empty() {
        return None;
    }
    let mut forms: Vec<Vec<String>> = vec![want.clone()];
    if want.len() == 1
        && let Some((_, alts)) = SIZE_WORDS.iter().find(|(v, _)| *v == want[0])
    {
        forms.extend(alts.iter().map(|a| a.iter().map(|s| s.to_string()).collect()));
    }
    for form in forms {
        let n = form.len();
        for start in 0..words.len().saturating_sub(n - 1) {
            let span: Vec<usize> = (start..start + n).collect();
            if span.iter().any(|k| skip.contains(k)) {
                continue;
            }
            if span.iter().zip(&form).all(|(&k, f)| words[k].norm == *f || words[k].raw == *f) {
                return Some(span);
            }
        }
    }
    None
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
        if used.contains(&k) {
            return None;
        }
        let n = w.num?;
        let after_determiner = k > 0
            && ["this", "that", "the", "which", "another", "other", "each", "any", "first", "second", "last", "every"]
                .contains(&words[k - 1].raw.as_str());
        if w.raw == "one" && after_determiner {
            return None;
        }
        Some(n)
    })
}

/// Products of the cart, for rules that may only touch what is in it.
pub fn cart_products(cart: &Cart) -> HashSet<ProductId> {
    cart.lines.iter().map(|l| l.product_id.clone()).collect()
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
        let cat = fixture_catalog();
        let ix = Index::new(&cat);
        let title = |s: &str| match ix.pick(&words(s), None) {
            Pick::One(m) => m.product.title.clone(),
            other => format!("{other:?}"),
        };
        assert_eq!(title("add 2 hero hoodie m black"), "Hero Hoodie");
        assert_eq!(title("the FUSION backpacks!"), "Fusion Backpack");
        assert_eq!(title("fusion"), "Fusion Backpack");
        assert_eq!(title("the chaz hoodie in gray"), "Chaz Kangeroo Hoodie");
        assert!(matches!(ix.pick(&words("a hoodie"), None), Pick::Several(v) if v.len() == 2));
        assert!(matches!(ix.pick(&words("a unicorn"), None), Pick::Nothing));
        let ms = ix.matches(&words("tell me about the hero hoodie"), None);
        assert!(is_specific(&ms));
        assert!(!is_specific(&ix.matches(&words("do you have hoodies"), None)));
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
        assert!(!option_mentions(hoodie, &words("black or blue"), &HashSet::new()).contains_key("color"));
        assert_eq!(quantity(&ws, &HashSet::new()), Some(2));
        assert_eq!(quantity(&words("add that one"), &HashSet::new()), None);
        assert_eq!(quantity(&words("add one"), &HashSet::new()), Some(1));
        let chosen = BTreeMap::from([("color".to_string(), "Green".to_string())]);
        let open = open_options(hoodie, &chosen);
        assert_eq!(open[0].0, "size");
        assert!(!open[0].1.contains(&"XL".to_string()), "no XL in green: {open:?}");
    }
}
