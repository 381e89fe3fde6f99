//! The `VectorStore` conformance suite. Every check takes a store made by a factory,
//! so each adapter runs the same checks: qdrant-edge always (a temp folder), a Qdrant
//! server when `AISLE_TEST_QDRANT_URL` is set (its gRPC URL, e.g.
//! `http://127.0.0.1:6334`; every check gets fresh collections, dropped after it;
//! `AISLE_TEST_QDRANT_API_KEY` for a server that wants a key).
//! Whenever the variable is unset, the test output says plainly that the server suite
//! was NOT RUN — it is never counted as passed.
//!
//! Vectors are synthetic (dimension 8) so the checks test the store, not a model.

use std::io::Write;
use std::sync::Arc;

use engine_vectors::qdrant_edge::{QdrantEdgeStore, RRF_K};
use engine_vectors::qdrant_server::{QdrantServerStore, ServerOptions};
use engine::domain::TenantId;
use engine::ports::vectors::{
    Facets, IndexState, ProductPoint, QueryMode, VectorError, VectorFilter, VectorHit, VectorQuery, VectorStore,
};

const DIM: usize = 8;

/// A fresh store and what keeps its storage alive.
type Made = (Arc<dyn VectorStore>, Box<dyn std::any::Any + Send>);

fn edge() -> Made {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = QdrantEdgeStore::open(dir.path().join("vectors"), DIM).expect("open qdrant-edge store");
    (Arc::new(store), Box::new(dir))
}

/// A tenant id unique to this run, so a shared server keeps tests apart.
fn tenant(name: &str) -> TenantId {
    TenantId::parse(format!("t_{name}_{}", uuid::Uuid::new_v4().simple())).unwrap()
}

/// A unit vector pointing mostly along axis `axis`, a little along `axis + 1`.
fn unit(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = [0f32; DIM];
    v[axis % DIM] = 1.0;
    v[(axis + 1) % DIM] = tilt;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn point(product: &str, group: &str, dense: Vec<f32>, text: &str, facets: Facets) -> ProductPoint {
    ProductPoint {
        product_id: product.into(),
        group: group.into(),
        dense,
        text: text.into(),
        facets,
        catalog_version: 1,
    }
}

fn facets(price: i64, category: &str, options: &[(&str, &str)], in_stock: bool) -> Facets {
    Facets {
        price_min_minor: price,
        price_max_minor: price,
        category: category.into(),
        options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        in_stock,
    }
}

fn q(mode: QueryMode, dense: Vec<f32>, text: &str, limit: usize) -> VectorQuery {
    VectorQuery { dense, text: text.into(), mode, filter: VectorFilter::default(), limit }
}

fn ids(hits: &[VectorHit]) -> Vec<&str> {
    hits.iter().map(|h| h.product_id.as_str()).collect()
}

/// A small shop: jackets (two colour groups each), a bottle, a mat.
fn shop() -> Vec<ProductPoint> {
    vec![
        point("p_trail", "black", unit(0, 0.1), "Trail Jacket black waterproof", facets(9000, "Men/Jackets", &[("color", "Black")], true)),
        point("p_trail", "red", unit(0, 0.2), "Trail Jacket red waterproof", facets(8000, "Men/Jackets", &[("color", "Red")], false)),
        point("p_rain", "red", unit(0, 0.3), "Rain Jacket red light", facets(5000, "Women/Jackets", &[("color", "Red")], true)),
        point("p_rain", "blue", unit(0, 0.4), "Rain Jacket blue light", facets(5500, "Women/Jackets", &[("color", "Blue")], true)),
        point("p_bottle", "", unit(3, 0.0), "Steel Water Bottle keeps water cold", facets(1500, "Gear/Bottles", &[], true)),
        point("p_mat", "", unit(5, 0.0), "Yoga Mat non-slip", facets(2500, "Gear/Fitness", &[], false)),
    ]
}

async fn check_basics(store: Arc<dyn VectorStore>) {
    let t = tenant("basics");
    assert_eq!(store.count(&t).await.unwrap(), 0);
    store.upsert(&t, shop()).await.unwrap();
    store.optimize(&t).await.unwrap();
    assert_eq!(store.count(&t).await.unwrap(), 6);

    let dense = store.query(&t, &q(QueryMode::Dense, unit(3, 0.0), "", 2)).await.unwrap();
    assert_eq!(dense[0].product_id, "p_bottle");
    assert!(dense[0].score > 0.99, "cosine of the same vector: {}", dense[0].score);
    let keyword = store.query(&t, &q(QueryMode::Keyword, vec![], "water bottle", 10)).await.unwrap();
    assert_eq!(ids(&keyword), ["p_bottle"], "only the bottle has these words");
    let hybrid = store.query(&t, &q(QueryMode::Hybrid, unit(5, 0.0), "yoga mat", 3)).await.unwrap();
    assert_eq!(hybrid[0].product_id, "p_mat");

    // Upserting the same point again replaces it.
    store.upsert(&t, vec![point("p_mat", "", unit(6, 0.0), "Yoga Mat thick", facets(2600, "Gear/Fitness", &[], true))]).await.unwrap();
    assert_eq!(store.count(&t).await.unwrap(), 6);
    let err = store.upsert(&t, vec![point("p_bad", "", vec![1.0; DIM + 1], "x", Facets::default())]).await.unwrap_err();
    assert!(matches!(err, VectorError::Dimension { expected: DIM, got } if got == DIM + 1), "{err:?}");
}

async fn check_grouping(store: Arc<dyn VectorStore>) {
    store.ping().await.expect("the store answers");
    let t = tenant("groups");
    store.upsert(&t, shop()).await.unwrap();
    for mode in [QueryMode::Dense, QueryMode::Keyword, QueryMode::Hybrid] {
        let hits = store.query(&t, &q(mode, unit(0, 0.25), "jacket red black blue", 10)).await.unwrap();
        let mut seen = ids(&hits);
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n, "{mode:?}: a product came back twice: {hits:?}");
        assert!(seen.contains(&"p_trail") && seen.contains(&"p_rain"), "{mode:?}: {hits:?}");
        let two = store.query(&t, &q(mode, unit(0, 0.25), "jacket", 1)).await.unwrap();
        assert_eq!(two.len(), 1, "{mode:?}: the limit counts products");
    }
}

