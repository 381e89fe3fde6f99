//! Recommendations: "goes well with" and cross-sell from the cart.
//!
//! Given the products a shopper has (or just added), suggest products of a
//! *complementary* kind that are *near* them: a hoodie suggests pants, shorts, a bag or
//! a water bottle of the same audience and activity, never another hoodie, never
//! something already in the cart, never something out of stock.
//!
//! How a product is read, all from the catalog itself:
//! - its **kind**: the head noun of its title ("Hero *Hoodie*", "Defender Series *Case*
//!   for iPhone 7") and its category path's leaf (`Men/Tops/Hoodies & Sweatshirts`).
//!   Two products are of the same kind when they share the leaf or the head noun.
//! - its **slot** (top, bottom, bag, gear, device, device accessory…): from its
//!   category path words (leaf first) or its kind noun, through one small, general
//!   table ([`KINDS`]). Which slots go with which is another small table
//!   ([`complements`]): tops ↔ bottoms ↔ bags and gear, devices ↔ their accessories.
//!   A product whose slot is unknown goes with anything of another kind.
//! - its **audience**: a gender or age word of its category path (`Men`, `Women`).
//!
//! Ranking comes from similarity, not from lists of products: the complementary prior,
//! the same audience (another audience is pushed far down), shared words of title,
//! tags and description weighted by rarity in this catalog (TF-IDF cosine: the
//! activity, the material, "iPhone 7"), shared colours, and, with a vector store
//! ([`recommend_with_vectors`]), the dense closeness of the embedded texts. The list
//! then takes the best of each kind first (pants, shorts, a bag, rather than three
//! pants), each product once, in a deterministic order (score, then title, then id).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::catalog::CatalogSnapshot;
use crate::domain::{Product, ProductId, TenantId};
use crate::ports::embedder::Embedder;
use crate::ports::retriever::{RetrievalError, SearchHit};
use crate::ports::vectors::{QueryMode, VectorFilter, VectorQuery, VectorStore};

use super::analyze::{analyze, stem, words};

/// Where a product is worn or used: what goes with what is decided between slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    Top,
    Outerwear,
    Bottom,
    Footwear,
    Bag,
    /// Sports and fitness gear: bottles, mats, balls, straps.
    Gear,
    /// Worn accessories: watches, caps, belts.
    Accessory,
    /// Phones, tablets, smartwatches.
    Device,
    /// Cases, chargers, cables, screen protectors: what goes with a device.
    DeviceAccessory,
}

