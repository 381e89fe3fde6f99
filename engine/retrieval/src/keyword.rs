//! Keyword retrieval: BM25F over a tenant's catalog snapshot, with the contract's
//! filters (price, category, options, stock).
//!
//! It is the first `Retriever` adapter and, later, the keyword half of hybrid search.
//! The index is built from an immutable `CatalogSnapshot` in memory (no store, no
//! I/O), so it is cheap to rebuild whenever the catalog version moves on and easy to
//! test. Scoring:
//! - BM25F: each field has a weight (the title counts most) and its own length
//!   normalisation; the per-document part of the score is computed at build time, so a
//!   query only sums precomputed numbers along the posting lists of its terms.
//! - Each query term may also match its synonyms (at half weight) and, when the term
//!   is unknown to the catalog and at least 5 letters long, words one edit away (a typo).
//! - A product matching more of the query's terms ranks above one matching fewer
//!   (the score is scaled by the share of matched terms), so "water bottle" puts the
//!   bottle above everything merely "water-resistant".

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::catalog::{CatalogCache, CatalogSnapshot};
use crate::domain::{Product, TenantId};
use crate::ports::retriever::{RetrievalError, Retriever, SearchFilters, SearchHit, SearchQuery};

use super::analyze::{SYNONYM_WEIGHT, analyze, synonyms, within_one_edit};

/// BM25 saturation: how quickly repeated words stop adding score.
const K1: f32 = 1.2;
/// Weight of a typo-corrected match relative to an exact one.
const TYPO_WEIGHT: f32 = 0.7;
/// Typo candidates kept per unknown query word (the most common ones).
const TYPO_CANDIDATES: usize = 3;
/// Query words beyond this many are ignored (a pasted paragraph is not a search).
const MAX_QUERY_TERMS: usize = 32;

/// (weight, length normalisation b) per field, in `FIELDS` order.
const FIELD_PARAMS: [(f32, f32); 5] = [
    (3.0, 0.75),  // title
    (1.5, 0.5),   // category
    (1.5, 0.5),   // tags
    (1.0, 0.3),   // option values
    (1.0, 0.75),  // description text
];

/// One variant, reduced to what filters look at.
#[derive(Debug)]
struct VariantKey {
    price_minor: i64,
    in_stock: bool,
    /// (option name, value), both lower-case.
    options: Vec<(String, String)>,
}

/// One product, reduced to what filters and tie-breaking look at.
#[derive(Debug)]
struct DocKey {
    title: String,
    category: String,
    variants: Vec<VariantKey>,
}

/// A BM25F index over one catalog snapshot. Product positions (`usize`) are indexes
/// into that snapshot's `products`.
#[derive(Debug)]
pub struct KeywordIndex {
    vocab: HashMap<String, u32>,
    /// Each term's characters, for typo matching; grouped by length in `by_len`.
    term_chars: Vec<Vec<char>>,
    by_len: Vec<Vec<u32>>,
    /// Per term: (product, its precomputed BM25F document factor).
    postings: Vec<Vec<(u32, f32)>>,
    idf: Vec<f32>,
    docs: Vec<DocKey>,
}

impl KeywordIndex {
    /// Indexes every product of the snapshot. Pure and synchronous: about a few
    /// milliseconds per thousand products.
    pub fn build(snapshot: &CatalogSnapshot) -> Self {
        let products: Vec<&Product> = snapshot.products.iter().map(|p| p.as_ref()).collect();
        Self::build_from(&products)
    }