/// Most products have one group, but the best matches are five products of ten groups
/// each: a store that sizes its fetch by the average groups per product gets too few
/// products at first, and must fetch deeper, not return fewer than asked for.
async fn check_many_groups_at_the_top(store: Arc<dyn VectorStore>) {
    let t = tenant("deep");
    let mut points = Vec::new();
    for i in 0..200 {
        let dense = unit(0, 0.5 + i as f32 * 0.001);
        points.push(point(&format!("p_single_{i:03}"), "", dense, "plain coat", facets(1000, "Coats", &[], true)));
    }
    for k in 0..5 {
        for g in 0..10 {
            let dense = unit(0, 0.01 * g as f32 + 0.001 * k as f32);
            let text = format!("parka coat shade{g}");
            points.push(point(&format!("p_parka_{k}"), &format!("g{g}"), dense, &text, facets(5000, "Coats", &[("shade", &g.to_string())], true)));
        }
    }
    store.upsert(&t, points).await.unwrap();
    let parkas = ["p_parka_0", "p_parka_1", "p_parka_2", "p_parka_3", "p_parka_4"];
    let check = |mode: QueryMode, hits: &[VectorHit]| {
        let found = ids(hits);
        let mut distinct = found.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), found.len(), "{mode:?}: a product came back twice: {found:?}");
        let mut top: Vec<&str> = found.iter().copied().take(5).collect();
        top.sort();
        assert_eq!(top, parkas, "{mode:?}: the parkas come first: {found:?}");
    };
    let dense = store.query(&t, &q(QueryMode::Dense, unit(0, 0.0), "", 8)).await.unwrap();
    check(QueryMode::Dense, &dense);
    assert_eq!(ids(&dense)[5..], ["p_single_000", "p_single_001", "p_single_002"], "{dense:?}");
    let keyword = store.query(&t, &q(QueryMode::Keyword, vec![], "parka", 8)).await.unwrap();
    check(QueryMode::Keyword, &keyword);
    assert_eq!(keyword.len(), 5, "only the parkas say parka: {keyword:?}");
    // The same through `query_many`, the hybrid retriever's path.
    let both = store
        .query_many(&t, &[q(QueryMode::Dense, unit(0, 0.0), "", 8), q(QueryMode::Keyword, vec![], "parka coat", 8)])
        .await
        .unwrap();
    assert_eq!(both[0], dense);
    check(QueryMode::Keyword, &both[1]);
    assert_eq!(both[1].len(), 8, "eight products say coat: {:?}", both[1]);
}

