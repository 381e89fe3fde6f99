//! The `VectorStore` on a Qdrant server (`AISLE_QDRANT_URL`), over gRPC with
//! `qdrant-client`.
//!
//! All tenants share one collection (`aisle_products` by default). Its `tenant_id`
//! payload index is a keyword index marked `is_tenant`, so the server keeps each
//! tenant's points together, and **every** request this adapter sends — queries (in
//! both prefetches), counts, deletes, index-state reads — carries a `tenant_id`
//! condition built by [`tenant_filter`]: a query of tenant A never returns B's
//! points, even with B's product id in the filter.
//!
//! A point's vectors are the same as on qdrant-edge (`crate::qdrant_edge`):
//! `dense` (cosine, the store's dimension) and `bm25`, a sparse vector with
//! `Modifier::Idf` (the server computes IDF; the client sends BM25 term-frequency
//! weights made by qdrant-edge's own `EdgeBm25` with the same default configuration
//! as the edge adapter, so both tokenise, stem and weigh alike). One difference
//! remains: on the server IDF is counted over the whole collection (every tenant),
//! on qdrant-edge over one tenant's shard. Hybrid queries fuse a dense and a sparse
//! prefetch by RRF with the edge adapter's `k` (`RRF_K`), and results are grouped
//! per product the way the edge adapter groups them (over-fetch points, keep each
//! product's best), so both return the same products in the same order.
//!
//! Point ids are UUIDs (version 8, "custom") from a SHA-256 of tenant, product and
//! group: re-indexing a group replaces its point, and two tenants' points never
//! collide. `IndexState` lives in a second small collection (`aisle_index_state`):
//! one head point per tenant and its product hashes split over part points, written
//! under a fresh generation that the head names last, so a reader never sees half a
//! state. `optimize` is a no-op: the server optimises in the background.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use qdrant_client::config::QdrantConfig;
use qdrant_client::qdrant::points_selector::PointsSelectorOneOf;
use qdrant_client::qdrant::r#match::MatchValue;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::vectors_config::Config as VectorsConfigKind;
use qdrant_client::qdrant::with_payload_selector::SelectorOptions;
use qdrant_client::qdrant::{
    Condition, CountPoints, CreateCollection, HnswConfigDiff, SearchParams, CreateFieldIndexCollection, DeletePoints, Distance, FieldType, Filter,
    KeywordIndexParams, Modifier, PayloadIncludeSelector, PayloadIndexParams, PointStruct, PointsSelector,
    PrefetchQuery, Query, QueryPoints, Range, Rrf, ScrollPoints, SparseVectorConfig, SparseVectorParams, UpsertPoints,
    Value, Vector, VectorInput, VectorParams, VectorParamsMap, Vectors, VectorsConfig, WithPayloadSelector,
    payload_index_params,
};
use qdrant_client::{Qdrant, QdrantError};
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use sha2::{Digest, Sha256};

use crate::domain::TenantId;
use crate::ports::vectors::{
    IndexState, ProductPoint, QueryMode, VectorError, VectorFilter, VectorHit, VectorQuery, VectorStore, category_key,
    category_prefixes, option_key,
};

pub const DEFAULT_COLLECTION: &str = "aisle_products";
pub const DEFAULT_STATE_COLLECTION: &str = "aisle_index_state";
const DENSE: &str = "dense";
const SPARSE: &str = "bm25";
/// The state collection's one vector (Qdrant wants a vector config; the state points
/// carry `[1.0]` and are never searched).
const STATE_VECTOR: &str = "none";
/// Candidates each prefetch brings to the fusion, at least (as on qdrant-edge).
const PREFETCH: usize = 100;
/// Points fetched per product wanted, to leave room for a product's other groups.
const OVERFETCH: usize = 3;
/// Upserts are sent in batches of this many points.
const UPSERT_BATCH: usize = 256;
/// Product hashes per index-state part point (each part stays far below gRPC's 4 MiB).
const HASHES_PER_PART: usize = 2_000;
/// Index-state part points read per scroll page.
const PARTS_PER_PAGE: u32 = 8;

/// Where and how to reach the server.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub collection: String,
    pub state_collection: String,
    pub rrf_k: usize,
    pub prefetch: usize,
    /// Per request.
    pub timeout: Duration,
    /// To open a connection.
    pub connect_timeout: Duration,
    pub api_key: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            collection: DEFAULT_COLLECTION.into(),
            state_collection: DEFAULT_STATE_COLLECTION.into(),
            rrf_k: crate::qdrant_edge::RRF_K,
            prefetch: PREFETCH,
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            api_key: None,
        }
    }
}