/// Kind nouns (stemmed as `analyze::stem` does) and their slot. General words for
/// what shops sell, not any catalog's products.
const KINDS: &[(&str, Slot)] = &[
    ("top", Slot::Top),
    ("tee", Slot::Top),
    ("tshirt", Slot::Top),
    ("shirt", Slot::Top),
    ("tank", Slot::Top),
    ("hoody", Slot::Top),
    ("sweatshirt", Slot::Top),
    ("sweater", Slot::Top),
    ("pullover", Slot::Top),
    ("jumper", Slot::Top),
    ("blouse", Slot::Top),
    ("bra", Slot::Top),
    ("polo", Slot::Top),
    ("cardigan", Slot::Top),
    ("camisole", Slot::Top),
    ("tunic", Slot::Top),
    ("jacket", Slot::Outerwear),
    ("coat", Slot::Outerwear),
    ("parka", Slot::Outerwear),
    ("vest", Slot::Outerwear),
    ("windbreaker", Slot::Outerwear),
    ("anorak", Slot::Outerwear),
    ("bottom", Slot::Bottom),
    ("pant", Slot::Bottom),
    ("short", Slot::Bottom),
    ("legging", Slot::Bottom),
    ("tight", Slot::Bottom),
    ("skirt", Slot::Bottom),
    ("jean", Slot::Bottom),
    ("trouser", Slot::Bottom),
    ("jogger", Slot::Bottom),
    ("capri", Slot::Bottom),
    ("shoe", Slot::Footwear),
    ("sneaker", Slot::Footwear),
    ("trainer", Slot::Footwear),
    ("boot", Slot::Footwear),
    ("sandal", Slot::Footwear),
    ("sock", Slot::Footwear),
    ("bag", Slot::Bag),
    ("backpack", Slot::Bag),
    ("rucksack", Slot::Bag),
    ("duffle", Slot::Bag),
    ("duffel", Slot::Bag),
    ("tote", Slot::Bag),
    ("messenger", Slot::Bag),
    ("satchel", Slot::Bag),
    ("gear", Slot::Gear),
    ("equipment", Slot::Gear),
    ("bottle", Slot::Gear),
    ("mat", Slot::Gear),
    ("strap", Slot::Gear),
    ("ball", Slot::Gear),
    ("brick", Slot::Gear),
    ("block", Slot::Gear),
    ("roller", Slot::Gear),
    ("rope", Slot::Gear),
    ("kettlebell", Slot::Gear),
    ("dumbbell", Slot::Gear),
    ("towel", Slot::Gear),
    ("watch", Slot::Accessory),
    ("cap", Slot::Accessory),
    ("hat", Slot::Accessory),
    ("beanie", Slot::Accessory),
    ("belt", Slot::Accessory),
    ("scarf", Slot::Accessory),
    ("glove", Slot::Accessory),
    ("sunglass", Slot::Accessory),
    ("phone", Slot::Device),
    ("smartphone", Slot::Device),
    ("cellphone", Slot::Device),
    ("iphone", Slot::Device),
    ("tablet", Slot::Device),
    ("ipad", Slot::Device),
    ("smartwatch", Slot::Device),
    ("laptop", Slot::Device),
    ("case", Slot::DeviceAccessory),
    ("clip", Slot::DeviceAccessory),
    ("cover", Slot::DeviceAccessory),
    ("charger", Slot::DeviceAccessory),
    ("cable", Slot::DeviceAccessory),
    ("adapter", Slot::DeviceAccessory),
    ("protector", Slot::DeviceAccessory),
    ("headphone", Slot::DeviceAccessory),
    ("headset", Slot::DeviceAccessory),
    ("earbud", Slot::DeviceAccessory),
    ("earphone", Slot::DeviceAccessory),
    ("speaker", Slot::DeviceAccessory),
    ("mount", Slot::DeviceAccessory),
    ("battery", Slot::DeviceAccessory),
    ("lens", Slot::DeviceAccessory),
    ("stick", Slot::DeviceAccessory),
    ("tracker", Slot::DeviceAccessory),
    ("transmitter", Slot::DeviceAccessory),
];

/// Kind nouns that name a whole section of a shop rather than one kind of product.
const SECTIONS: &[&str] = &["gear", "equipment", "top", "bottom", "accessory"];

/// Words of a category path that name an audience: products for another audience are
/// pushed far down ("men's pants" for a women's hoodie).
const AUDIENCES: &[&str] = &["men", "women", "mens", "womens", "kid", "kids", "boy", "girl", "baby", "unisex", "junior"];

/// How well a product of slot `to` goes with one of slot `from` (0: not at all).
/// Within one slot only where different kinds really go together (gear with gear, a
/// case with a charger); the kind rule still keeps "another hoodie" out.
pub fn complements(from: Slot, to: Slot) -> f32 {
    use Slot::*;
    match (from, to) {
        (Top, Bottom) | (Bottom, Top) => 1.0,
        (Top | Bottom, Outerwear) | (Outerwear, Bottom) => 0.7,
        (Outerwear, Top) => 0.6,
        (Top | Bottom | Outerwear, Footwear) | (Footwear, Bottom | Top) => 0.6,
        (Top | Bottom | Outerwear | Footwear, Bag | Gear) => 0.5,
        (Top | Bottom | Outerwear, Accessory) => 0.4,
        (Bag, Gear) | (Gear, Bag) => 0.9,
        (Gear, Gear) => 0.8,
        (Bag | Gear, Accessory) | (Accessory, Bag | Gear) => 0.6,
        (Bag | Gear | Accessory, Top | Outerwear | Bottom) => 0.4,
        (Gear, Footwear) => 0.4,
        (Accessory, Accessory) => 0.5,
        (Device, DeviceAccessory) => 1.0,
        (DeviceAccessory, DeviceAccessory) => 0.9,
        (Device, Accessory) => 0.4,
        (DeviceAccessory, Device) => 0.3,
        _ => 0.0,
    }
}