async fn check_filters(store: Arc<dyn VectorStore>) {
    let t = tenant("filters");
    store.upsert(&t, shop()).await.unwrap();
    let run = |filter: VectorFilter| {
        let store = store.clone();
        let t = t.clone();
        async move {
            let mut query = q(QueryMode::Hybrid, unit(0, 0.25), "jacket", 10);
            query.filter = filter;
            let mut found: Vec<String> = store.query(&t, &query).await.unwrap().into_iter().map(|h| h.product_id).collect();
            found.sort();
            found
        }
    };
    let red_in_stock = VectorFilter { options: vec![("Colour".into(), "RED".into())], in_stock_only: true, ..Default::default() };
    assert_eq!(run(red_in_stock).await, ["p_rain"], "the trail jacket's red group is out of stock");
    let under_60 = VectorFilter { max_price_minor: Some(6000), ..Default::default() };
    assert_eq!(run(under_60).await, ["p_bottle", "p_mat", "p_rain"]);
    let over_85 = VectorFilter { min_price_minor: Some(8500), ..Default::default() };
    assert_eq!(run(over_85).await, ["p_trail"]);
    let men = VectorFilter { category_prefix: Some("Men".into()), ..Default::default() };
    assert_eq!(run(men).await, ["p_trail"], "men is not a word start in Women");
    let women_jack = VectorFilter { category_prefix: Some("women/jack".into()), ..Default::default() };
    assert_eq!(run(women_jack).await, ["p_rain"]);
    let gear = VectorFilter { category_prefix: Some("gear".into()), in_stock_only: true, ..Default::default() };
    assert_eq!(run(gear).await, ["p_bottle"]);
    let by_id = VectorFilter { product_ids: Some(vec!["p_mat".into(), "p_nope".into()]), ..Default::default() };
    assert_eq!(run(by_id).await, ["p_mat"]);
}

async fn check_tenant_isolation(store: Arc<dyn VectorStore>) {
    let (a, b) = (tenant("a"), tenant("b"));
    store.upsert(&a, vec![point("p_a", "", unit(1, 0.0), "alpha hoodie", facets(100, "Tops", &[], true))]).await.unwrap();
    store.upsert(&b, vec![point("p_b", "", unit(1, 0.0), "beta hoodie", facets(100, "Tops", &[], true))]).await.unwrap();
    for mode in [QueryMode::Dense, QueryMode::Keyword, QueryMode::Hybrid] {
        let hits = store.query(&a, &q(mode, unit(1, 0.0), "hoodie beta", 10)).await.unwrap();
        assert_eq!(ids(&hits), ["p_a"], "{mode:?}");
        let mut query = q(mode, unit(1, 0.0), "hoodie beta", 10);
        query.filter.product_ids = Some(vec!["p_b".into()]);
        assert!(store.query(&a, &query).await.unwrap().is_empty(), "{mode:?}: B's id in A's filter found something");
    }
    assert_eq!(store.count(&a).await.unwrap(), 1);
    store.delete_products(&a, &["p_b".into()]).await.unwrap();
    assert_eq!(store.count(&b).await.unwrap(), 1, "deleting B's id as A removed B's point");
    // The same product id in both tenants: two points, each tenant's own.
    let same = |t: &str| point("p_same", "", unit(2, 0.0), &format!("{t} scarf"), facets(100, "Tops", &[], true));
    store.upsert(&a, vec![same("alpha")]).await.unwrap();
    store.upsert(&b, vec![same("beta")]).await.unwrap();
    assert_eq!((store.count(&a).await.unwrap(), store.count(&b).await.unwrap()), (2, 2));
    store.delete_products(&a, &["p_same".into()]).await.unwrap();
    assert_eq!((store.count(&a).await.unwrap(), store.count(&b).await.unwrap()), (1, 2));
    let hits = store.query(&b, &q(QueryMode::Keyword, vec![], "scarf", 10)).await.unwrap();
    assert_eq!(ids(&hits), ["p_same"], "B's own p_same is still there");
    store.delete_older_than(&a, i64::MAX).await.unwrap();
    assert_eq!((store.count(&a).await.unwrap(), store.count(&b).await.unwrap()), (0, 2), "A's version purge reached B");
    let state = IndexState { catalog_version: 9, embedder: "e".into(), hashes: [("p_b".to_string(), "h".to_string())].into() };
    store.set_index_state(&b, &state).await.unwrap();
    assert_eq!(store.index_state(&a).await.unwrap(), None, "B's index state seen as A's");
    assert_eq!(store.index_state(&b).await.unwrap(), Some(state));
}