    fn build_from(products: &[&Product]) -> Self {
        let mut vocab: HashMap<String, u32> = HashMap::new();
        let mut term_chars: Vec<Vec<char>> = Vec::new();
        let mut intern = |t: String| -> u32 {
            if let Some(&id) = vocab.get(&t) {
                return id;
            }
            let id = term_chars.len() as u32;
            term_chars.push(t.chars().collect());
            vocab.insert(t, id);
            id
        };
        // Pass 1: every field of every product as term ids; field lengths.
        let mut fields: Vec<[Vec<u32>; 5]> = Vec::with_capacity(products.len());
        let mut total_len = [0f64; 5];
        for p in products {
            let mut option_values: Vec<&str> = Vec::new();
            for v in &p.variants {
                for val in v.options.values() {
                    if !option_values.contains(&val.as_str()) {
                        option_values.push(val);
                    }
                }
            }
            let texts: [String; 5] =
                [p.title.clone(), p.category.clone(), p.tags.join(" "), option_values.join(" "), p.description_text.clone()];
            let f: [Vec<u32>; 5] = texts.map(|t| analyze(&t).into_iter().map(&mut intern).collect());
            for (i, terms) in f.iter().enumerate() {
                total_len[i] += terms.len() as f64;
            }
            fields.push(f);
        }
        let n = products.len().max(1) as f64;
        let avg_len: [f32; 5] = total_len.map(|t| ((t / n) as f32).max(1.0));

        // Pass 2: per product, BM25F's weighted, length-normalised term frequency,
        // saturated into the document factor stored in the postings.
        let mut postings: Vec<Vec<(u32, f32)>> = vec![Vec::new(); term_chars.len()];
        let mut tf: HashMap<u32, f32> = HashMap::new();
        for (doc, f) in fields.iter().enumerate() {
            tf.clear();
            for (i, terms) in f.iter().enumerate() {
                let (w, b) = FIELD_PARAMS[i];
                let norm = 1.0 - b + b * terms.len() as f32 / avg_len[i];
                for &t in terms {
                    *tf.entry(t).or_insert(0.0) += w / norm;
                }
            }
            for (&t, &x) in &tf {
                postings[t as usize].push((doc as u32, x * (K1 + 1.0) / (x + K1)));
            }
        }
        for p in &mut postings {
            p.sort_unstable_by_key(|(d, _)| *d);
        }
        let idf = postings
            .iter()
            .map(|p| {
                let df = p.len() as f64;
                ((1.0 + (n - df + 0.5) / (df + 0.5)).ln()) as f32
            })
            .collect();
        let mut by_len: Vec<Vec<u32>> = Vec::new();
        for (id, chars) in term_chars.iter().enumerate() {
            if by_len.len() <= chars.len() {
                by_len.resize(chars.len() + 1, Vec::new());
            }
            by_len[chars.len()].push(id as u32);
        }
        let docs = products
            .iter()
            .map(|p| DocKey {
                title: p.title.to_lowercase(),
                category: p.category.to_lowercase(),
                variants: p
                    .variants
                    .iter()
                    .map(|v| VariantKey {
                        price_minor: v.price_minor,
                        in_stock: v.in_stock(),
                        options: v.options.iter().map(|(k, val)| (k.to_lowercase(), val.to_lowercase())).collect(),
                    })
                    .collect(),
            })
            .collect();
        Self { vocab, term_chars, by_len, postings, idf, docs }
    }

