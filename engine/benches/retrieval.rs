//! Retrieval quality and speed, in one run (`cargo bench -p engine --bench retrieval`).
//!
//! Quality: the WANDS slice (40 queries, 6,482 products, `tests/fixtures/wands/`):
//! nDCG@10 (gains Exact 1, Partial 0.5, Irrelevant 0; the ideal ranking from every
//! judgment of the query) and recall@50 of the Exact products, for Aisle's keyword
//! BM25F index, qdrant-edge's BM25 alone, and dense-only and hybrid for each local
//! embedder (the static model; the transformer when its weights are found).
//!
//! Speed: hybrid query latency (query embedding included) over the WANDS pool and
//! over a 50,000-product catalog assembled from every real catalog in the fixtures
//! (repeated with new SKUs to reach the size), beside an exact brute-force search over
//! the very same vectors in the same run, and recall@10 of the store's (HNSW) dense
//! result against the exact one.
//!
//! Also: a fusion study (RRF, min-max and mean±3sd convex combinations over the same
//! dense and BM25 candidate lists, each at equal weight and with its weight chosen by
//! 5-fold cross-validation), and recall@10 three ways (plain set overlap; tie-aware:
//! a hit when the found product's exact score is within 1e-6 of the exact 10th;
//! ann-benchmarks' definition, within 1e-3).
//!
//! Environment: `AISLE_BENCH_SKIP_TRANSFORMER=1` skips the transformer rows;
//! `AISLE_BENCH_SKIP_QUALITY=1` the quality part, `AISLE_BENCH_SKIP_BIG=1` the big
//! catalog; `AISLE_BENCH_DENSE_TEXT_STUDY=1` compares dense texts for WANDS;
//! `AISLE_BENCH_PRODUCTS` changes the 50,000; for the big store,
//! `AISLE_BENCH_HNSW_EF` sets the HNSW search breadth, `AISLE_BENCH_HNSW_M` /
//! `AISLE_BENCH_HNSW_EF_CONSTRUCT` the graph, `AISLE_BENCH_IN_RAM=1` keeps vectors
//! in RAM, `AISLE_BENCH_PAYLOAD_RAM=1` payloads, `AISLE_BENCH_QUANTIZE=1` adds an
//! int8 copy, `AISLE_BENCH_SEGMENTS` sets the segment count, `AISLE_BENCH_OVERFETCH=2`
//! fetches a fixed 2 points per product wanted (the old way),
//! `AISLE_BENCH_COMPARE_OVERFETCH=N` measures N alternating rounds of both ways,
//! `AISLE_BENCH_DEPTH_SWEEP=1` times single-list queries of 5 to 100 products,
//! `AISLE_BENCH_PROFILE_HYBRID=seconds` runs only hybrid queries that long (for
//! `perf record -p`), and
//! `AISLE_BENCH_EF_SWEEP=100,256,exact` re-measures the same index at other search
//! breadths. `AISLE_BENCH_JSON=path` writes the results as JSON (for
//! `loadtests/plot_retrieval.py`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine_vectors::qdrant_edge::{EdgeOptions, QdrantEdgeStore};
use engine::catalog::{CatalogSnapshot, demo_catalog, parse_shopify_csv};
use engine::domain::{Currency, Product, ProductId, Sku, TenantId, Variant, VariantId};
use engine_vectors::embed::{StaticEmbedder, TransformerEmbedder, locate_model_dir};
use engine::ports::embedder::Embedder;
use engine::ports::retriever::SearchQuery;
use engine::ports::vectors::{ProductPoint, QueryMode, VectorFilter, VectorHit, VectorQuery, VectorStore, convex_hybrid};
use engine::retrieval::KeywordIndex;
use engine::retrieval::hybrid::{FUSION_DENSE_WEIGHT, FUSION_DEPTH, group_docs, index_products};

type Error = Box<dyn std::error::Error>;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn tsv(path: &Path) -> Result<Vec<csv::StringRecord>, Error> {
    let mut reader = csv::ReaderBuilder::new().delimiter(b'\t').quote(b'"').flexible(true).from_path(path)?;
    Ok(reader.records().collect::<Result<Vec<_>, _>>()?)
}

/// A one-variant product with the given texts.
fn product(tenant: &TenantId, id: &str, title: &str, category: &str, tags: Vec<String>, description: &str) -> Result<Product, Error> {
    Ok(Product {
        id: ProductId::parse(id)?,
        tenant_id: tenant.clone(),
        sku: Sku::parse(id)?,
        title: title.to_string(),
        description_html: description.to_string(),
        description_text: description.to_string(),
        category: category.to_string(),
        tags,
        image_url: None,
        options: vec![],
        currency: Currency::USD,
        variants: vec![Variant {
            id: VariantId::generate(),
            sku: Sku::parse(format!("{id}-v"))?,
            title: title.to_string(),
            options: Default::default(),
            price_minor: 1000,
            stock: 1,
        }],
    })
}