/// Hybrid results against a naive RRF over the store's own dense-only and
/// keyword-only rankings: score(p) = Σ over lists of 1 / (rank₀ + k).
async fn check_rrf_matches_naive_reference(store: Arc<dyn VectorStore>) {
    let t = tenant("rrf");
    let words = ["red", "blue", "wool", "cotton", "hoodie", "jacket", "sock", "scarf"];
    let points: Vec<ProductPoint> = (0..40)
        .map(|i| {
            let text = format!("{} {} item{i}", words[i % 8], words[(i * 3 + 1) % 8]);
            point(&format!("p{i:02}"), "", unit(i % DIM, (i as f32 * 0.37).sin()), &text, facets(100 + i as i64, "All", &[], true))
        })
        .collect();
    store.upsert(&t, points).await.unwrap();
    store.optimize(&t).await.unwrap();
    let dense = unit(2, 0.5);
    let text = "wool hoodie";
    let dense_rank = store.query(&t, &q(QueryMode::Dense, dense.clone(), "", 40)).await.unwrap();
    let keyword_rank = store.query(&t, &q(QueryMode::Keyword, vec![], text, 40)).await.unwrap();
    assert_eq!(dense_rank.len(), 40);
    assert!(!keyword_rank.is_empty() && keyword_rank.len() < 40, "{}", keyword_rank.len());
    let mut naive: std::collections::HashMap<&str, f32> = std::collections::HashMap::new();
    for list in [&dense_rank, &keyword_rank] {
        for (rank, hit) in list.iter().enumerate() {
            *naive.entry(hit.product_id.as_str()).or_insert(0.0) += 1.0 / (rank + RRF_K) as f32;
        }
    }
    let hybrid = store.query(&t, &q(QueryMode::Hybrid, dense, text, 40)).await.unwrap();
    assert_eq!(hybrid.len(), naive.len());
    for h in &hybrid {
        let want = naive[h.product_id.as_str()];
        assert!((h.score - want).abs() < 1e-6, "{}: hybrid {} vs naive {want}", h.product_id, h.score);
    }
    for pair in hybrid.windows(2) {
        assert!(pair[0].score >= pair[1].score, "not sorted: {pair:?}");
    }
}

async fn check_versions_and_state(store: Arc<dyn VectorStore>) {
    let t = tenant("versions");
    assert_eq!(store.index_state(&t).await.unwrap(), None);
    store.upsert(&t, shop()).await.unwrap();
    // Version 2 rewrites everything but the mat; the mat is then stale.
    let v2: Vec<ProductPoint> = shop().into_iter().filter(|p| p.product_id != "p_mat").map(|p| ProductPoint { catalog_version: 2, ..p }).collect();
    store.upsert(&t, v2).await.unwrap();
    store.delete_older_than(&t, 2).await.unwrap();
    assert_eq!(store.count(&t).await.unwrap(), 5);
    store.delete_products(&t, &["p_trail".into()]).await.unwrap();
    assert_eq!(store.count(&t).await.unwrap(), 3);
    let state = IndexState { catalog_version: 2, embedder: "test-embedder".into(), ..Default::default() };
    store.set_index_state(&t, &state).await.unwrap();
    assert_eq!(store.index_state(&t).await.unwrap(), Some(state));
}