/// Complementary weight when either slot is unknown (anything of another kind).
const UNKNOWN_SLOT: f32 = 0.3;
/// Score weights.
const W_COMPLEMENT: f32 = 1.0;
const W_SAME_AUDIENCE: f32 = 0.6;
const W_OTHER_AUDIENCE: f32 = -3.0;
const W_NAME: f32 = 2.0;
const W_DESCRIPTION: f32 = 1.0;
const W_FIT: f32 = 1.5;
const W_COLOUR: f32 = 0.4;
const W_DENSE: f32 = 2.0;
/// A kind the cart already has (pants when pants are in the cart) ranks after the rest.
const W_KIND_IN_CART: f32 = -1.5;
/// Candidates kept for the dense re-rank.
const DENSE_POOL: usize = 60;
/// Seeds embedded for the dense re-rank at most.
const DENSE_SEEDS: usize = 4;

fn slot_of_word(term: &str) -> Option<Slot> {
    KINDS.iter().find(|(k, _)| *k == term).map(|(_, s)| *s)
}

/// A product as recommendations read it.
#[derive(Debug)]
struct Profile {
    /// The category path's leaf, lower-case.
    leaf: String,
    /// The leaf names a kind of product (not a whole section like "Gear").
    kind_leaf: bool,
    /// The title's head noun, stemmed (or the leaf's first kind noun).
    kind: Option<String>,
    slot: Option<Slot>,
    audience: Option<String>,
    colours: HashSet<String>,
}

impl Profile {
    fn of(p: &Product) -> Profile {
        let segments: Vec<&str> = p.category.split(['/', '>']).map(str::trim).filter(|s| !s.is_empty()).collect();
        let leaf = segments.last().map(|s| s.to_lowercase()).unwrap_or_default();
        // A leaf names a kind when it has a kind noun that is not a whole section
        // ("Hoodies & Sweatshirts", "Bags"; not "Gear" or "Fitness Equipment").
        let leaf_kinds: Vec<String> =
            words(&leaf).iter().map(|w| stem(w)).filter(|w| slot_of_word(w).is_some() && !SECTIONS.contains(&w.as_str())).collect();
        let kind = title_kind(&p.title).or_else(|| leaf_kinds.first().cloned());
        // The shop's own category says it best; a device's accessories are device
        // accessories ("Cell Phone Accessories"), anything else's are accessories.
        let path_words: Vec<Vec<String>> =
            segments.iter().rev().map(|s| words(s).iter().map(|w| stem(w)).collect()).collect();
        let device_path = path_words.iter().flatten().any(|w| slot_of_word(w) == Some(Slot::Device));
        let from_path = path_words.iter().find_map(|seg| {
            seg.iter().rev().find_map(|w| {
                if w == "accessory" {
                    Some(if device_path { Slot::DeviceAccessory } else { Slot::Accessory })
                } else {
                    slot_of_word(w)
                }
            })
        });
        let from_title = kind.as_deref().and_then(slot_of_word);
        // A kind-naming leaf first, then the title's noun (a "Water Bottle" under
        // "Fitness Equipment"), then any section word of the path.
        let slot = leaf_kinds.first().and_then(|k| slot_of_word(k)).or(from_title).or(from_path);
        let audience = segments
            .iter()
            .flat_map(|s| words(s))
            .find(|w| AUDIENCES.contains(&w.as_str()))
            .map(|w| w.trim_end_matches('s').to_string());
        let colours = colour_values(p, true);
        let kind_leaf = !leaf_kinds.is_empty();
        Profile { leaf, kind_leaf, kind, slot, audience, colours }
    }

    /// The same head noun, or the same kind-naming category leaf (a hoodie and a
    /// sweatshirt of "Hoodies & Sweatshirts").
    /// Without a head noun on either side, the same leaf ("Selfie-Sticks").
    fn same_kind(&self, other: &Profile) -> bool {
        let same_leaf = !self.leaf.is_empty() && self.leaf == other.leaf;
        (self.kind.is_some() && self.kind == other.kind)
            || (self.kind_leaf && same_leaf)
            || (self.kind.is_none() && other.kind.is_none() && same_leaf)
    }

    /// What a list should not repeat: the kind-naming leaf (one bag, whichever its
    /// noun), else the head noun, else the leaf.
    fn variety_key(&self) -> String {
        match (&self.kind, self.kind_leaf) {
            (_, true) | (None, _) => self.leaf.clone(),
            (Some(k), false) => k.clone(),
        }
    }
}

