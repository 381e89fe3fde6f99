//! What the assistant knows about one catalog snapshot, computed once and shared by
//! every turn of every conversation of the tenant until the catalog changes: the
//! stems of each title (with an inverted list and their rarity), every word of each
//! product (for "does it have a laptop sleeve?"), the option values the catalog uses
//! (to read "black" or "XL" in a search) and its top-level categories ("men's").
//!
//! Building it is linear in the catalog; a turn then only touches the products that
//! share a word with the message, which keeps the assistant's first words fast with
//! thousands of products and thousands of conversations.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::catalog::CatalogSnapshot;

use super::lexicon::is_stopword;
use super::text::{one_typo_apart, stems};

/// One catalog, indexed.
pub struct CatalogIndex {
    pub catalog: Arc<CatalogSnapshot>,
    /// Per product (snapshot order): its title's distinct stems, stop words left out.
    titles: Vec<Vec<String>>,
    /// Title stem → products having it.
    postings: HashMap<String, Vec<u32>>,
    idf: HashMap<String, f32>,
    /// Title stems by length, for typo matching.
    by_len: HashMap<usize, Vec<String>>,
    /// Per product: the stems of its title, tags, category, options and description.
    words: Vec<HashSet<String>>,
    /// Every stem of every product's words.
    vocabulary: HashSet<String>,
    /// Per product: the stems of its title, tags, category and options: what it is,
    /// rather than what its description happens to mention.
    strong: Vec<HashSet<String>>,
    /// Per product: the stems of its title and category: what kind of thing it is.
    heads: Vec<HashSet<String>>,
    /// Per product: the stems its title has only after "for": "Case for Apple iPhone
    /// 7" is a case, not an iPhone.
    for_words: Vec<HashSet<String>>,
    /// Option values as stem sequences → (option name, value as the shop writes it).
    options: Vec<(Vec<String>, String, String)>,
    /// Top-level categories (lower case) with the stems a shopper may use for them.
    top_categories: Vec<(String, Vec<String>)>,
    /// Products whose (product or variant) SKU is this, lower-cased.
    skus: HashMap<String, u32>,
    /// Words of product SKUs that their titles do not have ("24-WG082-pink" → `pink`):
    /// the shop's own words for a product, matched with less weight than its title.
    sku_words: HashMap<String, Vec<u32>>,
    positions: HashMap<crate::domain::ProductId, u32>,
    /// A title stem → the word as titles write it ("hoodi" → "hoodie"), to hand a
    /// corrected typo to retrieval.
    surface: HashMap<String, String>,
    /// A title word this rare (in products) names a product rather than a kind.
    pub rare_df: usize,
}

/// Shoppers' words for the usual top-level categories.
const CATEGORY_ALIASES: &[(&str, &[&str])] = &[
    ("men", &["men", "mens", "man", "male", "guy", "gentlemen", "him", "husband", "boyfriend", "dad", "father", "son", "brother", "he"]),
    ("women", &["women", "womens", "woman", "ladi", "ladies", "lady", "female", "her", "wife", "girlfriend", "mom", "mum", "mother", "daughter", "sister", "she"]),
    ("kids", &["kid", "kids", "child", "children", "boy", "girl"]),
];