#[tokio::test]
async fn edge_basics() {
    let (store, _keep) = edge();
    check_basics(store).await;
}

#[tokio::test]
async fn edge_grouping_returns_each_product_once() {
    let (store, _keep) = edge();
    check_grouping(store).await;
}

#[tokio::test]
async fn edge_fetches_deeper_when_the_top_is_many_groups() {
    let (store, _keep) = edge();
    check_many_groups_at_the_top(store).await;
}

#[tokio::test]
async fn edge_filters() {
    let (store, _keep) = edge();
    check_filters(store).await;
}

#[tokio::test]
async fn edge_tenant_isolation() {
    let (store, _keep) = edge();
    check_tenant_isolation(store).await;
}

#[tokio::test]
async fn edge_hybrid_fusion_matches_naive_rrf() {
    let (store, _keep) = edge();
    check_rrf_matches_naive_reference(store).await;
}

#[tokio::test]
async fn edge_versions_and_index_state() {
    let (store, _keep) = edge();
    check_versions_and_state(store).await;
}

#[tokio::test]
async fn edge_points_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let t = tenant("reopen");
    {
        let store = QdrantEdgeStore::open(dir.path(), DIM).unwrap();
        store.upsert(&t, shop()).await.unwrap();
        store.set_index_state(&t, &IndexState { catalog_version: 7, embedder: "e".into(), ..Default::default() }).await.unwrap();
    }
    let store = QdrantEdgeStore::open(dir.path(), DIM).unwrap();
    assert_eq!(store.count(&t).await.unwrap(), 6);
    assert_eq!(store.index_state(&t).await.unwrap().map(|s| s.catalog_version), Some(7));
    let hits = store.query(&t, &q(QueryMode::Hybrid, unit(3, 0.0), "bottle", 1)).await.unwrap();
    assert_eq!(ids(&hits), ["p_bottle"]);
    drop(store);
    // A store for another dimension refuses the shard rather than mixing vectors.
    let other = QdrantEdgeStore::open(dir.path(), DIM * 2).unwrap();
    assert!(matches!(other.count(&t).await, Err(VectorError::Dimension { .. })));
}

/// Collection names unique to one check, so runs sharing a server keep apart.
fn server_options() -> ServerOptions {
    let run = uuid::Uuid::new_v4().simple().to_string();
    ServerOptions {
        collection: format!("aisle_test_products_{run}"),
        state_collection: format!("aisle_test_state_{run}"),
        api_key: server_api_key(),
        ..Default::default()
    }
}

/// `AISLE_TEST_QDRANT_API_KEY`: the key of a server that wants one.
fn server_api_key() -> Option<String> {
    std::env::var("AISLE_TEST_QDRANT_API_KEY").ok().map(|k| k.trim().to_string()).filter(|k| !k.is_empty())
}

/// Runs one check on fresh collections of the server and drops them afterwards,
/// whether the check passed or panicked.
async fn on_server<F, Fut>(url: &str, name: &str, check: F)
where
    F: FnOnce(Arc<dyn VectorStore>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let store = Arc::new(QdrantServerStore::connect_with(url, DIM, server_options()).await.unwrap_or_else(|e| panic!("{name}: {e}")));
    let outcome = tokio::spawn(check(store.clone())).await;
    store.drop_collections().await.unwrap_or_else(|e| panic!("{name}: dropping its collections: {e}"));
    if let Err(e) = outcome {
        match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(e) => panic!("{name}: {e}"),
        }
    }
    let _ = writeln!(std::io::stderr(), "Qdrant server conformance: {name} passed");
}