pub struct QdrantServerStore {
    client: Qdrant,
    url: String,
    dim: usize,
    options: ServerOptions,
    bm25: EdgeBm25,
}

/// The BM25 keyword model both vector-store adapters use: qdrant-edge's `EdgeBm25`
/// with its default configuration (English stemming and stop words, k 1.2, b 0.75).
pub fn bm25_model() -> Result<EdgeBm25, VectorError> {
    EdgeBm25::new(EdgeBm25Config::default()).map_err(|e| VectorError::Backend(format!("BM25 model: {e}")))
}

/// A document's sparse vector: token ids and BM25 term-frequency weights (the server
/// multiplies in the IDF).
pub fn document_vector(bm25: &EdgeBm25, text: &str) -> (Vec<u32>, Vec<f32>) {
    let v = bm25.embed_document(text);
    (v.indices, v.values)
}

/// A query's sparse vector: its distinct token ids, each weighing 1.
pub fn query_vector(bm25: &EdgeBm25, text: &str) -> (Vec<u32>, Vec<f32>) {
    let v = bm25.embed_query(text);
    (v.indices, v.values)
}

/// A UUID (version 8) from a SHA-256 of the parts, each length-prefixed so that
/// `("ab", "c")` and `("a", "bc")` differ.
fn hashed_uuid(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p.as_bytes());
    }
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid().to_string()
}

/// A product point's id: stable for (tenant, product, group), distinct otherwise.
pub fn point_id(tenant: &TenantId, product_id: &str, group: &str) -> String {
    hashed_uuid(&["product", tenant.as_str(), product_id, group])
}

fn keyword(field: &str, value: &str) -> Condition {
    // Always `Keyword`: `MatchValue::from(String)` turns a value with a space
    // ("color=navy blue") into a full-text match.
    Condition::matches(field, MatchValue::Keyword(value.to_string()))
}

fn range(field: &str, range: Range) -> Condition {
    Condition::range(field, range)
}

/// The condition every request of this adapter carries.
pub fn tenant_condition(tenant: &TenantId) -> Condition {
    keyword("tenant_id", tenant.as_str())
}

/// The tenant condition alone.
pub fn tenant_filter(tenant: &TenantId) -> Filter {
    Filter::must([tenant_condition(tenant)])
}

/// A query's filter as a Qdrant filter: the tenant, then the wanted facets (the same
/// translation as the qdrant-edge adapter's, on the same payload).
pub fn filter(tenant: &TenantId, f: &VectorFilter) -> Filter {
    let mut must = vec![tenant_condition(tenant)];
    if let Some(min) = f.min_price_minor {
        must.push(range("price_max", Range { gte: Some(min as f64), ..Default::default() }));
    }
    if let Some(max) = f.max_price_minor {
        must.push(range("price_min", Range { lte: Some(max as f64), ..Default::default() }));
    }
    if let Some(c) = f.category_prefix.as_deref().and_then(category_key) {
        must.push(keyword("category", &c));
    }
    for (k, v) in &f.options {
        must.push(keyword("options", &option_key(k, v)));
    }
    if f.in_stock_only {
        must.push(Condition::matches("in_stock", MatchValue::Boolean(true)));
    }
    if let Some(ids) = &f.product_ids {
        must.push(Condition::matches("product_id", MatchValue::Keywords(qdrant_client::qdrant::RepeatedStrings { strings: ids.clone() })));
    }
    Filter::must(must)
}