impl CatalogIndex {
    pub fn build(catalog: Arc<CatalogSnapshot>) -> CatalogIndex {
        let n = catalog.products.len();
        let mut titles = Vec::with_capacity(n);
        let mut postings: HashMap<String, Vec<u32>> = HashMap::new();
        let mut words = Vec::with_capacity(n);
        let mut strong = Vec::with_capacity(n);
        let mut heads = Vec::with_capacity(n);
        let mut for_words = Vec::with_capacity(n);
        let mut options: BTreeMap<Vec<String>, (String, String)> = BTreeMap::new();
        let mut tops: Vec<String> = Vec::new();
        let mut skus = HashMap::new();
        let mut sku_words: HashMap<String, Vec<u32>> = HashMap::new();
        let mut surface: HashMap<String, String> = HashMap::new();
        for (i, p) in catalog.products.iter().enumerate() {
            let t = title_stems(&p.title);
            for w in super::text::read(&p.title).words {
                if !w.is_sep() {
                    surface.entry(w.norm.clone()).or_insert(w.raw);
                }
            }
            for s in &t {
                postings.entry(s.clone()).or_default().push(i as u32);
            }
            let mut head: HashSet<String> = t.iter().cloned().collect();
            head.extend(stems(&p.category));
            let mut all: HashSet<String> = head.clone();
            for text in &p.tags {
                all.extend(stems(text));
            }
            heads.push(head);
            let lower = p.title.to_lowercase();
            let for_part: HashSet<String> = match lower.split_once(" for ") {
                Some((head, rest)) => {
                    let head: HashSet<String> = title_stems(head).into_iter().collect();
                    title_stems(rest).into_iter().filter(|s| !head.contains(s)).collect()
                }
                None => HashSet::new(),
            };
            for_words.push(for_part);
            for v in &p.variants {
                for (name, value) in &v.options {
                    let key = stems(value);
                    all.extend(key.iter().cloned());
                    if !key.is_empty() {
                        options.entry(key).or_insert_with(|| (name.clone(), value.clone()));
                    }
                }
                skus.insert(v.sku.as_str().to_lowercase(), i as u32);
            }
            skus.insert(p.sku.as_str().to_lowercase(), i as u32);
            for part in p.sku.as_str().to_lowercase().split(|c: char| !c.is_alphanumeric()) {
                let s = super::text::stem(part);
                if part.chars().count() >= 3 && part.chars().all(char::is_alphabetic) && !t.contains(&s) {
                    sku_words.entry(s).or_default().push(i as u32);
                }
            }
            if let Some(top) = p.category.split(['/', '>']).next().map(|s| s.trim().to_lowercase())
                && !top.is_empty()
                && !tops.contains(&top)
            {
                tops.push(top);
            }
            titles.push(t);
            let mut every = all.clone();
            every.extend(stems(&p.description_text));
            strong.push(all);
            words.push(every);
        }
        let nf = n.max(1) as f32;
        let idf = postings.iter().map(|(w, ps)| (w.clone(), (1.0 + nf / ps.len() as f32).ln())).collect();
        let mut by_len: HashMap<usize, Vec<String>> = HashMap::new();
        for w in postings.keys() {
            by_len.entry(w.chars().count()).or_default().push(w.clone());
        }
        let top_categories = tops
            .into_iter()
            .map(|top| {
                let mut aliases = stems(&top);
                if let Some((_, more)) = CATEGORY_ALIASES.iter().find(|(k, _)| *k == top) {
                    aliases.extend(more.iter().map(|s| s.to_string()));
                }
                (top, aliases)
            })
            .collect();
        let positions = catalog.products.iter().enumerate().map(|(i, p)| (p.id.clone(), i as u32)).collect();
        let vocabulary = words.iter().flat_map(|w| w.iter().cloned()).collect();
        CatalogIndex {
            positions,
            surface,
            rare_df: 3.max(n / 100),
            catalog,
            titles,
            postings,
            idf,
            by_len,
            words,
            vocabulary,
            strong,
            heads,
            for_words,
            options: options.into_iter().map(|(k, (name, value))| (k, name, value)).collect(),
            top_categories,
            skus,
            sku_words,
        }
    }

    pub fn title(&self, i: usize) -> &[String] {
        &self.titles[i]
    }

    pub fn idf(&self, stem: &str) -> f32 {
        self.idf.get(stem).copied().unwrap_or(0.0)
    }

    /// How many products have this title stem.
    pub fn df(&self, stem: &str) -> usize {
        self.postings.get(stem).map_or(0, Vec::len)
    }

    pub fn postings(&self, stem: &str) -> &[u32] {
        self.postings.get(stem).map_or(&[], Vec::as_slice)
    }