/// The head noun of a title: the last kind word before "for"/"with" ("Case for Apple
/// iPhone 7" is a case), else the last kind word at all.
fn title_kind(title: &str) -> Option<String> {
    let ws: Vec<String> = words(title).iter().map(|w| stem(w)).collect();
    let head_end = ws.iter().position(|w| w == "for" || w == "with").unwrap_or(ws.len());
    let last_kind = |ws: &[String]| ws.iter().rev().find(|w| slot_of_word(w).is_some()).cloned();
    last_kind(&ws[..head_end]).or_else(|| last_kind(&ws))
}

/// Colour values of a product's variants (in stock only, if asked), lower-case.
fn colour_values(p: &Product, in_stock_only: bool) -> HashSet<String> {
    p.variants
        .iter()
        .filter(|v| !in_stock_only || v.in_stock())
        .flat_map(|v| v.options.iter())
        .filter(|(k, _)| matches!(k.to_lowercase().as_str(), "color" | "colour"))
        .map(|(_, v)| v.to_lowercase())
        .collect()
}

/// TF-IDF vectors of the catalog's products, unit length, for cosine similarity:
/// of what a product is called (title and tags: the activity, the material, the model
/// it fits) and, at a lower weight, of what its description says.
struct TextVectors {
    names: HashMap<ProductId, HashMap<String, f32>>,
    descriptions: HashMap<ProductId, HashMap<String, f32>>,
}

/// One field's TF-IDF vectors over the catalog.
fn tf_idf(products: &[Arc<Product>], text: impl Fn(&Product) -> String) -> HashMap<ProductId, HashMap<String, f32>> {
    let docs: Vec<(ProductId, HashMap<String, f32>)> = products
        .iter()
        .map(|p| {
            let mut tf: HashMap<String, f32> = HashMap::new();
            for t in analyze(&text(p)) {
                *tf.entry(t).or_default() += 1.0;
            }
            (p.id.clone(), tf)
        })
        .collect();
    let n = docs.len().max(1) as f32;
    let mut df: HashMap<&str, f32> = HashMap::new();
    for (_, tf) in &docs {
        for t in tf.keys() {
            *df.entry(t.as_str()).or_default() += 1.0;
        }
    }
    let idf: HashMap<String, f32> = df.into_iter().map(|(t, d)| (t.to_string(), (n / d).ln())).collect();
    docs.into_iter()
        .map(|(id, tf)| {
            let mut v: HashMap<String, f32> = tf
                .into_iter()
                .map(|(t, f)| {
                    let w = (1.0 + f.ln()) * idf.get(&t).copied().unwrap_or(0.0);
                    (t, w)
                })
                .filter(|(_, w)| *w > 0.0)
                .collect();
            let norm = v.values().map(|w| w * w).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.values_mut().for_each(|w| *w /= norm);
            }
            (id, v)
        })
        .collect()
}

fn cosine(a: Option<&HashMap<String, f32>>, b: Option<&HashMap<String, f32>>) -> f32 {
    let (Some(a), Some(b)) = (a, b) else { return 0.0 };
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    small.iter().filter_map(|(t, w)| large.get(t).map(|x| w * x)).sum()
}

impl TextVectors {
    fn build(products: &[Arc<Product>]) -> TextVectors {
        TextVectors {
            names: tf_idf(products, |p| format!("{} {}", p.title, p.tags.join(" "))),
            descriptions: tf_idf(products, |p| p.description_text.clone()),
        }
    }

    fn names(&self, a: &ProductId, b: &ProductId) -> f32 {
        cosine(self.names.get(a), self.names.get(b))
    }

    fn descriptions(&self, a: &ProductId, b: &ProductId) -> f32 {
        cosine(self.descriptions.get(a), self.descriptions.get(b))
    }
}

/// The words after "for" in a title: what the product fits ("Case for Apple iPhone 7"
/// fits "apple iphone 7").
fn fits(title: &str) -> Vec<String> {
    let ws = words(title);
    match ws.iter().position(|w| w == "for") {
        Some(i) => ws[i + 1..].iter().map(|w| stem(w)).collect(),
        None => Vec::new(),
    }
}