    /// Number of products indexed.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// Ranked (product index, score), best first, each product at most once, ties in
    /// title order. Empty text (or only stop words) lists the products that pass the
    /// filters, by title, with score 0. `limit` 0 means no limit.
    pub fn search(&self, query: &SearchQuery) -> Vec<(usize, f32)> {
        let filter = Filter::new(&query.filters);
        let mut terms = analyze(&query.text);
        dedup_in_order(&mut terms);
        terms.truncate(MAX_QUERY_TERMS);

        let mut hits: Vec<(usize, f32)> = if terms.is_empty() {
            (0..self.docs.len()).filter(|&d| filter.passes(&self.docs[d])).map(|d| (d, 0.0)).collect()
        } else {
            self.score(&terms).into_iter().filter(|&(d, _)| filter.passes(&self.docs[d])).collect()
        };
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| self.docs[a.0].title.cmp(&self.docs[b.0].title)).then(a.0.cmp(&b.0)));
        if query.limit > 0 {
            hits.truncate(query.limit);
        }
        hits
    }

    /// Like `search`, with the products taken from `snapshot` (the one this index was
    /// built from).
    pub fn hits(&self, snapshot: &CatalogSnapshot, query: &SearchQuery) -> Vec<SearchHit> {
        self.search(query)
            .into_iter()
            .filter_map(|(i, score)| snapshot.products.get(i).map(|p| SearchHit { product: p.clone(), score }))
            .collect()
    }

    /// Every product matching at least one query term, with its score.
    fn score(&self, terms: &[String]) -> Vec<(usize, f32)> {
        let n = self.docs.len();
        let mut total = vec![0f32; n];
        let mut matched = vec![0u16; n];
        let mut best = vec![0f32; n];
        let mut touched: Vec<u32> = Vec::new();
        let mut known = 0u16;
        for term in terms {
            let expansions = self.expand(term);
            if expansions.is_empty() {
                continue;
            }
            known += 1;
            // A product counts once per query term: its best-matching expansion.
            for (t, w) in expansions {
                let idf = self.idf[t as usize];
                for &(d, factor) in &self.postings[t as usize] {
                    let s = w * idf * factor;
                    let slot = &mut best[d as usize];
                    if *slot == 0.0 {
                        touched.push(d);
                    }
                    if s > *slot {
                        *slot = s;
                    }
                }
            }
            for d in touched.drain(..) {
                total[d as usize] += best[d as usize];
                matched[d as usize] += 1;
                best[d as usize] = 0.0;
            }
        }
        if known == 0 {
            return Vec::new();
        }
        (0..n)
            .filter(|&d| matched[d] > 0)
            .map(|d| (d, total[d] * f32::from(matched[d]) / f32::from(known)))
            .collect()
    }

    /// The index terms a query term searches, with their weights.
    fn expand(&self, term: &str) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = Vec::new();
        if let Some(&id) = self.vocab.get(term) {
            out.push((id, 1.0));
        } else {
            out.extend(self.typo_matches(term).into_iter().map(|id| (id, TYPO_WEIGHT)));
        }
        for syn in synonyms(term) {
            if let Some(&id) = self.vocab.get(*syn)
                && !out.iter().any(|(t, _)| *t == id)
            {
                out.push((id, SYNONYM_WEIGHT));
            }
        }
        out
    }

    /// Catalog words one edit away from an unknown word of 5+ letters, the most common
    /// first. Numbers are never "corrected": 55 and 65 are different sizes.
    fn typo_matches(&self, term: &str) -> Vec<u32> {
        let chars: Vec<char> = term.chars().collect();
        if chars.len() < 5 || chars.iter().any(char::is_ascii_digit) {
            return Vec::new();
        }
        let mut found: Vec<u32> = Vec::new();
        for len in chars.len() - 1..=chars.len() + 1 {
            for &id in self.by_len.get(len).map_or(&[][..], Vec::as_slice) {
                if within_one_edit(&chars, &self.term_chars[id as usize]) {
                    found.push(id);
                }
            }
        }
        found.sort_by_key(|&id| std::cmp::Reverse(self.postings[id as usize].len()));
        found.truncate(TYPO_CANDIDATES);
        found
    }
}

/// Whether `needle` occurs in `haystack` at the start of a word (after the start or a
/// character that is not a letter or digit).
fn contains_at_word_start(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| haystack[..i].chars().next_back().is_none_or(|c| !c.is_alphanumeric()))
}

fn dedup_in_order(terms: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
}

/// `SearchFilters` prepared once per query: lower-cased, option names normalised.
struct Filter {
    min: Option<i64>,
    max: Option<i64>,
    category: Option<String>,
    options: Vec<(String, String)>,
    in_stock_only: bool,
}