    pub fn in_titles(&self, stem: &str) -> bool {
        self.postings.contains_key(stem)
    }

    /// Title stems one typo away from `word` (never for words the titles have).
    pub fn typo_matches(&self, word: &str) -> Vec<&str> {
        if self.postings.contains_key(word) || is_stopword(word) {
            return Vec::new();
        }
        let len = word.chars().count();
        if len < 4 {
            return Vec::new();
        }
        let mut out: Vec<&str> = Vec::new();
        for l in len - 1..=len + 1 {
            for cand in self.by_len.get(&l).map_or(&[][..], Vec::as_slice) {
                if one_typo_apart(word, cand) {
                    out.push(cand);
                }
            }
        }
        out.sort_by_key(|w| std::cmp::Reverse(self.df(w)));
        out.truncate(3);
        out
    }

    /// A word as the titles write it, for a title stem.
    pub fn surface(&self, stem: &str) -> Option<&str> {
        self.surface.get(stem).map(String::as_str)
    }

    /// Whether a word (stem) is known to the catalog: in a title, or in any
    /// product's tags, category, options or description.
    pub fn knows(&self, stem: &str) -> bool {
        self.vocabulary.contains(stem)
    }

    /// Whether a product's own words (title, tags, category, options, description)
    /// include this stem.
    pub fn product_has(&self, i: usize, stem: &str) -> bool {
        self.words[i].contains(stem)
    }

    /// Whether a product's title has this stem only as what it is for ("Case for …
    /// iPhone").
    pub fn product_for(&self, i: usize, stem: &str) -> bool {
        self.for_words[i].contains(stem)
    }

    /// Whether a product's title or category has this stem.
    pub fn product_kind(&self, i: usize, stem: &str) -> bool {
        self.heads[i].contains(stem)
    }

    /// Whether a product's title, tags, category or options have this stem.
    pub fn product_is(&self, i: usize, stem: &str) -> bool {
        self.strong[i].contains(stem)
    }

    /// Products whose SKU has this word (and whose title does not).
    pub fn sku_postings(&self, stem: &str) -> &[u32] {
        self.sku_words.get(stem).map_or(&[], Vec::as_slice)
    }

    /// The product with this SKU (its own or a variant's).
    pub fn by_sku(&self, sku: &str) -> Option<usize> {
        self.skus.get(&sku.to_lowercase()).map(|&i| i as usize)
    }

    /// Option values of the whole catalog, as (stems, option name, value).
    pub fn option_values(&self) -> &[(Vec<String>, String, String)] {
        &self.options
    }

    /// The top-level category a word names ("mens" → `men`).
    pub fn category_for(&self, word_stem: &str) -> Option<&str> {
        if self.top_categories.len() < 2 {
            return None;
        }
        self.top_categories.iter().find(|(_, aliases)| aliases.iter().any(|a| a == word_stem)).map(|(c, _)| c.as_str())
    }

    pub fn position(&self, id: &crate::domain::ProductId) -> Option<usize> {
        self.positions.get(id).map(|&i| i as usize)
    }
}

/// A title's distinct stems, without stop words.
pub fn title_stems(title: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in stems(title) {
        if !is_stopword(&s) && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fixture_catalog;

    #[test]
    fn indexes_titles_options_and_categories() {
        let ix = CatalogIndex::build(Arc::new(fixture_catalog()));
        assert_eq!(ix.df("hoodi"), 2);
        assert!(ix.idf("hero") > ix.idf("hoodi"));
        assert_eq!(ix.typo_matches("fusoin"), ["fusion"]);
        assert!(ix.typo_matches("hero").is_empty());
        assert!(ix.option_values().iter().any(|(k, n, v)| k == &["black"] && n == "color" && v == "Black"));
        assert_eq!(ix.by_sku("fusion"), Some(2));
        let i = ix.position(&ix.catalog.products[2].id).unwrap();
        assert!(ix.product_has(i, "laptop"));
    }
}