/// How well a candidate fits the seed: the share of what it is for that the seed's
/// title names (a case for the phone), or that the seed is for too (a case and a
/// screen protector for the same phone).
fn fit(seed: &Product, cand: &Product) -> f32 {
    let theirs = fits(&cand.title);
    if theirs.is_empty() {
        return 0.0;
    }
    let name: HashSet<String> = words(&seed.title).iter().map(|w| stem(w)).collect();
    let ours: HashSet<String> = fits(&seed.title).into_iter().collect();
    let share = |set: &HashSet<String>| theirs.iter().filter(|w| set.contains(*w)).count() as f32 / theirs.len() as f32;
    let both = if ours.is_empty() {
        0.0
    } else {
        theirs.iter().filter(|w| ours.contains(*w)).count() as f32 / theirs.len().max(ours.len()) as f32
    };
    share(&name).max(both)
}

/// What recommendations read of one catalog snapshot, built once per snapshot: the
/// text vectors and every product's profile.
struct Prepared {
    text: TextVectors,
    profiles: HashMap<ProductId, Arc<Profile>>,
}

/// Snapshots prepared lately (a few tenants' current catalogs).
const PREPARED_KEPT: usize = 16;

impl Prepared {
    /// The preparation of this snapshot, from a small cache. A snapshot is known by
    /// its version, size and first and last product ids (ids are unique across
    /// tenants), so another tenant's or version's catalog is never mistaken for it.
    fn of(catalog: &CatalogSnapshot) -> Arc<Prepared> {
        type Key = (i64, usize, Option<ProductId>, Option<ProductId>);
        static CACHE: std::sync::Mutex<Vec<(Key, Arc<Prepared>)>> = std::sync::Mutex::new(Vec::new());
        let key: Key = (
            catalog.version,
            catalog.len(),
            catalog.products.first().map(|p| p.id.clone()),
            catalog.products.last().map(|p| p.id.clone()),
        );
        if let Ok(cache) = CACHE.lock()
            && let Some((_, hit)) = cache.iter().find(|(k, _)| *k == key)
        {
            return hit.clone();
        }
        let built = Arc::new(Prepared {
            text: TextVectors::build(&catalog.products),
            profiles: catalog.products.iter().map(|p| (p.id.clone(), Arc::new(Profile::of(p)))).collect(),
        });
        if let Ok(mut cache) = CACHE.lock() {
            cache.retain(|(k, _)| *k != key);
            cache.push((key, built.clone()));
            let over = cache.len().saturating_sub(PREPARED_KEPT);
            cache.drain(..over);
        }
        built
    }
}

/// One eligible product with its score and kind (for the variety of the list).
#[derive(Clone, Debug)]
pub struct Candidate {
    pub product: Arc<Product>,
    pub score: f32,
    kind: String,
}

/// Every product that may be recommended for `seeds`, scored (not yet ordered).
/// Eligible: in stock, not a seed, not in `exclude`, not of a seed's kind, and of a
/// slot that goes with some seed's.
pub fn candidates(catalog: &CatalogSnapshot, for_products: &[ProductId], exclude: &[ProductId]) -> Vec<Candidate> {
    let mut seen = HashSet::new();
    let seeds: Vec<&Arc<Product>> =
        for_products.iter().filter(|id| seen.insert((*id).clone())).filter_map(|id| catalog.product(id)).collect();
    if seeds.is_empty() {
        return Vec::new();
    }
    let prepared = Prepared::of(catalog);
    let profile = |p: &Product| prepared.profiles.get(&p.id).cloned().unwrap_or_else(|| Arc::new(Profile::of(p)));
    let seed_profiles: Vec<Arc<Profile>> = seeds.iter().map(|p| profile(p)).collect();
    let excluded: HashSet<&ProductId> = exclude.iter().chain(for_products).collect();
    // Kinds the cart already holds besides the seeds.
    let cart_profiles: Vec<Arc<Profile>> =
        exclude.iter().filter(|id| !for_products.contains(id)).filter_map(|id| catalog.product(id)).map(|p| profile(p)).collect();
    let text = &prepared.text;
    let mut out = Vec::new();
    for p in &catalog.products {
        if excluded.contains(&p.id) || !p.in_stock() {
            continue;
        }
        let prof = profile(p);
        if seed_profiles.iter().any(|s| s.same_kind(&prof)) {
            continue;
        }
        let mut best: Option<f32> = None;
        for (seed, sp) in seeds.iter().zip(&seed_profiles) {
            let complement = match (sp.slot, prof.slot) {
                (Some(a), Some(b)) => complements(a, b),
                _ => UNKNOWN_SLOT,
            };
            if complement <= 0.0 {
                continue;
            }
            let audience = match (&sp.audience, &prof.audience) {
                (Some(a), Some(b)) if a == b => W_SAME_AUDIENCE,
                (Some(_), Some(_)) => W_OTHER_AUDIENCE,
                _ => 0.0,
            };
            let colour = if sp.colours.is_empty() {
                0.0
            } else {
                let cand: HashSet<String> = if prof.colours.is_empty() {
                    // A simple product may say its colour in its tags or title only.
                    words(&format!("{} {}", p.title, p.tags.join(" "))).into_iter().collect()
                } else {
                    prof.colours.clone()
                };
                sp.colours.iter().filter(|c| cand.contains(*c)).count() as f32 / sp.colours.len() as f32
            };
            let score = W_COMPLEMENT * complement
                + audience
                + W_NAME * text.names(&seed.id, &p.id)
                + W_DESCRIPTION * text.descriptions(&seed.id, &p.id)
                + W_FIT * fit(seed, p)
                + W_COLOUR * colour;
            best = Some(best.map_or(score, |b: f32| b.max(score)));
        }
        let Some(mut score) = best else { continue };
        if cart_profiles.iter().any(|c| c.same_kind(&prof)) {
            score += W_KIND_IN_CART;
        }
        out.push(Candidate { product: p.clone(), score, kind: prof.variety_key() });
    }
    out
}