struct Wands {
    products: Vec<Product>,
    queries: Vec<(String, String)>,
    /// query id → product id → gain
    gains: HashMap<String, HashMap<String, f32>>,
}

fn wands(tenant: &TenantId) -> Result<Wands, Error> {
    let dir = fixtures().join("wands");
    let mut products = Vec::new();
    for r in tsv(&dir.join("wands_products_6482.tsv"))? {
        let (id, name, class, cat) = (&r[0], &r[1], r.get(2).unwrap_or(""), r.get(3).unwrap_or(""));
        let tags = class.split('|').filter(|c| !c.is_empty()).map(str::to_string).collect();
        products.push(product(tenant, &format!("w{id}"), name, cat, tags, "")?);
    }
    let queries = tsv(&dir.join("wands_queries_40.tsv"))?.iter().map(|r| (r[0].to_string(), r[1].to_string())).collect();
    let mut gains: HashMap<String, HashMap<String, f32>> = HashMap::new();
    for r in tsv(&dir.join("wands_labels_6986.tsv"))? {
        let gain = match &r[2] {
            "Exact" => 1.0,
            "Partial" => 0.5,
            _ => 0.0,
        };
        let slot = gains.entry(r[0].to_string()).or_default().entry(format!("w{}", &r[1])).or_insert(0.0);
        *slot = slot.max(gain); // duplicated pairs: keep the best label
    }
    Ok(Wands { products, queries, gains })
}

fn ndcg10(ranked: &[String], gains: &HashMap<String, f32>) -> f64 {
    let dcg: f64 = ranked.iter().take(10).enumerate().map(|(i, p)| f64::from(*gains.get(p).unwrap_or(&0.0)) / (i as f64 + 2.0).log2()).sum();
    let mut ideal: Vec<f32> = gains.values().copied().collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| f64::from(*g) / (i as f64 + 2.0).log2()).sum();
    if idcg > 0.0 { dcg / idcg } else { 0.0 }
}

fn recall50(ranked: &[String], gains: &HashMap<String, f32>) -> f64 {
    let exact: Vec<&String> = gains.iter().filter(|(_, g)| **g >= 1.0).map(|(p, _)| p).collect();
    let found = ranked.iter().take(50).filter(|p| exact.contains(p)).count();
    if exact.is_empty() { 0.0 } else { found as f64 / exact.len() as f64 }
}