impl Filter {
    fn new(f: &SearchFilters) -> Self {
        let options = f
            .options
            .iter()
            .map(|(k, v)| {
                let k = k.trim().to_lowercase();
                let k = if k == "colour" { "color".to_string() } else { k };
                (k, v.trim().to_lowercase())
            })
            .filter(|(k, v)| !k.is_empty() && !v.is_empty())
            .collect();
        Self {
            min: f.min_price_minor,
            max: f.max_price_minor,
            category: f.category.as_ref().map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty()),
            options,
            in_stock_only: f.in_stock_only,
        }
    }

    /// The category filter matches where the wanted text starts a word of the path, so
    /// "men" finds `Men/Tops` but not `Women/Tops`, while "hoodie" still finds
    /// `Men/Tops/Hoodies & Sweatshirts`.
    ///
    /// A product passes when its category matches and one of its variants meets every
    /// variant-level condition at once (price, stock, options): "a black M under $40
    /// in stock" must be one variant, not four different ones.
    fn passes(&self, doc: &DocKey) -> bool {
        if let Some(c) = &self.category
            && !contains_at_word_start(&doc.category, c)
        {
            return false;
        }
        doc.variants.iter().any(|v| {
            self.min.is_none_or(|m| v.price_minor >= m)
                && self.max.is_none_or(|m| v.price_minor <= m)
                && (!self.in_stock_only || v.in_stock)
                && self.options.iter().all(|(k, want)| v.options.iter().any(|(name, val)| name == k && val == want))
        })
    }
}

/// The keyword `Retriever`: one index per tenant, rebuilt when the tenant's catalog
/// version changes. Readers share the built index through an `Arc`; a rebuild happens
/// on the first search after a change, outside the lock.
pub struct KeywordRetriever {
    cache: Arc<CatalogCache>,
    indexes: RwLock<HashMap<TenantId, Arc<TenantIndex>>>,
}

/// An index with the snapshot it was built from: hits must come from that very
/// snapshot, since the index refers to products by position.
struct TenantIndex {
    snapshot: Arc<CatalogSnapshot>,
    index: KeywordIndex,
}

impl KeywordRetriever {
    pub fn new(cache: Arc<CatalogCache>) -> Self {
        Self { cache, indexes: RwLock::new(HashMap::new()) }
    }

    fn index_for(&self, tenant: &TenantId, snapshot: Arc<CatalogSnapshot>) -> Arc<TenantIndex> {
        if let Ok(map) = self.indexes.read()
            && let Some(built) = map.get(tenant)
            && built.snapshot.version == snapshot.version
        {
            return built.clone();
        }
        let built = Arc::new(TenantIndex { index: KeywordIndex::build(&snapshot), snapshot });
        if let Ok(mut map) = self.indexes.write() {
            // Two searches may rebuild at once; never replace a newer version.
            let newer = map.get(tenant).is_some_and(|b| b.snapshot.version > built.snapshot.version);
            if !newer {
                map.insert(tenant.clone(), built.clone());
            }
        }
        built
    }
}

#[async_trait]
impl Retriever for KeywordRetriever {
    async fn recommend(
        &self,
        _tenant: &crate::domain::TenantId,
        catalog: &crate::catalog::CatalogSnapshot,
        for_products: &[crate::domain::ProductId],
        exclude: &[crate::domain::ProductId],
        limit: usize,
    ) -> Result<Vec<crate::ports::retriever::SearchHit>, crate::ports::retriever::RetrievalError> {
        Ok(crate::recommend::recommend(catalog, for_products, exclude, limit))
    }