/// Best first (score, then title, then id), at most `limit`, taking the best of each
/// kind before a second of any kind.
pub fn order(mut cands: Vec<Candidate>, limit: usize) -> Vec<SearchHit> {
    cands.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.product.title.to_lowercase().cmp(&b.product.title.to_lowercase()))
            .then_with(|| a.product.id.as_str().cmp(b.product.id.as_str()))
    });
    let mut kinds: HashSet<&str> = HashSet::new();
    let mut first: Vec<&Candidate> = Vec::new();
    let mut rest: Vec<&Candidate> = Vec::new();
    for c in &cands {
        if kinds.insert(c.kind.as_str()) {
            first.push(c);
        } else {
            rest.push(c);
        }
    }
    first
        .into_iter()
        .chain(rest)
        .take(limit)
        .map(|c| SearchHit { product: c.product.clone(), score: c.score })
        .collect()
}

/// Recommendations for `for_products` from the catalog alone (keyword similarity):
/// what `Retriever::recommend` does unless a retriever knows better.
pub fn recommend(catalog: &CatalogSnapshot, for_products: &[ProductId], exclude: &[ProductId], limit: usize) -> Vec<SearchHit> {
    if limit == 0 {
        return Vec::new();
    }
    order(candidates(catalog, for_products, exclude), limit)
}

/// The text a seed is embedded from: what it is, where it sits, what it is for.
fn seed_text(p: &Product) -> String {
    let head: String = p.description_text.split_whitespace().take(40).collect::<Vec<_>>().join(" ");
    format!("{}. {}. {}. {}", p.title, p.category, p.tags.join(" "), head)
}