/// What survives a reconnect, and a store for another dimension refusing the
/// collection rather than mixing vectors.
async fn check_server_reconnect(url: String) {
    let options = server_options();
    let t = tenant("reconnect");
    let first = Arc::new(QdrantServerStore::connect_with(&url, DIM, options.clone()).await.unwrap());
    let written = first.clone();
    let result = async move {
        let (first, url) = (written, url.as_str());
        first.upsert(&t, shop()).await.unwrap();
        first.set_index_state(&t, &IndexState { catalog_version: 7, embedder: "e".into(), ..Default::default() }).await.unwrap();
        let again = QdrantServerStore::connect_with(url, DIM, options.clone()).await.unwrap();
        assert_eq!(again.count(&t).await.unwrap(), 6);
        assert_eq!(again.index_state(&t).await.unwrap().map(|s| s.catalog_version), Some(7));
        let hits = again.query(&t, &q(QueryMode::Hybrid, unit(3, 0.0), "bottle", 1)).await.unwrap();
        assert_eq!(ids(&hits), ["p_bottle"]);
        let other = QdrantServerStore::connect_with(url, DIM * 2, options.clone()).await;
        assert!(matches!(other, Err(VectorError::Dimension { expected, got: DIM }) if expected == DIM * 2), "{:?}", other.err());
    };
    let outcome = tokio::spawn(result).await;
    first.drop_collections().await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    let _ = writeln!(std::io::stderr(), "Qdrant server conformance: reconnect passed");
}

/// A large index state (its hashes split over several points) comes back whole, and
/// a smaller one written after it replaces it entirely.
async fn check_large_index_state(store: Arc<dyn VectorStore>) {
    let t = tenant("state");
    let big = IndexState {
        catalog_version: 3,
        embedder: "e".into(),
        hashes: (0..5_000).map(|i| (format!("p{i:05}"), format!("{:064x}", i * 7919))).collect(),
    };
    store.set_index_state(&t, &big).await.unwrap();
    assert_eq!(store.index_state(&t).await.unwrap().as_ref(), Some(&big));
    let small = IndexState { catalog_version: 4, embedder: "e".into(), hashes: [("p1".to_string(), "h".to_string())].into() };
    store.set_index_state(&t, &small).await.unwrap();
    assert_eq!(store.index_state(&t).await.unwrap(), Some(small));
    assert_eq!(store.index_state(&tenant("nobody")).await.unwrap(), None, "another tenant has no state");
}

#[tokio::test]
async fn edge_large_index_state() {
    let (store, _keep) = edge();
    check_large_index_state(store).await;
}

/// The same checks on a Qdrant server, when `AISLE_TEST_QDRANT_URL` names one. There
/// is no server on these machines: without the variable this says so where it cannot
/// be missed (the real stderr, not the harness's captured output), and checks nothing.
#[tokio::test]
async fn qdrant_server_conformance() {
    let url = match std::env::var("AISLE_TEST_QDRANT_URL") {
        Ok(url) if !url.trim().is_empty() => url.trim().to_string(),
        _ => {
            let _ = writeln!(std::io::stderr(), "Qdrant server conformance NOT RUN: AISLE_TEST_QDRANT_URL unset");
            return;
        }
    };
    on_server(&url, "basics", check_basics).await;
    on_server(&url, "grouping", check_grouping).await;
    on_server(&url, "many groups at the top", check_many_groups_at_the_top).await;
    on_server(&url, "filters", check_filters).await;
    on_server(&url, "tenant isolation", check_tenant_isolation).await;
    on_server(&url, "hybrid fusion matches naive RRF", check_rrf_matches_naive_reference).await;
    on_server(&url, "versions and index state", check_versions_and_state).await;
    on_server(&url, "large index state", check_large_index_state).await;
    check_server_reconnect(url.clone()).await;
    if server_api_key().is_some() {
        // A server that wants a key refuses a store without one, clearly, at connect.
        let keyless = ServerOptions { api_key: None, ..server_options() };
        let err = QdrantServerStore::connect_with(&url, DIM, keyless).await.err().expect("a keyless store is refused");
        let _ = writeln!(std::io::stderr(), "Qdrant server conformance: without the API key: {err}");
    }
    let _ = writeln!(std::io::stderr(), "Qdrant server conformance RAN against {url}: all checks passed");
}

