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
//! Environment: `AISLE_BENCH_SKIP_TRANSFORMER=1` skips the transformer rows;
//! `AISLE_BENCH_PRODUCTS` changes the 50,000; `AISLE_BENCH_HNSW_EF` sets the HNSW
//! search breadth, `AISLE_BENCH_HNSW_M` / `AISLE_BENCH_HNSW_EF_CONSTRUCT` the graph,
//! and `AISLE_BENCH_IN_RAM=1` keeps vectors in RAM, for the big store.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::adapters::qdrant_edge::{EdgeOptions, QdrantEdgeStore};
use engine::catalog::{CatalogSnapshot, demo_catalog, parse_shopify_csv};
use engine::domain::{Currency, Product, ProductId, Sku, TenantId, Variant, VariantId};
use engine::embed::{StaticEmbedder, TransformerEmbedder, locate_model_dir};
use engine::ports::embedder::{Embedder, dot};
use engine::ports::retriever::SearchQuery;
use engine::ports::vectors::{ProductPoint, QueryMode, VectorFilter, VectorQuery, VectorStore};
use engine::retrieval::KeywordIndex;
use engine::retrieval::hybrid::group_docs;

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

/// Top `k` products by exact cosine over every point (a product's best point), with
/// their scores: a full scan, then a partial selection (no full sort).
fn brute_force(ids: &[String], vectors: &[Vec<f32>], q: &[f32], k: usize) -> Vec<(String, f32)> {
    let mut scored: Vec<(f32, usize)> = vectors.iter().enumerate().map(|(i, v)| (dot(q, v), i)).collect();
    // Enough candidates for `k` distinct products when a few have several points.
    let keep = (k * 8).min(scored.len());
    if keep > 0 && keep < scored.len() {
        scored.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(keep);
    }
    scored.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
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

struct Latency {
    pool: String,
    points: usize,
    hybrid: (f64, f64),
    dense_store: (f64, f64),
    exact: (f64, f64),
    recall10: f64,
}

async fn latency(pool: &str, store: &dyn VectorStore, embedder: &dyn Embedder, tenant: &TenantId, ids: &[String], vectors: &[Vec<f32>], queries: &[String]) -> Result<Latency, Error> {
    let qv = embedder.embed(queries).await?;
    for (text, v) in queries.iter().zip(&qv).take(50) {
        store.query(tenant, &query(QueryMode::Hybrid, v.clone(), text, 10)).await?; // warm-up
    }
    // A product's exact score: its best point's cosine.
    let mut points_of: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        points_of.entry(id.as_str()).or_default().push(i);
    }
    let (mut hybrid, mut dense, mut exact) = (Vec::new(), Vec::new(), Vec::new());
    let mut recall = 0.0;
    for (text, v) in queries.iter().zip(&qv) {
        let t = Instant::now();
        let e = embedder.embed(std::slice::from_ref(text)).await?.pop().ok_or("no vector")?;
        store.query(tenant, &query(QueryMode::Hybrid, e, text, 10)).await?;
        hybrid.push(t.elapsed());
        let t = Instant::now();
        let found = store.query(tenant, &query(QueryMode::Dense, v.clone(), "", 10)).await?;
        dense.push(t.elapsed());
        let t = Instant::now();
        let truth = brute_force(ids, vectors, v, 10);
        exact.push(t.elapsed());
        // Tie-aware: the catalog repeats products, so several hold exactly the 10th
        // score; a store hit counts when its exact score reaches the exact 10th.
        let tenth = truth.last().map_or(f32::MIN, |t| t.1);
        let exact_score = |id: &str| points_of.get(id).map_or(f32::MIN, |ps| ps.iter().map(|&i| dot(v, &vectors[i])).fold(f32::MIN, f32::max));
        let hit = found.iter().filter(|h| exact_score(&h.product_id) >= tenth - 1e-6).count();
        recall += hit.min(truth.len()) as f64 / truth.len().max(1) as f64;
    }
    for d in [&mut hybrid, &mut dense, &mut exact] {
        d.sort();
    }
    let l = Latency {
        pool: pool.to_string(),
        points: vectors.len(),
        hybrid: (pct(&hybrid, 0.5), pct(&hybrid, 0.95)),
        dense_store: (pct(&dense, 0.5), pct(&dense, 0.95)),
        exact: (pct(&exact, 0.5), pct(&exact, 0.95)),
        recall10: recall / queries.len() as f64,
    };
    eprintln!("{pool}: {} points; hybrid p50 {:.3} p95 {:.3} ms; dense store p50 {:.3} p95 {:.3}; exact p50 {:.3} p95 {:.3}; recall@10 {:.4}",
        l.points, l.hybrid.0, l.hybrid.1, l.dense_store.0, l.dense_store.1, l.exact.0, l.exact.1, l.recall10);
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

async fn run() -> Result<(), Error> {
    let tenant = TenantId::parse("t_bench")?;
    let w = wands(&tenant)?;
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();

    // Aisle's own BM25F keyword index (title, category = hierarchy, tags = class).
    let snapshot = CatalogSnapshot::new(1, w.products.clone());
    let keyword = KeywordIndex::build(&snapshot);
    rows.push(
        evaluate("BM25F keyword index (KeywordRetriever)", &w, async |text: &str| {
            let q = SearchQuery { text: text.to_string(), limit: 50, ..Default::default() };
            Ok(keyword.hits(&snapshot, &q).into_iter().map(|h| h.product.id.to_string()).collect())
        })
        .await?,
    );

    let mut embedders: Vec<Arc<dyn Embedder>> = vec![Arc::new(StaticEmbedder::bundled()?)];
    if std::env::var("AISLE_BENCH_SKIP_TRANSFORMER").is_err() {
        match locate_model_dir() {
            Ok(d) => embedders.push(Arc::new(TransformerEmbedder::load(&d)?)),
            Err(e) => eprintln!("transformer rows NOT RUN: {e}"),
        }
    }
    let mut wands_latency = None;
    for (i, embedder) in embedders.iter().enumerate() {
        let store = QdrantEdgeStore::open(dir.path().join(format!("wands-{i}")), embedder.dim())?;
        let t = Instant::now();
        let (ids, vectors) = index(&store, embedder.as_ref(), &tenant, &w.products).await?;
        eprintln!("{}: indexed {} points in {:.1} s", embedder.name(), ids.len(), t.elapsed().as_secs_f64());
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
        rows.push(evaluate(&format!("hybrid RRF: BM25 + {}", embedder.name()), &w, search(QueryMode::Hybrid)).await?);
        if i == 0 {
            let queries: Vec<String> = tsv(&fixtures().join("wands/wands_queries_480.tsv"))?.iter().map(|r| r[1].to_string()).collect();
            wands_latency = Some((latency("WANDS pool", &store, embedder.as_ref(), &tenant, &ids, &vectors, &queries).await?, queries));
        }
    }

    // Latency over the assembled big catalog, static embedder (the default).
    let n: usize = std::env::var("AISLE_BENCH_PRODUCTS").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let (big, distinct) = big_catalog(&tenant, n)?;
    let embedder = &embedders[0];
    let options = EdgeOptions {
        hnsw_ef: std::env::var("AISLE_BENCH_HNSW_EF").ok().and_then(|v| v.parse().ok()),
        on_disk: std::env::var("AISLE_BENCH_IN_RAM").is_err(),
        hnsw_m: std::env::var("AISLE_BENCH_HNSW_M").ok().and_then(|v| v.parse().ok()),
        hnsw_ef_construct: std::env::var("AISLE_BENCH_HNSW_EF_CONSTRUCT").ok().and_then(|v| v.parse().ok()),
        ..EdgeOptions::default()
    };
    eprintln!("big catalog store: {options:?}");
    let store = QdrantEdgeStore::with_options(dir.path().join("big"), embedder.dim(), options)?;
    let t = Instant::now();
    let (ids, vectors) = index(&store, embedder.as_ref(), &tenant, &big).await?;
    let index_s = t.elapsed().as_secs_f64();
    eprintln!("big catalog: {} products ({distinct} distinct), {} points, indexed + optimised in {index_s:.1} s", big.len(), ids.len());
    let Some((small, queries)) = wands_latency else { return Err("no WANDS latency".into()) };
    let large = latency(&format!("{} products", big.len()), &store, embedder.as_ref(), &tenant, &ids, &vectors, &queries).await?;

    println!("\n| system | nDCG@10 | recall@50 (Exact) |\n| --- | ---: | ---: |");
    for r in &rows {
        println!("| {} | {:.3} | {:.3} |", r.system, r.ndcg, r.recall);
    }
    println!("\n| pool | points | hybrid p50 / p95 (ms) | dense, store p50 / p95 (ms) | exact brute force p50 / p95 (ms) | recall@10 store vs exact |\n| --- | ---: | ---: | ---: | ---: | ---: |");
    for l in [&small, &large] {
        println!("| {} | {} | {:.3} / {:.3} | {:.3} / {:.3} | {:.3} / {:.3} | {:.4} |", l.pool, l.points, l.hybrid.0, l.hybrid.1, l.dense_store.0, l.dense_store.1, l.exact.0, l.exact.1, l.recall10);
    }
    println!("\nbig catalog: {} products from {distinct} distinct real ones (repeated with new SKUs), {} points, indexed in {index_s:.1} s", big.len(), ids.len());
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