/// Embeds every variant group and writes it; returns (point product ids, vectors).
async fn index(store: &dyn VectorStore, embedder: &dyn Embedder, tenant: &TenantId, products: &[Product]) -> Result<(Vec<String>, Vec<Vec<f32>>), Error> {
    let mut ids = Vec::new();
    let mut all = Vec::new();
    for chunk in products.chunks(1024) {
        let docs: Vec<(&Product, _)> = chunk.iter().flat_map(|p| group_docs(p).into_iter().map(move |d| (p, d))).collect();
        let texts: Vec<String> = docs.iter().map(|(_, d)| d.dense_text.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        let points: Vec<ProductPoint> = docs
            .into_iter()
            .zip(&vectors)
            .map(|((p, d), v)| ProductPoint {
                product_id: p.id.to_string(),
                group: d.group,
                dense: v.clone(),
                text: d.keyword_text,
                facets: d.facets,
                catalog_version: 1,
            })
            .collect();
        ids.extend(points.iter().map(|p| p.product_id.clone()));
        all.extend(vectors);
        store.upsert(tenant, points).await?;
    }
    store.optimize(tenant).await?;
    Ok((ids, all))
}

fn query(mode: QueryMode, dense: Vec<f32>, text: &str, limit: usize) -> VectorQuery {
    VectorQuery { dense, text: text.to_string(), mode, filter: VectorFilter::default(), limit }
}

/// The hybrid search `HybridRetriever` runs (its fusion, weight and depth), so the
/// bench measures that path.
async fn hybrid(store: &dyn VectorStore, tenant: &TenantId, dense: Vec<f32>, text: &str, limit: usize) -> Result<Vec<VectorHit>, Error> {
    Ok(convex_hybrid(store, tenant, &query(QueryMode::Hybrid, dense, text, limit), FUSION_DENSE_WEIGHT, FUSION_DEPTH).await?)
}

/// One query's two candidate lists (products, best first, with the store's scores):
/// dense cosine and BM25.
struct Lists {
    dense: Vec<(String, f32)>,
    keyword: Vec<(String, f32)>,
}

#[derive(Clone, Copy, Debug)]
enum Fuse {
    /// Weighted RRF: `w / (k + rank) + (1 - w) / (k + rank)`, `w` on the dense list.
    Rrf { k: f32, w: f32 },
    /// Convex combination of min-max normalised scores (each list over its own
    /// candidates; a product missing from a list scores 0 there).
    MinMax { w: f32 },
    /// Convex combination of scores normalised by mean ± 3 standard deviations
    /// (qdrant's DBSF with weights).
    Distr { w: f32 },
}

fn fuse(l: &Lists, f: Fuse) -> Vec<String> {
    let mut score: HashMap<&str, f64> = HashMap::new();
    let lists = [(&l.dense, true), (&l.keyword, false)];
    for (list, is_dense) in lists {
        let weight = |w: f32| f64::from(if is_dense { w } else { 1.0 - w });
        let xs: Vec<f64> = list.iter().map(|(_, s)| f64::from(*s)).collect();
        let (min, max) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let n = xs.len().max(1) as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        for (r, (id, s)) in list.iter().enumerate() {
            let s = f64::from(*s);
            let v = match f {
                Fuse::Rrf { k, w } => weight(w) / (f64::from(k) + r as f64),
                Fuse::MinMax { w } => weight(w) * if max > min { (s - min) / (max - min) } else { 1.0 },
                Fuse::Distr { w } => weight(w) * if sd > 0.0 { (s - (mean - 3.0 * sd)) / (6.0 * sd) } else { 0.5 },
            };
            *score.entry(id.as_str()).or_insert(0.0) += v;
        }
    }
    let mut ranked: Vec<(&str, f64)> = score.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    ranked.into_iter().map(|(id, _)| id.to_string()).collect()
}

/// Mean nDCG@10 of a fusion over some queries (indexes into `w.queries`).
fn mean_ndcg(w: &Wands, lists: &[Lists], which: &[usize], f: Fuse) -> f64 {
    which.iter().map(|&i| ndcg10(&fuse(&lists[i], f), &w.gains[&w.queries[i].0])).sum::<f64>() / which.len().max(1) as f64
}

/// The fusion study: each family's fixed, textbook setting; then its weight chosen by
/// 5-fold cross-validation (folds by query order, weight grid 0.05 apart, chosen on
/// four folds, scored on the fifth), so the number is an honest out-of-sample one.
fn fusion_study(name: &str, w: &Wands, lists: &[Lists]) -> Vec<Row> {
    let all: Vec<usize> = (0..lists.len()).collect();
    let grid: Vec<f32> = (0..=20).map(|i| i as f32 * 0.05).collect();
    type Family = (&'static str, fn(f32) -> Fuse);
    let families: [Family; 3] = [
        ("weighted RRF k=60", |w| Fuse::Rrf { k: 60.0, w }),
        ("min-max convex", |w| Fuse::MinMax { w }),
        ("mean±3sd (DBSF) convex", |w| Fuse::Distr { w }),
    ];
    let mut rows = Vec::new();
    for (family, make) in families {
        let fixed = mean_ndcg(w, lists, &all, make(0.5));
        let mut cv = 0.0;
        let mut chosen = Vec::new();
        for fold in 0..5 {
            let (test, train): (Vec<usize>, Vec<usize>) = all.iter().partition(|&&i| i % 5 == fold);
            let best = grid.iter().copied().max_by(|a, b| mean_ndcg(w, lists, &train, make(*a)).total_cmp(&mean_ndcg(w, lists, &train, make(*b)))).unwrap_or(0.5);
            chosen.push(best);
            cv += mean_ndcg(w, lists, &test, make(best)) * test.len() as f64;
        }
        let cv = cv / all.len() as f64;
        let all_best = grid.iter().copied().max_by(|a, b| mean_ndcg(w, lists, &all, make(*a)).total_cmp(&mean_ndcg(w, lists, &all, make(*b)))).unwrap_or(0.5);
        eprintln!(
            "fusion {name} / {family}: w=0.5 nDCG@10 {fixed:.3}; 5-fold CV {cv:.3} (dense weights chosen {chosen:?}); best on all 40 (in-sample, NOT a result) w={all_best} {:.3}",
            mean_ndcg(w, lists, &all, make(all_best))
        );
        rows.push(Row { system: format!("fusion study, {name}: {family}, w = 0.5"), ndcg: fixed, recall: f64::NAN });
        rows.push(Row { system: format!("fusion study, {name}: {family}, 5-fold CV weight {chosen:?}"), ndcg: cv, recall: f64::NAN });
    }
    rows
}

struct Row {
    system: String,
    ndcg: f64,
    recall: f64,
}

async fn evaluate(name: &str, w: &Wands, ranked: impl AsyncFn(&str) -> Result<Vec<String>, Error>) -> Result<Row, Error> {
    let (mut ndcg, mut recall) = (0.0, 0.0);
    for (qid, text) in &w.queries {
        let r = ranked(text).await?;
        let gains = w.gains.get(qid).ok_or("query without labels")?;
        ndcg += ndcg10(&r, gains);
        recall += recall50(&r, gains);
    }
    let n = w.queries.len() as f64;
    let row = Row { system: name.to_string(), ndcg: ndcg / n, recall: recall / n };
    eprintln!("{:<48} nDCG@10 {:.3}  recall@50 {:.3}", row.system, row.ndcg, row.recall);
    Ok(row)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// Vectors in one contiguous row-major block, for an exact scan that the compiler can
/// vectorise (eight running sums per dot product).
struct Flat {
    dim: usize,
    data: Vec<f32>,
}

impl Flat {
    fn new(vectors: &[Vec<f32>]) -> Self {
        let dim = vectors.first().map_or(0, Vec::len);
        Self { dim, data: vectors.iter().flatten().copied().collect() }
    }

    fn len(&self) -> usize {
        self.data.len() / self.dim.max(1)
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

fn dot8(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
}

/// Top `k` products by exact cosine over every point (a product's best point), with
/// their scores: a full scan, then a partial selection (no full sort). Ties keep the
/// lower point index first.
fn brute_force(ids: &[String], flat: &Flat, q: &[f32], k: usize) -> Vec<(String, f32)> {
    let mut scored: Vec<(f32, usize)> = (0..flat.len()).map(|i| (dot8(q, flat.row(i)), i)).collect();
    let cmp = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    // Enough candidates for `k` distinct products when a few have several points.
    let keep = (k * 8).min(scored.len());
    if keep > 0 && keep < scored.len() {
        scored.select_nth_unstable_by(keep - 1, cmp);
        scored.truncate(keep);
    }
    scored.sort_unstable_by(cmp);
    let mut out: Vec<(String, f32)> = Vec::with_capacity(k);
    for (score, i) in scored {
        if !out.iter().any(|(id, _)| *id == ids[i]) {
            out.push((ids[i].clone(), score));
            if out.len() == k {
                break;
            }
        }
    }
    out
}

/// p50 and p95 of a set of timings, in ms.
type P = (f64, f64);

fn p50_95(mut d: Vec<Duration>) -> P {
    d.sort();
    (pct(&d, 0.5), pct(&d, 0.95))
}

struct Latency {
    pool: String,
    points: usize,
    embed: P,
    hybrid: P,
    dense_store: P,
    keyword_store: P,
    exact: P,
    /// The store's two candidate lists of the hybrid (top `FUSION_DEPTH` products each,
    /// one `query_many`), without the embedding and the fusion.
    lists: P,
    /// recall@10 of the store's dense top 10 against the exact top 10 (ties broken by
    /// point order): plain set overlap.
    recall_plain: f64,
    /// The same, counting a found product as a hit when its exact score is within
    /// 1e-6 of the exact 10th (exact ties only).
    recall_ties: f64,
    /// ann-benchmarks' definition: within 1e-3 (cosine distance) of the 10th.
    recall_ann: f64,
}

async fn latency(pool: &str, store: &dyn VectorStore, embedder: &dyn Embedder, tenant: &TenantId, ids: &[String], vectors: &[Vec<f32>], queries: &[String]) -> Result<Latency, Error> {
    let flat = Flat::new(vectors);
    let qv = embedder.embed(queries).await?;
    for (text, v) in queries.iter().zip(&qv).take(50) {
        hybrid(store, tenant, v.clone(), text, 10).await?; // warm-up
    }
    // A product's exact score: its best point's cosine.
    let mut points_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        points_of.entry(id.as_str()).or_default().push(i);
    }
    let (mut embed, mut fused, mut dense, mut keyword, mut exact) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut lists = Vec::new();
    let (mut plain, mut ties, mut ann) = (0.0, 0.0, 0.0);
    for (text, v) in queries.iter().zip(&qv) {
        let t = Instant::now();
        let e = embedder.embed(std::slice::from_ref(text)).await?.pop().ok_or("no vector")?;
        embed.push(t.elapsed());
        hybrid(store, tenant, e, text, 10).await?;
        fused.push(t.elapsed());
        let t = Instant::now();
        let found = store.query(tenant, &query(QueryMode::Dense, v.clone(), "", 10)).await?;
        dense.push(t.elapsed());
        let t = Instant::now();
        store.query(tenant, &query(QueryMode::Keyword, vec![], text, 10)).await?;
        keyword.push(t.elapsed());
        let t = Instant::now();
        let both = [query(QueryMode::Dense, v.clone(), text, FUSION_DEPTH), query(QueryMode::Keyword, vec![], text, FUSION_DEPTH)];
        store.query_many(tenant, &both).await?;
        lists.push(t.elapsed());
        let t = Instant::now();
        let truth = brute_force(ids, &flat, v, 10);
        exact.push(t.elapsed());
        let n = truth.len().max(1) as f64;
        plain += found.iter().filter(|h| truth.iter().any(|(id, _)| *id == h.product_id)).count() as f64 / n;
        // Tie-aware: the big catalog repeats products, so several hold exactly the 10th
        // score; a store hit counts when its exact score reaches the exact 10th.
        let tenth = truth.last().map_or(f32::MIN, |t| t.1);
        let exact_score = |id: &str| points_of.get(id).map_or(f32::MIN, |ps| ps.iter().map(|&i| dot8(v, flat.row(i))).fold(f32::MIN, f32::max));
        let within = |eps: f32| found.iter().filter(|h| exact_score(&h.product_id) >= tenth - eps).count().min(truth.len()) as f64 / n;
        ties += within(1e-6);
        ann += within(1e-3);
    }
    let nq = queries.len() as f64;
    let l = Latency {
        pool: pool.to_string(),
        points: vectors.len(),
        embed: p50_95(embed),
        hybrid: p50_95(fused),
        dense_store: p50_95(dense),
        keyword_store: p50_95(keyword),
        exact: p50_95(exact),
        lists: p50_95(lists),
        recall_plain: plain / nq,
        recall_ties: ties / nq,
        recall_ann: ann / nq,
    };
    eprintln!(
        "{pool}: {} points; hybrid p50 {:.3} p95 {:.3} ms (embed {:.3}/{:.3}); dense store {:.3}/{:.3}; keyword store {:.3}/{:.3}; both lists (top {FUSION_DEPTH}) {:.3}/{:.3}; exact {:.3}/{:.3}; recall@10 plain {:.4} ties {:.4} ann-benchmarks {:.4}",
        l.points, l.hybrid.0, l.hybrid.1, l.embed.0, l.embed.1, l.dense_store.0, l.dense_store.1, l.keyword_store.0, l.keyword_store.1,
        l.lists.0, l.lists.1, l.exact.0, l.exact.1, l.recall_plain, l.recall_ties, l.recall_ann
    );
    Ok(l)
}

/// Every real catalog in the fixtures, as products of `tenant`.
fn real_catalogs(tenant: &TenantId) -> Result<Vec<Product>, Error> {
    let mut out: Vec<Product> = demo_catalog(tenant).products;
    for f in ["shopify_partners_sample_apparel.csv", "shopify_partners_sample_home-and-garden.csv", "shopify_partners_sample_jewelery.csv", "packt_dev_store_products_export.csv", "shopify_official_product_template.csv", "velofant_real_store_products_export_2025.csv"] {
        out.extend(parse_shopify_csv(tenant, Currency::USD, &std::fs::read(fixtures().join(f))?).products);
    }
    let mut reader = csv::Reader::from_path(fixtures().join("bestbuy_products_3291.csv"))?;
    for (i, r) in reader.records().enumerate() {
        let r = r?;
        out.push(product(tenant, &format!("bb{i}"), &r[1], &r[4], vec![r[3].to_string()], &r[2])?);
    }
    let mut reader = csv::Reader::from_path(fixtures().join("flipkart_products_1050.csv"))?;
    for (i, r) in reader.records().enumerate() {
        let r = r?;
        let cat = r[4].trim_matches(|c| c == '[' || c == ']' || c == '"').replace(" >> ", "/");
        out.push(product(tenant, &format!("fk{i}"), &r[3], &cat, vec![r.get(13).unwrap_or("").to_string()], &r[10])?);
    }
    out.extend(wands(tenant)?.products);
    Ok(out)
}

/// `n` products: the real catalogs, repeated with new ids and SKUs (`…-cN`).
fn big_catalog(tenant: &TenantId, n: usize) -> Result<(Vec<Product>, usize), Error> {
    let base = real_catalogs(tenant)?;
    let distinct = base.len();
    let mut out = Vec::with_capacity(n);
    'fill: for copy in 0.. {
        for p in &base {
            if out.len() == n {
                break 'fill;
            }
            let mut p = p.clone();
            if copy > 0 {
                p.id = ProductId::parse(format!("{}-c{copy}", p.id))?;
                p.sku = Sku::parse(format!("{}-c{copy}", p.sku))?;
            }
            out.push(p);
        }
    }
    Ok((out, distinct))
}

/// Dense-text variants for the WANDS products (name, category path, class), to see
/// what the dense vector should be made of. Printed, not shipped; `group_docs` is.
/// A dense text: its name, and how a product's is made.
type DenseText = (&'static str, fn(&Product) -> String);

fn dense_variants() -> Vec<DenseText> {
    vec![
        ("title. category. tags (group_docs before)", |p| format!("{}. {}. {}", p.title, p.category, p.tags.join(" "))),
        ("title. tags", |p| format!("{}. {}", p.title, p.tags.join(" "))),
        ("title. tags. last category level", |p| format!("{}. {}. {}", p.title, p.tags.join(" "), p.category.rsplit('/').next().unwrap_or("").trim())),
        ("title", |p| p.title.clone()),
    ]
}

async fn dense_text_study(w: &Wands, embedder: &dyn Embedder, tenant: &TenantId, root: &Path) -> Result<(), Error> {
    let texts: Vec<String> = w.queries.iter().map(|(_, t)| t.clone()).collect();
    let qv: HashMap<String, Vec<f32>> = texts.iter().cloned().zip(embedder.embed(&texts).await?).collect();
    for (i, (name, make)) in dense_variants().into_iter().enumerate() {
        let store = QdrantEdgeStore::open(root.join(format!("variant-{i}")), embedder.dim())?;
        let docs: Vec<String> = w.products.iter().map(make).collect();
        let vectors = embedder.embed(&docs).await?;
        let points = w.products.iter().zip(vectors).map(|(p, dense)| {
            let d = group_docs(p).remove(0);
            ProductPoint { product_id: p.id.to_string(), group: d.group, dense, text: d.keyword_text, facets: d.facets, catalog_version: 1 }
        });
        store.upsert(tenant, points.collect()).await?;
        store.optimize(tenant).await?;
        let run = |mode: QueryMode| {
            let (store, qv) = (&store, &qv);
            async move |text: &str| -> Result<Vec<String>, Error> {
                Ok(store.query(tenant, &query(mode, qv[text].clone(), text, 50)).await?.into_iter().map(|h| h.product_id).collect())
            }
        };
        let d = evaluate(&format!("  dense text [{name}] dense only"), w, run(QueryMode::Dense)).await?;
        let shipped = async |text: &str| -> Result<Vec<String>, Error> {
            Ok(hybrid(&store, tenant, qv[text].clone(), text, 50).await?.into_iter().map(|h| h.product_id).collect())
        };
        let h = evaluate(&format!("  dense text [{name}] hybrid (shipped fusion)"), w, shipped).await?;
        eprintln!("dense text study, {}: [{name}] dense {:.3}, hybrid {:.3}", embedder.name(), d.ndcg, h.ndcg);
    }
    Ok(())
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn env_num(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

async fn run() -> Result<(), Error> {
    let tenant = TenantId::parse("t_bench")?;
    let w = wands(&tenant)?;
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();
    let skip_quality = env_flag("AISLE_BENCH_SKIP_QUALITY");

    // Aisle's own BM25F keyword index (title, category = hierarchy, tags = class).
    let snapshot = CatalogSnapshot::new(1, w.products.clone());
    let keyword = KeywordIndex::build(&snapshot);
    if !skip_quality {
        rows.push(
            evaluate("BM25F keyword index (KeywordRetriever)", &w, async |text: &str| {
                let q = SearchQuery { text: text.to_string(), limit: 50, ..Default::default() };
                Ok(keyword.hits(&snapshot, &q).into_iter().map(|h| h.product.id.to_string()).collect())
            })
            .await?,
        );
    }

    let mut embedders: Vec<Arc<dyn Embedder>> = vec![Arc::new(StaticEmbedder::bundled()?)];
    if !env_flag("AISLE_BENCH_SKIP_TRANSFORMER") && !skip_quality {
        match locate_model_dir() {
            Ok(d) => embedders.push(Arc::new(TransformerEmbedder::load(&d)?)),
            Err(e) => eprintln!("transformer rows NOT RUN: {e}"),
        }
    }
    let queries: Vec<String> = tsv(&fixtures().join("wands/wands_queries_480.tsv"))?.iter().map(|r| r[1].to_string()).collect();
    let mut small = None;
    for (i, embedder) in embedders.iter().enumerate() {
        let store = QdrantEdgeStore::open(dir.path().join(format!("wands-{i}")), embedder.dim())?;
        let t = Instant::now();
        let (ids, vectors) = index(&store, embedder.as_ref(), &tenant, &w.products).await?;
        eprintln!("{}: indexed {} points in {:.1} s", embedder.name(), ids.len(), t.elapsed().as_secs_f64());
        if !skip_quality {
            let cache: HashMap<String, Vec<f32>> = {
                let texts: Vec<String> = w.queries.iter().map(|(_, t)| t.clone()).collect();
                texts.iter().cloned().zip(embedder.embed(&texts).await?).collect()
            };
            let search = |mode: QueryMode| {
                let (store, cache) = (&store, &cache);
                let tenant = &tenant;
                async move |text: &str| -> Result<Vec<String>, Error> {
                    let v = cache.get(text).cloned().unwrap_or_default();
                    Ok(store.query(tenant, &query(mode, v, text, 50)).await?.into_iter().map(|h| h.product_id).collect())
                }
            };
            if i == 0 {
                rows.push(evaluate("BM25 alone (qdrant-edge sparse vector)", &w, search(QueryMode::Keyword)).await?);
            }
            rows.push(evaluate(&format!("dense only: {}", embedder.name()), &w, search(QueryMode::Dense)).await?);
            rows.push(evaluate(&format!("hybrid RRF k=60: BM25 + {}", embedder.name()), &w, search(QueryMode::Hybrid)).await?);
            let shipped = {
                let (store, cache, tenant) = (&store, &cache, &tenant);
                async move |text: &str| -> Result<Vec<String>, Error> {
                    let v = cache.get(text).cloned().unwrap_or_default();
                    Ok(hybrid(store, tenant, v, text, 50).await?.into_iter().map(|h| h.product_id).collect())
                }
            };
            rows.push(evaluate(&format!("hybrid min-max convex, dense weight {FUSION_DENSE_WEIGHT} (shipped): BM25 + {}", embedder.name()), &w, shipped).await?);
            let mut lists = Vec::new();
            for (_, text) in &w.queries {
                let v = cache.get(text).cloned().unwrap_or_default();
                let hits = |mode| {
                    let q = query(mode, v.clone(), text, 100);
                    let store = &store;
                    let tenant = &tenant;
                    async move { store.query(tenant, &q).await.map(|h| h.into_iter().map(|h| (h.product_id, h.score)).collect::<Vec<_>>()) }
                };
                lists.push(Lists { dense: hits(QueryMode::Dense).await?, keyword: hits(QueryMode::Keyword).await? });
            }
            rows.extend(fusion_study(embedder.name(), &w, &lists));
            if env_flag("AISLE_BENCH_DENSE_TEXT_STUDY") {
                dense_text_study(&w, embedder.as_ref(), &tenant, &dir.path().join(format!("study-{i}"))).await?;
            }
        }
        if i == 0 {
            small = Some(latency("WANDS pool", &store, embedder.as_ref(), &tenant, &ids, &vectors, &queries).await?);
        }
    }

    // Latency over the assembled big catalog, static embedder (the default).
    let mut large = None;
    let mut sweep_rows = Vec::new();
    let mut big_info = String::new();
    if !env_flag("AISLE_BENCH_SKIP_BIG") {
        let n: usize = env_num("AISLE_BENCH_PRODUCTS").unwrap_or(50_000);
        let (big, distinct) = big_catalog(&tenant, n)?;
        let embedder = &embedders[0];
        let defaults = EdgeOptions::default();
        let options = EdgeOptions {
            hnsw_ef: env_num("AISLE_BENCH_HNSW_EF").or(defaults.hnsw_ef),
            on_disk: if env_flag("AISLE_BENCH_IN_RAM") { false } else { defaults.on_disk },
            hnsw_m: env_num("AISLE_BENCH_HNSW_M").or(defaults.hnsw_m),
            hnsw_ef_construct: env_num("AISLE_BENCH_HNSW_EF_CONSTRUCT").or(defaults.hnsw_ef_construct),
            payload_on_disk: if env_flag("AISLE_BENCH_PAYLOAD_RAM") { false } else { defaults.payload_on_disk },
            segments: env_num("AISLE_BENCH_SEGMENTS").or(defaults.segments),
            quantize: if env_flag("AISLE_BENCH_QUANTIZE") { true } else { defaults.quantize },
            overfetch: env_num("AISLE_BENCH_OVERFETCH").or(defaults.overfetch),
            ..defaults
        };
        eprintln!("big catalog store: {options:?}");
        let mut store = QdrantEdgeStore::with_options(dir.path().join("big"), embedder.dim(), options.clone())?;
        // Import to searchable: what `HybridRetriever` does on a new catalog version.
        let arcs: Vec<Arc<Product>> = big.iter().cloned().map(Arc::new).collect();
        let t = Instant::now();
        let points = index_products(&store, embedder.as_ref(), &tenant, &arcs, 1).await?;
        let index_s = t.elapsed().as_secs_f64();
        eprintln!("big catalog: {} products ({distinct} distinct), {points} points, indexed + optimised in {index_s:.1} s", big.len());
        let (segments, in_store, indexed) = store.layout(&tenant).await?;
        eprintln!("big catalog shard: {segments} segments, {in_store} points, {indexed} vectors in HNSW (dense + BM25)");
        // The same points' vectors again, untimed, for the exact scan.
        let docs: Vec<(String, String)> = big.iter().flat_map(|p| group_docs(p).into_iter().map(move |d| (p.id.to_string(), d.dense_text))).collect();
        let texts: Vec<String> = docs.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        let ids: Vec<String> = docs.into_iter().map(|(id, _)| id).collect();
        big_info = format!("{} products from {distinct} distinct real ones (repeated with new SKUs), {points} points, indexed + optimised in {index_s:.1} s", big.len());
        large = Some(latency(&format!("{} products", big.len()), &store, embedder.as_ref(), &tenant, &ids, &vectors, &queries).await?);
        // Search breadth sweep on the same index: `AISLE_BENCH_EF_SWEEP=64,256,exact`.
        if let Ok(sweep) = std::env::var("AISLE_BENCH_EF_SWEEP") {
            for step in sweep.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (ef, exact) = if step == "exact" { (None, true) } else { (step.parse().ok(), false) };
                store.set_search(ef, exact);
                let l = latency(&format!("{} products, ef {step}", big.len()), &store, embedder.as_ref(), &tenant, &ids, &vectors, &queries).await?;
                sweep_rows.push(l);
            }
            store.set_search(options.hnsw_ef, options.exact);
        }
        // Points fetched per product: 2 (fixed, the old way) vs sized by the catalog's
        // groups per product, alternating on the same index: `AISLE_BENCH_COMPARE_OVERFETCH=2`.
        for round in 0..env_num("AISLE_BENCH_COMPARE_OVERFETCH").unwrap_or(0) {
            for overfetch in [Some(2), None] {
                store.set_overfetch(overfetch);
                let how = if overfetch.is_some() { "2 points per product" } else { "adaptive fetch" };
                sweep_rows.push(latency(&format!("{} products, {how}, round {}", big.len(), round + 1), &store, embedder.as_ref(), &tenant, &ids, &vectors, &queries).await?);
            }
            store.set_overfetch(options.overfetch);
        }
        // What a list's length costs: single-list queries for 5 to 100 products.
        if env_flag("AISLE_BENCH_DEPTH_SWEEP") {
            let qv = embedder.embed(&queries).await?;
            for depth in [5, 25, 50, 100] {
                let (mut dense, mut keyword) = (Vec::new(), Vec::new());
                for (text, v) in queries.iter().zip(&qv) {
                    let t = Instant::now();
                    store.query(&tenant, &query(QueryMode::Keyword, vec![], text, depth)).await?;
                    keyword.push(t.elapsed());
                    let t = Instant::now();
                    store.query(&tenant, &query(QueryMode::Dense, v.clone(), "", depth)).await?;
                    dense.push(t.elapsed());
                }
                let (d, k) = (p50_95(dense), p50_95(keyword));
                eprintln!("top {depth} products: dense p50 {:.3} p95 {:.3} ms; BM25 p50 {:.3} p95 {:.3} ms", d.0, d.1, k.0, k.1);
            }
        }
        // Hybrid queries only, for a profiler: `AISLE_BENCH_PROFILE_HYBRID=seconds`.
        if let Some(secs) = env_num("AISLE_BENCH_PROFILE_HYBRID") {
            let qv = embedder.embed(&queries).await?;
            eprintln!("profile: hybrid queries for {secs} s");
            let (t, mut n) = (Instant::now(), 0);
            while t.elapsed().as_secs() < secs as u64 {
                for (text, v) in queries.iter().zip(&qv) {
                    hybrid(&store, &tenant, v.clone(), text, 10).await?;
                    n += 1;
                }
            }
            eprintln!("profile: {n} hybrid queries, {:.3} ms each", t.elapsed().as_secs_f64() * 1000.0 / n as f64);
        }
    }

    println!("\n| system | nDCG@10 | recall@50 (Exact) |\n| --- | ---: | ---: |");
    for r in &rows {
        println!("| {} | {:.3} | {} |", r.system, r.ndcg, if r.recall.is_nan() { "–".to_string() } else { format!("{:.3}", r.recall) });
    }
    println!("\n| pool | points | hybrid p50 / p95 (ms) | of which query embedding | dense, store | BM25, store | exact brute force | recall@10 plain | tie-aware (1e-6) | ann-benchmarks (1e-3) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for l in [&small, &large].into_iter().flatten().chain(sweep_rows.iter()) {
        println!(
            "| {} | {} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} | {:.3} | {:.3} |",
            l.pool, l.points, l.hybrid.0, l.hybrid.1, l.embed.0, l.embed.1, l.dense_store.0, l.dense_store.1, l.keyword_store.0, l.keyword_store.1,
            l.exact.0, l.exact.1, l.recall_plain, l.recall_ties, l.recall_ann
        );
    }
    if !big_info.is_empty() {
        println!("\nbig catalog: {big_info}");
    }
    // For `loadtests/plot_retrieval.py` (written only when asked: a path in
    // `AISLE_BENCH_JSON`).
    if let Ok(path) = std::env::var("AISLE_BENCH_JSON") {
        let lat = |l: &Latency| {
            serde_json::json!({
                "pool": l.pool, "points": l.points, "hybrid": [l.hybrid.0, l.hybrid.1], "embed": [l.embed.0, l.embed.1],
                "dense": [l.dense_store.0, l.dense_store.1], "keyword": [l.keyword_store.0, l.keyword_store.1],
                "exact": [l.exact.0, l.exact.1], "recall_plain": l.recall_plain, "recall_ties": l.recall_ties, "recall_ann": l.recall_ann,
            })
        };
        let quality: Vec<serde_json::Value> = rows
            .iter()
            .filter(|r| !r.recall.is_nan())
            .map(|r| serde_json::json!({"system": r.system, "ndcg": r.ndcg, "recall50": r.recall}))
            .collect();
        let latencies: Vec<serde_json::Value> = [&small, &large].into_iter().flatten().chain(sweep_rows.iter()).map(lat).collect();
        let json = serde_json::json!({
            "quality": quality,
            "latency": latencies,
            "big_catalog": big_info,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&json)?)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing else useful.
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    rt.block_on(run())
}