/// The hybrid `Retriever` end to end: a SQLite store with the demo (Luma) catalog,
/// the shipped static embedder and qdrant-edge in a temp folder.
#[tokio::test]
async fn hybrid_retriever_over_the_demo_catalog() {
    use engine::catalog::{CatalogCache, demo_catalog, import_products, parse_aisle_csv};
    use engine::domain::Currency;
    use engine_vectors::embed::StaticEmbedder;
    use engine::ports::retriever::{Retriever, SearchFilters, SearchQuery};
    use engine::retrieval::HybridRetriever;
    use engine::retrieval::hybrid::passes;

    let (store, _db) = crate::support::sqlite_store().await;
    let shop = crate::support::seed_tenant(store.as_ref(), "Shop").await;
    let other = crate::support::seed_tenant(store.as_ref(), "Other").await;
    let demo = demo_catalog(&shop);
    assert!(demo.errors.is_empty());
    import_products(store.as_ref(), demo.products).await.unwrap();
    let header = "sku,title,description,category,price,currency,stock,image_url,tags";
    let csv = |tenant: &TenantId, rows: &str| parse_aisle_csv(tenant, Currency::USD, format!("{header}\n{rows}").as_bytes());
    import_products(store.as_ref(), csv(&other, "HOOD-1,Other Shop Hoodie,Warm.,Tops,30,,5,,\n").products).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let embedder = Arc::new(StaticEmbedder::bundled().unwrap());
    let vectors = Arc::new(QdrantEdgeStore::open(dir.path(), embedder_dim(&*embedder)).unwrap());
    let cache = Arc::new(CatalogCache::new(store.clone()));
    let retriever = HybridRetriever::new(cache, vectors, embedder);
    let search = |tenant: TenantId, text: &str, filters: SearchFilters, limit: usize| {
        let retriever = &retriever;
        let query = SearchQuery { text: text.into(), filters, limit };
        async move { retriever.search(&tenant, &query).await.unwrap() }
    };

    let hits = search(shop.clone(), "sweatshirt", SearchFilters::default(), 10).await;
    let hoodies = hits.iter().filter(|h| h.product.category.contains("Hoodies")).count();
    assert!(hoodies >= 6, "{:?}", hits.iter().map(|h| &h.product.title).collect::<Vec<_>>());
    let mut seen: Vec<_> = hits.iter().map(|h| h.product.id.clone()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), hits.len(), "a product came back twice");
    assert!(hits.iter().all(|h| h.product.tenant_id == shop));

    let hits = search(shop.clone(), "something for yoga", SearchFilters::default(), 10).await;
    assert!(hits.iter().any(|h| h.product.category.contains("Fitness")), "{:?}", hits.iter().map(|h| &h.product.title).collect::<Vec<_>>());

    let mut red = SearchFilters { in_stock_only: true, max_price_minor: Some(6000), ..Default::default() };
    red.options.insert("color".into(), "Red".into());
    let hits = search(shop.clone(), "jacket", red.clone(), 10).await;
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| passes(&h.product, &red)), "a hit breaks the filters");

    let gear = SearchFilters { category: Some("gear/bags".into()), ..Default::default() };
    let listed = search(shop.clone(), "", gear, 0).await;
    assert!(listed.len() >= 10 && listed.iter().all(|h| h.product.category.to_lowercase().starts_with("gear/bags")));
    let titles: Vec<&str> = listed.iter().map(|h| h.product.title.as_str()).collect();
    let mut sorted = titles.clone();
    sorted.sort_by_key(|t| t.to_lowercase());
    assert_eq!(titles, sorted, "an empty query lists by title");

    // The other tenant sees only its own hoodie, though the demo shop has dozens.
    let theirs = search(other.clone(), "hoodie sweatshirt", SearchFilters::default(), 10).await;
    assert_eq!(theirs.iter().map(|h| h.product.title.as_str()).collect::<Vec<_>>(), ["Other Shop Hoodie"]);

    // A catalog change is indexed on the next search.
    import_products(store.as_ref(), csv(&shop, "KAYAK-1,Inflatable Kayak,For rivers.,Gear/Boats,300,,2,,\n").products).await.unwrap();
    let hits = search(shop.clone(), "kayak", SearchFilters::default(), 3).await;
    assert_eq!(hits[0].product.title, "Inflatable Kayak");
}

fn embedder_dim(e: &dyn engine::ports::embedder::Embedder) -> usize {
    e.dim()
}