/// [`recommend`], re-ranked by dense closeness: the seeds' texts are embedded and the
/// vector store is asked for the nearest of the best keyword candidates only (its
/// filter holds exactly those ids, so nothing of a seed's kind, in the cart or out of
/// stock can come back). Without an answer from the store, the keyword ranking stands.
pub async fn recommend_with_vectors(
    store: &dyn VectorStore,
    embedder: &dyn Embedder,
    tenant: &TenantId,
    catalog: &CatalogSnapshot,
    for_products: &[ProductId],
    exclude: &[ProductId],
    limit: usize,
) -> Result<Vec<SearchHit>, RetrievalError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut cands = candidates(catalog, for_products, exclude);
    cands.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.product.id.as_str().cmp(b.product.id.as_str())));
    cands.truncate(DENSE_POOL);
    if cands.is_empty() {
        return Ok(Vec::new());
    }
    let seeds: Vec<&Arc<Product>> = for_products.iter().filter_map(|id| catalog.product(id)).take(DENSE_SEEDS).collect();
    let texts: Vec<String> = seeds.iter().map(|p| seed_text(p)).collect();
    let ids: Vec<String> = cands.iter().map(|c| c.product.id.to_string()).collect();
    let dense = async {
        let mut dense: HashMap<String, f32> = HashMap::new();
        for v in embedder.embed(&texts).await? {
            let q = VectorQuery {
                dense: v,
                text: String::new(),
                mode: QueryMode::Dense,
                filter: VectorFilter { in_stock_only: true, product_ids: Some(ids.clone()), ..VectorFilter::default() },
                limit: ids.len(),
            };
            for hit in store.query(tenant, &q).await? {
                let e = dense.entry(hit.product_id).or_insert(f32::MIN);
                *e = e.max(hit.score);
            }
        }
        Ok::<_, RetrievalError>(dense)
    };
    // Suggestions are a courtesy: without the vectors, the keyword ranking stands.
    let dense = dense.await.unwrap_or_else(|e| {
        tracing::warn!(%tenant, error = %e, "recommendations without vectors");
        HashMap::new()
    });
    for c in &mut cands {
        if let Some(s) = dense.get(c.product.id.as_str()) {
            c.score += W_DENSE * s.clamp(0.0, 1.0);
        }
    }
    Ok(order(cands, limit))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::{Currency, Sku, Variant, VariantId};

    fn product(sku: &str, title: &str, category: &str, tags: &[&str], colours: &[(&str, i64)]) -> Product {
        let options = if colours.iter().any(|c| !c.0.is_empty()) { vec!["color".to_string()] } else { vec![] };
        Product {
            id: ProductId::parse(format!("p_{}", sku.to_lowercase())).unwrap(),
            tenant_id: TenantId::parse("t_x").unwrap(),
            sku: Sku::parse(sku).unwrap(),
            title: title.into(),
            description_html: String::new(),
            description_text: format!("{title} for {}.", tags.join(" and ")),
            category: category.into(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            image_url: None,
            options: options.clone(),
            currency: Currency::USD,
            variants: colours
                .iter()
                .enumerate()
                .map(|(i, (c, stock))| Variant {
                    id: VariantId::generate(),
                    sku: Sku::parse(format!("{sku}-{i}")).unwrap(),
                    title: c.to_string(),
                    options: if c.is_empty() { BTreeMap::new() } else { BTreeMap::from([("color".into(), c.to_string())]) },
                    price_minor: 1000,
                    stock: *stock,
                })
                .collect(),
        }
    }

    fn shop() -> CatalogSnapshot {
        CatalogSnapshot::new(
            1,
            vec![
                product("HOOD1", "Trail Hoodie", "Men/Tops/Hoodies & Sweatshirts", &["Running", "Fleece"], &[("Black", 3)]),
                product("HOOD2", "Cozy Hoodie", "Men/Tops/Hoodies & Sweatshirts", &["Yoga"], &[("Black", 3)]),
                product("SWEAT", "Lounge Sweatshirt", "Men/Tops/Hoodies & Sweatshirts", &["Yoga"], &[("Gray", 3)]),
                product("PANT1", "Trail Running Pant", "Men/Bottoms/Pants", &["Running"], &[("Black", 2)]),
                product("PANT2", "Yoga Pant", "Men/Bottoms/Pants", &["Yoga"], &[("Blue", 2)]),
                product("SHORT", "Running Short", "Men/Bottoms/Shorts", &["Running"], &[("Black", 2)]),
                product("WPANT", "Women's Running Pant", "Women/Bottoms/Pants", &["Running"], &[("Black", 2)]),
                product("GONE", "Sold Out Short", "Men/Bottoms/Shorts", &["Running"], &[("Black", 0)]),
                product("BAG", "Running Backpack", "Gear/Bags", &["Running"], &[("", 5)]),
                product("BOTTLE", "Running Water Bottle", "Gear/Fitness Equipment", &["Running"], &[("", 5)]),
                product("MAT", "Yoga Mat", "Gear/Fitness Equipment", &["Yoga"], &[("", 5)]),
                product("TEE", "Running Tee", "Men/Tops/Tees", &["Running"], &[("Black", 2)]),
            ],
        )
    }

    fn id(s: &str) -> ProductId {
        ProductId::parse(format!("p_{s}")).unwrap()
    }

    fn titles(hits: &[SearchHit]) -> Vec<String> {
        hits.iter().map(|h| h.product.title.clone()).collect()
    }

    #[test]
    fn kinds_and_slots_come_from_titles_and_category_paths() {
        let s = shop();
        let p = |x: &str| Profile::of(s.product(&id(x)).unwrap());
        assert_eq!(p("hood1").kind.as_deref(), Some("hoody"));
        assert_eq!(p("hood1").slot, Some(Slot::Top));
        assert_eq!(p("hood1").audience.as_deref(), Some("men"));
        assert_eq!(p("wpant").audience.as_deref(), Some("women"));
        assert!(p("hood1").same_kind(&p("sweat")), "same category leaf");
        assert!(!p("hood1").same_kind(&p("tee")));
        assert_eq!(p("bottle").slot, Some(Slot::Gear));
        assert_eq!(p("bag").slot, Some(Slot::Bag));
        assert_eq!(title_kind("OtterBox - Defender Series Case for Apple iPhone 7 - Black").as_deref(), Some("case"));
        assert_eq!(title_kind("Apple - iPhone 7 128GB").as_deref(), Some("iphone"));
    }

    #[test]
    fn a_hoodie_suggests_bottoms_and_gear_never_another_hoodie() {
        let s = shop();
        let hits = recommend(&s, &[id("hood1")], &[id("hood1")], 10);
        let got = titles(&hits);
        for not in ["Trail Hoodie", "Cozy Hoodie", "Lounge Sweatshirt", "Sold Out Short"] {
            assert!(!got.contains(&not.to_string()), "{not} in {got:?}");
        }
        // Running bottoms of the same audience come first; the women's pant last.
        assert_eq!(got[0], "Trail Running Pant", "{got:?}");
        assert_eq!(got[1], "Running Short", "{got:?}");
        assert_eq!(got.last().map(String::as_str), Some("Women's Running Pant"), "{got:?}");
        assert!(got.contains(&"Running Backpack".to_string()));
        let mut unique = got.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), got.len());
    }

    #[test]
    fn never_what_is_in_the_cart_and_best_of_each_kind_first() {
        let s = shop();
        let hits = recommend(&s, &[id("hood1")], &[id("hood1"), id("pant1")], 3);
        let got = titles(&hits);
        assert_eq!(got.len(), 3);
        assert!(!got.contains(&"Trail Running Pant".to_string()));
        // Pants are in the cart already: the short comes first, another pant later.
        assert_eq!(got[0], "Running Short", "{got:?}");
        assert!(!got.contains(&"Yoga Pant".to_string()), "{got:?}");
    }

    #[test]
    fn products_without_a_kind_noun_are_told_apart_by_their_leaf() {
        let s = CatalogSnapshot::new(
            1,
            vec![
                product("W1", "Acme Widget", "Gadgets/Widgets", &[], &[("", 3)]),
                product("W2", "Acme Widget Pro", "Gadgets/Widgets", &[], &[("", 3)]),
                product("G1", "Acme Gizmo", "Gadgets/Gizmos", &[], &[("", 3)]),
                product("G2", "Acme Gizmo Max", "Gadgets/Gizmos", &[], &[("", 3)]),
                product("D1", "Acme Doohickey", "Gadgets/Doohickeys", &[], &[("", 3)]),
            ],
        );
        // Not the other widget; one gizmo before a second one.
        let got = titles(&recommend(&s, &[id("w1")], &[], 5));
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(!got.contains(&"Acme Widget Pro".to_string()), "{got:?}");
        assert_eq!(got[2], "Acme Gizmo Max", "{got:?}");
    }

    #[test]
    fn gear_goes_with_gear_of_another_kind_and_results_are_deterministic() {
        let s = shop();
        let a = titles(&recommend(&s, &[id("bottle")], &[], 20));
        assert!(!a.contains(&"Running Water Bottle".to_string()));
        // A running bottle: the running bag first; the mat shares a section, not a kind.
        assert_eq!(a[0], "Running Backpack", "{a:?}");
        assert!(a.contains(&"Yoga Mat".to_string()), "{a:?}");
        assert_eq!(a, titles(&recommend(&s, &[id("bottle")], &[], 20)));
        assert!(recommend(&s, &[], &[], 5).is_empty());
        assert!(recommend(&s, &[id("bottle")], &[], 0).is_empty());
        assert!(recommend(&s, &[id("nope")], &[], 3).is_empty());
    }
}