    async fn search(&self, tenant: &TenantId, query: &SearchQuery) -> Result<Vec<SearchHit>, RetrievalError> {
        let snapshot = self.cache.get(tenant).await?;
        let built = self.index_for(tenant, snapshot);
        Ok(built.index.hits(&built.snapshot, query))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::{Currency, ProductId, Sku, Variant, VariantId};

    fn product(sku: &str, title: &str, category: &str, desc: &str, variants: &[(&str, i64, i64)]) -> Product {
        let tenant = TenantId::parse("t_x").unwrap();
        let options = if variants.iter().any(|v| !v.0.is_empty()) { vec!["color".to_string()] } else { vec![] };
        Product {
            id: ProductId::generate(),
            tenant_id: tenant,
            sku: Sku::parse(sku).unwrap(),
            title: title.into(),
            description_html: desc.into(),
            description_text: desc.into(),
            category: category.into(),
            tags: vec![],
            image_url: None,
            options: options.clone(),
            currency: Currency::USD,
            variants: variants
                .iter()
                .enumerate()
                .map(|(i, (color, price, stock))| Variant {
                    id: VariantId::generate(),
                    sku: Sku::parse(format!("{sku}-{i}")).unwrap(),
                    title: color.to_string(),
                    options: if color.is_empty() { BTreeMap::new() } else { BTreeMap::from([("color".to_string(), color.to_string())]) },
                    price_minor: *price,
                    stock: *stock,
                })
                .collect(),
        }
    }

    fn snapshot() -> CatalogSnapshot {
        CatalogSnapshot::new(
            1,
            vec![
                product("A", "Trail Jacket", "Men/Jackets", "A water-resistant jacket.", &[("Black", 9000, 1), ("Red", 8000, 0)]),
                product("B", "Steel Water Bottle", "Gear", "Keeps water cold.", &[("", 1500, 3)]),
                product("C", "Rain Jacket", "Women/Jackets", "Light.", &[("Red", 5000, 2)]),
                product("D", "Yoga Mat", "Gear", "Non-slip.", &[("", 2500, 0)]),
            ],
        )
    }

    fn q(text: &str) -> SearchQuery {
        SearchQuery { text: text.into(), ..Default::default() }
    }

    fn titles(idx: &KeywordIndex, s: &CatalogSnapshot, query: &SearchQuery) -> Vec<String> {
        idx.hits(s, query).into_iter().map(|h| h.product.title.clone()).collect()
    }

    #[test]
    fn plural_typo_and_synonym_queries_find_products() {
        let s = snapshot();
        let idx = KeywordIndex::build(&s);
        let mut jackets = titles(&idx, &s, &q("jackets"));
        jackets.sort();
        assert_eq!(jackets, ["Rain Jacket", "Trail Jacket"]);
        assert_eq!(titles(&idx, &s, &q("jakcets")).len(), 2);
        assert_eq!(titles(&idx, &s, &q("coat")).len(), 2);
        assert_eq!(titles(&idx, &s, &q("water bottle"))[0], "Steel Water Bottle");
        assert!(titles(&idx, &s, &q("xylophone")).is_empty());
    }

    #[test]
    fn filters_need_one_variant_meeting_all_conditions() {
        let s = snapshot();
        let idx = KeywordIndex::build(&s);
        let mut query = q("jacket");
        query.filters.options.insert("colour".into(), "RED".into());
        query.filters.in_stock_only = true;
        // Trail Jacket's red variant is out of stock; Rain Jacket's is not.
        assert_eq!(titles(&idx, &s, &query), vec!["Rain Jacket"]);
        query.filters.in_stock_only = false;
        query.filters.max_price_minor = Some(8500);
        assert_eq!(titles(&idx, &s, &query).len(), 2);
        // The category must match at the start of a word: "men" is not in "Women".
        query.filters.category = Some("Men".into());
        assert_eq!(titles(&idx, &s, &query), vec!["Trail Jacket"]);
        query.filters.category = Some("women/jack".into());
        assert_eq!(titles(&idx, &s, &query), vec!["Rain Jacket"]);
    }

    #[test]
    fn empty_text_lists_filtered_products_by_title() {
        let s = snapshot();
        let idx = KeywordIndex::build(&s);
        let mut query = q("  ");
        query.filters.category = Some("gear".into());
        assert_eq!(titles(&idx, &s, &query), vec!["Steel Water Bottle", "Yoga Mat"]);
        query.limit = 1;
        assert_eq!(titles(&idx, &s, &query).len(), 1);
    }

    #[test]
    fn an_empty_catalog_answers_nothing() {
        let s = CatalogSnapshot::new(0, vec![]);
        let idx = KeywordIndex::build(&s);
        assert!(idx.search(&q("anything at all")).is_empty());
        assert!(idx.search(&q("")).is_empty());
    }
}