fn payload_str(payload: &HashMap<String, Value>, field: &str) -> Option<String> {
    match payload.get(field)?.kind.as_ref()? {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn payload_int(payload: &HashMap<String, Value>, field: &str) -> Option<i64> {
    match payload.get(field)?.kind.as_ref()? {
        Kind::IntegerValue(i) => Some(*i),
        Kind::DoubleValue(d) => Some(*d as i64),
        _ => None,
    }
}

fn include(fields: &[&str]) -> WithPayloadSelector {
    WithPayloadSelector {
        selector_options: Some(SelectorOptions::Include(PayloadIncludeSelector {
            fields: fields.iter().map(|f| f.to_string()).collect(),
        })),
    }
}

fn by_filter(filter: Filter) -> PointsSelector {
    PointsSelector { points_selector_one_of: Some(PointsSelectorOneOf::Filter(filter)) }
}

fn nearest(using: &str, input: VectorInput, filter: &Filter, limit: usize) -> PrefetchQuery {
    PrefetchQuery {
        query: Some(Query::from(input)),
        using: Some(using.to_string()),
        filter: Some(filter.clone()),
        limit: Some(limit as u64),
        params: (using == DENSE).then(search_params),
        ..Default::default()
    }
}

/// The dense search breadth, as on qdrant-edge (`HNSW_EF`, for a graph built at
/// `HNSW_EF_CONSTRUCT`).
fn search_params() -> SearchParams {
    SearchParams { hnsw_ef: Some(crate::qdrant_edge::HNSW_EF as u64), ..Default::default() }
}

impl QdrantServerStore {
    /// Connects to the server at `url` (gRPC, e.g. `http://localhost:6334`), checks
    /// that it answers and creates the collections and payload indexes it lacks. A
    /// collection made for another dense dimension is refused.
    pub async fn connect(url: &str, dim: usize) -> Result<Self, VectorError> {
        Self::connect_with(url, dim, ServerOptions::default()).await
    }

    pub async fn connect_with(url: &str, dim: usize, options: ServerOptions) -> Result<Self, VectorError> {
        let mut config = QdrantConfig::from_url(url).skip_compatibility_check();
        config.set_timeout(options.timeout);
        config.set_connect_timeout(options.connect_timeout);
        if let Some(key) = &options.api_key {
            config.set_api_key(key);
        }
        let client =
            Qdrant::new(config).map_err(|e| VectorError::Backend(format!("invalid Qdrant server URL {url:?}: {e}")))?;
        let store = Self { client, url: url.to_string(), dim, options, bm25: bm25_model()? };
        let wait = store.options.connect_timeout + store.options.timeout;
        match tokio::time::timeout(wait, store.client.health_check()).await {
            Err(_) => {
                return Err(VectorError::Backend(format!(
                    "cannot reach the Qdrant server at {url}: no answer within {} ms",
                    wait.as_millis()
                )));
            }
            Ok(Err(e)) => return Err(store.error("health check", e)),
            Ok(Ok(_)) => {}
        }
        store.ensure_collections().await?;
        Ok(store)
    }

    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    /// Drops both collections with every tenant's points (tests; never called by Aisle).
    pub async fn drop_collections(&self) -> Result<(), VectorError> {
        for name in [&self.options.collection, &self.options.state_collection] {
            self.client.delete_collection(name.as_str()).await.map_err(|e| self.error("delete collection", e))?;
        }
        Ok(())
    }

    fn error(&self, doing: &str, e: QdrantError) -> VectorError {
        let url = &self.url;
        if let QdrantError::ResponseError { status } = &e {
            let code = status.code();
            let unreachable = matches!(code as i32, GRPC_UNAVAILABLE | GRPC_DEADLINE_EXCEEDED)
                || (code as i32 == GRPC_INTERNAL && status.message().starts_with("Failed to connect"));
            if unreachable {
                return VectorError::Backend(format!("cannot reach the Qdrant server at {url} ({doing}): {}", status.message()));
            }
            return VectorError::Backend(format!("Qdrant server at {url}: {doing} failed: {code:?}: {}", status.message()));
        }
        VectorError::Backend(format!("Qdrant server at {url}: {doing} failed: {e}"))
    }

    async fn ensure_collections(&self) -> Result<(), VectorError> {
        let products = &self.options.collection;
        let dense = VectorParams { size: self.dim as u64, distance: Distance::Cosine.into(), ..Default::default() };
        let sparse = SparseVectorParams { modifier: Some(Modifier::Idf.into()), index: None };
        self.ensure_collection(CreateCollection {
            collection_name: products.clone(),
            vectors_config: Some(named_vectors(DENSE, dense)),
            sparse_vectors_config: Some(SparseVectorConfig { map: HashMap::from([(SPARSE.to_string(), sparse)]) }),
            hnsw_config: Some(HnswConfigDiff {
                ef_construct: Some(crate::qdrant_edge::HNSW_EF_CONSTRUCT as u64),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?;
        let (have, indexed) = self.describe(products).await?;
        if have != Some(self.dim as u64) {
            return Err(VectorError::Dimension { expected: self.dim, got: have.unwrap_or(0) as usize });
        }
        let indexes = [
            ("product_id", FieldType::Keyword),
            ("category", FieldType::Keyword),
            ("options", FieldType::Keyword),
            ("in_stock", FieldType::Bool),
            ("price_min", FieldType::Integer),
            ("price_max", FieldType::Integer),
            ("catalog_version", FieldType::Integer),
        ];
        self.ensure_indexes(products, &indexes, &indexed).await?;

        let state = &self.options.state_collection;
        let one = VectorParams { size: 1, distance: Distance::Dot.into(), ..Default::default() };
        self.ensure_collection(CreateCollection {
            collection_name: state.clone(),
            vectors_config: Some(named_vectors(STATE_VECTOR, one)),
            ..Default::default()
        })
        .await?;
        let (_, indexed) = self.describe(state).await?;
        self.ensure_indexes(state, &[("kind", FieldType::Keyword), ("generation", FieldType::Keyword)], &indexed).await
    }

    /// Creates the collection unless it exists (another process may create it at the
    /// same moment: then it exists after all).
    async fn ensure_collection(&self, create: CreateCollection) -> Result<(), VectorError> {
        let name = create.collection_name.clone();
        if self.exists(&name).await? {
            return Ok(());
        }
        match self.client.create_collection(create).await {
            Ok(_) => Ok(()),
            Err(_) if self.exists(&name).await? => Ok(()),
            Err(e) => Err(self.error(&format!("create collection {name}"), e)),
        }
    }

    async fn exists(&self, name: &str) -> Result<bool, VectorError> {
        self.client.collection_exists(name).await.map_err(|e| self.error(&format!("look up collection {name}"), e))
    }

    /// An existing collection's `dense` vector size and the payload fields it indexes.
    async fn describe(&self, name: &str) -> Result<(Option<u64>, Vec<String>), VectorError> {
        let info = self.client.collection_info(name).await.map_err(|e| self.error(&format!("read collection {name}"), e))?;
        let info = info.result.unwrap_or_default();
        let indexed = info.payload_schema.keys().cloned().collect();
        let config = info.config.and_then(|c| c.params).and_then(|p| p.vectors_config);
        let dense = match config.and_then(|c| c.config) {
            Some(VectorsConfigKind::ParamsMap(m)) => m.map.get(DENSE).map(|p| p.size),
            _ => None,
        };
        Ok((dense, indexed))
    }

    /// The `tenant_id` keyword index marked `is_tenant`, then the others, each unless
    /// the collection has it already.
    async fn ensure_indexes(&self, collection: &str, indexes: &[(&str, FieldType)], indexed: &[String]) -> Result<(), VectorError> {
        let tenant = KeywordIndexParams { is_tenant: Some(true), ..Default::default() };
        let mut all: Vec<(&str, FieldType, Option<PayloadIndexParams>)> = vec![(
            "tenant_id",
            FieldType::Keyword,
            Some(PayloadIndexParams { index_params: Some(payload_index_params::IndexParams::KeywordIndexParams(tenant)) }),
        )];
        all.extend(indexes.iter().map(|(f, t)| (*f, *t, None)));
        for (field, kind, params) in all {
            if indexed.iter().any(|f| f == field) {
                continue;
            }
            let request = CreateFieldIndexCollection {
                collection_name: collection.to_string(),
                wait: Some(true),
                field_name: field.to_string(),
                field_type: Some(kind.into()),
                field_index_params: params,
                ..Default::default()
            };
            self.client
                .create_field_index(request)
                .await
                .map_err(|e| self.error(&format!("create index {collection}.{field}"), e))?;
        }
        Ok(())
    }

    async fn delete_where(&self, filter: Filter, doing: &str) -> Result<(), VectorError> {
        let request = DeletePoints {
            collection_name: self.options.collection.clone(),
            wait: Some(true),
            points: Some(by_filter(filter)),
            ..Default::default()
        };
        self.client.delete_points(request).await.map(|_| ()).map_err(|e| self.error(doing, e))
    }

    /// Points of the state collection matching the filter, every page.
    async fn scroll_state(&self, filter: Filter) -> Result<Vec<HashMap<String, Value>>, VectorError> {
        let mut out = Vec::new();
        let mut offset = None;
        loop {
            let request = ScrollPoints {
                collection_name: self.options.state_collection.clone(),
                filter: Some(filter.clone()),
                offset: offset.take(),
                limit: Some(PARTS_PER_PAGE),
                with_payload: Some(WithPayloadSelector { selector_options: Some(SelectorOptions::Enable(true)) }),
                ..Default::default()
            };
            let page = self.client.scroll(request).await.map_err(|e| self.error("read index state", e))?;
            out.extend(page.result.into_iter().map(|p| p.payload));
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(out),
            }
        }
    }

    async fn upsert_state(&self, points: Vec<PointStruct>) -> Result<(), VectorError> {
        for batch in points.chunks(PARTS_PER_PAGE as usize) {
            let request = UpsertPoints {
                collection_name: self.options.state_collection.clone(),
                wait: Some(true),
                points: batch.to_vec(),
                ..Default::default()
            };
            self.client.upsert_points(request).await.map_err(|e| self.error("write index state", e))?;
        }
        Ok(())
    }
}

/// A product point as the server stores it: both vectors, the payload the filters
/// read (the same fields as on qdrant-edge) and its tenant.
fn point_struct(dim: usize, bm25: &EdgeBm25, tenant: &TenantId, p: &ProductPoint) -> Result<PointStruct, VectorError> {
    if p.dense.len() != dim {
        return Err(VectorError::Dimension { expected: dim, got: p.dense.len() });
    }
    let f = &p.facets;
    let payload: HashMap<String, Value> = HashMap::from([
        ("tenant_id".to_string(), Value::from(tenant.as_str())),
        ("product_id".to_string(), Value::from(p.product_id.as_str())),
        ("group".to_string(), Value::from(p.group.as_str())),
        ("price_min".to_string(), Value::from(f.price_min_minor)),
        ("price_max".to_string(), Value::from(f.price_max_minor)),
        ("category".to_string(), Value::from(category_prefixes(&f.category))),
        ("options".to_string(), Value::from(f.options.iter().map(|(k, v)| option_key(k, v)).collect::<Vec<_>>())),
        ("in_stock".to_string(), Value::from(f.in_stock)),
        ("catalog_version".to_string(), Value::from(p.catalog_version)),
    ]);
    let (indices, values) = document_vector(bm25, &p.text);
    let vectors = HashMap::from([
        (DENSE.to_string(), Vector::new_dense(p.dense.clone())),
        (SPARSE.to_string(), Vector::new_sparse(indices, values)),
    ]);
    Ok(PointStruct {
        id: Some(point_id(tenant, &p.product_id, &p.group).into()),
        payload,
        vectors: Some(Vectors::from(vectors)),
    })
}

/// The points query for `points` points, or `None` when nothing can match (a keyword
/// query without a word the model knows). The tenant's filter is the query's and
/// each prefetch's.
fn query_request(
options: &ServerOptions,
dim: usize,
bm25: &EdgeBm25,
tenant: &TenantId,
q: &VectorQuery,
points: usize,
) -> Result<Option<QueryPoints>, VectorError> {
    let filter = filter(tenant, &q.filter);
    let dense = || -> Result<VectorInput, VectorError> {
        if q.dense.len() != dim {
            return Err(VectorError::Dimension { expected: dim, got: q.dense.len() });
        }
        Ok(VectorInput::new_dense(q.dense.clone()))
    };
    let (indices, values) = query_vector(bm25, &q.text);
    let no_words = indices.is_empty();
    let sparse = VectorInput::new_sparse(indices, values);
    let mut request = QueryPoints {
        collection_name: options.collection.clone(),
        filter: Some(filter.clone()),
        limit: Some(points as u64),
        with_payload: Some(include(&["product_id", "group"])),
        ..Default::default()
    };
    match q.mode {
        QueryMode::Dense => {
            request.query = Some(Query::from(dense()?));
            request.using = Some(DENSE.to_string());
            request.params = Some(search_params());
        }
        QueryMode::Keyword if no_words => return Ok(None),
        QueryMode::Keyword => {
            request.query = Some(Query::from(sparse));
            request.using = Some(SPARSE.to_string());
        }
        QueryMode::Hybrid => {
            let limit = options.prefetch.max(points);
            request.prefetch.push(nearest(DENSE, dense()?, &filter, limit));
            // An empty sparse query finds nothing on qdrant-edge; leave it out
            // rather than ask the server to search with no term.
            if !no_words {
                request.prefetch.push(nearest(SPARSE, sparse, &filter, limit));
            }
            request.query = Some(Query::new_rrf(Rrf { k: Some(options.rrf_k as u32), weights: vec![] }));
        }
    }
    Ok(Some(request))
}

fn named_vectors(name: &str, params: VectorParams) -> VectorsConfig {
    VectorsConfig {
        config: Some(VectorsConfigKind::ParamsMap(VectorParamsMap { map: HashMap::from([(name.to_string(), params)]) })),
    }
}

fn state_point(id: String, payload: HashMap<String, Value>) -> PointStruct {
    let vectors = HashMap::from([(STATE_VECTOR.to_string(), Vector::new_dense(vec![1.0]))]);
    PointStruct { id: Some(id.into()), payload, vectors: Some(Vectors::from(vectors)) }
}

// gRPC status codes (fixed by the gRPC spec; `qdrant-client` does not re-export
// tonic's `Code`). The client reports a refused connection as `INTERNAL` "Failed to
// connect …".
const GRPC_DEADLINE_EXCEEDED: i32 = 4;
const GRPC_INTERNAL: i32 = 13;
const GRPC_UNAVAILABLE: i32 = 14;

#[async_trait]
impl VectorStore for QdrantServerStore {
    /// Looks up the products collection: it needs the server up and the API key right
    /// (a bare health check answers without a key).
    async fn ping(&self) -> Result<(), VectorError> {
        match self.exists(&self.options.collection).await? {
            true => Ok(()),
            false => Err(VectorError::Backend(format!("Qdrant server at {}: collection {} is gone", self.url, self.options.collection))),
        }
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn upsert(&self, tenant: &TenantId, points: Vec<ProductPoint>) -> Result<(), VectorError> {
        // Every point is checked before the first batch goes out.
        let points: Vec<PointStruct> = points.iter().map(|p| point_struct(self.dim, &self.bm25, tenant, p)).collect::<Result<_, _>>()?;
        for batch in points.chunks(UPSERT_BATCH) {
            let request = UpsertPoints {
                collection_name: self.options.collection.clone(),
                wait: Some(true),
                points: batch.to_vec(),
                ..Default::default()
            };
            self.client.upsert_points(request).await.map_err(|e| self.error("upsert points", e))?;
        }
        Ok(())
    }

    async fn delete_products(&self, tenant: &TenantId, product_ids: &[String]) -> Result<(), VectorError> {
        if product_ids.is_empty() {
            return Ok(());
        }
        let ids = VectorFilter { product_ids: Some(product_ids.to_vec()), ..Default::default() };
        self.delete_where(filter(tenant, &ids), "delete products").await
    }

    async fn delete_older_than(&self, tenant: &TenantId, version: i64) -> Result<(), VectorError> {
        let older = range("catalog_version", Range { lt: Some(version as f64), ..Default::default() });
        self.delete_where(Filter::must([tenant_condition(tenant), older]), "delete old points").await
    }

    async fn optimize(&self, _tenant: &TenantId) -> Result<(), VectorError> {
        // The server's optimizer builds the indexes in the background.
        Ok(())
    }

    async fn query(&self, tenant: &TenantId, q: &VectorQuery) -> Result<Vec<VectorHit>, VectorError> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let mut points = q.limit.saturating_mul(OVERFETCH);
        loop {
            let Some(request) = query_request(&self.options, self.dim, &self.bm25, tenant, q, points)? else { return Ok(Vec::new()) };
            let found = self.client.query(request).await.map_err(|e| self.error("query", e))?.result;
            let exhausted = found.len() < points;
            let mut hits: Vec<VectorHit> = Vec::with_capacity(q.limit);
            for p in found {
                let Some(product_id) = payload_str(&p.payload, "product_id") else { continue };
                if hits.iter().any(|h| h.product_id == product_id) {
                    continue;
                }
                let group = payload_str(&p.payload, "group").unwrap_or_default();
                hits.push(VectorHit { product_id, group, score: p.score });
                if hits.len() == q.limit {
                    return Ok(hits);
                }
            }
            // Too many groups of the same products: fetch deeper, unless that was all.
            if exhausted || points >= q.limit.saturating_mul(64) {
                return Ok(hits);
            }
            points = points.saturating_mul(4);
        }
    }

    async fn count(&self, tenant: &TenantId) -> Result<usize, VectorError> {
        let request = CountPoints {
            collection_name: self.options.collection.clone(),
            filter: Some(tenant_filter(tenant)),
            exact: Some(true),
            ..Default::default()
        };
        let response = self.client.count(request).await.map_err(|e| self.error("count points", e))?;
        Ok(response.result.map(|r| r.count as usize).unwrap_or(0))
    }

    async fn index_state(&self, tenant: &TenantId) -> Result<Option<IndexState>, VectorError> {
        let heads = self.scroll_state(Filter::must([tenant_condition(tenant), keyword("kind", "head")])).await?;
        let Some(head) = heads.into_iter().find(|p| payload_str(p, "tenant_id").as_deref() == Some(tenant.as_str())) else {
            return Ok(None);
        };
        let (Some(json), Some(generation), Some(parts)) =
            (payload_str(&head, "state"), payload_str(&head, "generation"), payload_int(&head, "parts"))
        else {
            return Ok(None);
        };
        // Unreadable as a state (another version wrote it): none, so it is rebuilt.
        let Ok(mut state) = serde_json::from_str::<IndexState>(&json) else { return Ok(None) };
        let wanted = Filter::must([tenant_condition(tenant), keyword("kind", "part"), keyword("generation", &generation)]);
        let found = self.scroll_state(wanted).await?;
        if found.len() as i64 != parts {
            tracing::warn!(%tenant, parts, found = found.len(), "index state incomplete on the Qdrant server; re-indexing");
            return Ok(None);
        }
        for part in found {
            let Some(hashes) = payload_str(&part, "hashes") else { return Ok(None) };
            let Ok(hashes) = serde_json::from_str::<BTreeMap<String, String>>(&hashes) else { return Ok(None) };
            state.hashes.extend(hashes);
        }
        Ok(Some(state))
    }

    async fn set_index_state(&self, tenant: &TenantId, state: &IndexState) -> Result<(), VectorError> {
        let generation = uuid::Uuid::new_v4().simple().to_string();
        let entries: Vec<(&String, &String)> = state.hashes.iter().collect();
        let mut parts: Vec<PointStruct> = Vec::new();
        for (i, chunk) in entries.chunks(HASHES_PER_PART).enumerate() {
            let map: BTreeMap<&String, &String> = chunk.iter().copied().collect();
            let json = serde_json::to_string(&map).map_err(|e| VectorError::Backend(e.to_string()))?;
            let id = hashed_uuid(&["index-state-part", tenant.as_str(), &generation, &i.to_string()]);
            parts.push(state_point(
                id,
                HashMap::from([
                    ("tenant_id".to_string(), Value::from(tenant.as_str())),
                    ("kind".to_string(), Value::from("part")),
                    ("generation".to_string(), Value::from(generation.as_str())),
                    ("hashes".to_string(), Value::from(json)),
                ]),
            ));
        }
        let n = parts.len() as i64;
        // The parts first, then the head that names their generation: a reader sees
        // the old state or the new one, whole.
        self.upsert_state(parts).await?;
        let head = IndexState { hashes: BTreeMap::new(), ..state.clone() };
        let json = serde_json::to_string(&head).map_err(|e| VectorError::Backend(e.to_string()))?;
        let head = state_point(
            hashed_uuid(&["index-state-head", tenant.as_str()]),
            HashMap::from([
                ("tenant_id".to_string(), Value::from(tenant.as_str())),
                ("kind".to_string(), Value::from("head")),
                ("generation".to_string(), Value::from(generation.as_str())),
                ("parts".to_string(), Value::from(n)),
                ("state".to_string(), Value::from(json)),
            ]),
        );
        self.upsert_state(vec![head]).await?;
        // Then the parts of older generations go.
        let stale = Filter {
            must: vec![tenant_condition(tenant), keyword("kind", "part")],
            must_not: vec![keyword("generation", &generation)],
            ..Default::default()
        };
        let request = DeletePoints {
            collection_name: self.options.state_collection.clone(),
            wait: Some(true),
            points: Some(by_filter(stale)),
            ..Default::default()
        };
        self.client.delete_points(request).await.map(|_| ()).map_err(|e| self.error("delete old index state", e))
    }
}

#[cfg(test)]
#[path = "qdrant_server_tests.rs"]
mod tests;
