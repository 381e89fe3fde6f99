//! The embedded `VectorStore`: qdrant-edge in process, one on-disk shard per tenant
//! under a root folder (`{AISLE_DATA_DIR}/vectors/tenant-{id}`), so one tenant's query
//! cannot reach another's points: they are not in the same index.
//!
//! Each point has a dense vector (`dense`, cosine) and a BM25 keyword vector
//! (`bm25`, sparse with `Modifier::Idf`, made by qdrant-edge's own `EdgeBm25` from the
//! point's text, English stemming and stop words). A `Hybrid` query searches both
//! (payload filters apply to both), groups each list per product and fuses the two by
//! reciprocal rank; `HybridRetriever` fuses the two single-list queries itself
//! (`ports::vectors::convex_hybrid`, through `query_many`: one blocking call). Results
//! are grouped per product here (qdrant-edge 0.7.2 has no group-by): a query
//! over-fetches points and keeps each product's best.
//!
//! Searches read no payload: a point's id is a hash of its product id and group, so
//! the store remembers `id → (product, group)` (a payload read is a decompression and
//! a JSON parse of every filter field; it was most of a query's time). The HNSW search
//! build and search breadths are `HNSW_EF_CONSTRUCT` and `HNSW_EF` (recall against an
//! exact scan: `loadtests/RETRIEVAL.md`).
//!
//! qdrant-edge is synchronous and blocking: every call runs in `spawn_blocking`.
//! Shards stay open once opened (the WAL holds a lock on the folder); dropping the
//! store flushes them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json::{Value, json};
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams, EdgeVectorParams,
    FieldCondition, FieldIndexOperations, Filter, JsonPath, Match, Modifier, NamedQuery, NamedVectors,
    PayloadFieldSchema, PayloadSchemaType, PointInsertOperations, PointOperations, PointStruct,
    QueryEnum, QueryRequest, Range, ScoringQuery, SparseVector, UpdateOperation, ValueVariants, VectorInternal,
    WithPayloadInterface, WithVector,
};

use crate::domain::TenantId;
use crate::ports::vectors::{
    IndexState, ProductPoint, QueryMode, VectorError, VectorFilter, VectorHit, VectorQuery, VectorStore, category_key,
    category_prefixes, option_key,
};

const DENSE: &str = "dense";
const SPARSE: &str = "bm25";
const STATE_FILE: &str = "aisle-index.json";
/// The RRF constant: a candidate at 0-based rank `r` in one list adds `1 / (r + k)`.
pub const RRF_K: usize = 60;
/// Candidates each prefetch brings to the fusion, at least.
const PREFETCH: usize = 100;
/// HNSW build breadth. qdrant's default (100) builds a graph that needs a search
/// breadth of 512 to find 96–98 % of the exact dense top 10 on the 50,000-product
/// benchmark catalog; a graph built at 256 finds 97–98 % at a search breadth of 256,
/// for a faster query (hybrid p95 1.9–2.1 → 1.5–1.7 ms) and a slower import
/// (31 → 40 s). Both: loadtests/RETRIEVAL.md. It applies to graphs built from now on;
/// a shard keeps the configuration it was made with, and one built coarser is
/// searched at `LEGACY_HNSW_EF`.
pub const HNSW_EF_CONSTRUCT: usize = 256;
/// HNSW search breadth (see `HNSW_EF_CONSTRUCT`).
pub const HNSW_EF: usize = 256;
/// The search breadth for a graph built at qdrant's default breadth (100), as shards
/// made before `HNSW_EF_CONSTRUCT` was raised are: 512 keeps their recall at ≥ 0.95.
const LEGACY_HNSW_EF: usize = 512;
/// Points fetched per product wanted, to leave room for a product's other groups,
/// while the store does not yet know how many groups the tenant's products have.
const OVERFETCH: usize = 2;
/// Room left above the expected number of points (`limit` × groups per product): a
/// query's top points can hold more groups of the same products than the average.
const OVERFETCH_SLACK: f64 = 1.15;
/// With quantised vectors: candidates scored on the `int8` copy per result kept after
/// rescoring with the originals.
const QUANTIZED_OVERSAMPLING: f64 = 2.0;
/// Upserts are sent in batches of this many points.
const UPSERT_BATCH: usize = 512;

/// Tunables, mostly for benchmarks.
#[derive(Clone, Debug)]
pub struct EdgeOptions {
    pub rrf_k: usize,
    pub prefetch: usize,
    /// HNSW search breadth; `None` keeps qdrant's default (the build breadth).
    pub hnsw_ef: Option<usize>,
    /// Store vectors on disk (mmap) rather than in RAM.
    pub on_disk: bool,
    /// HNSW graph degree and build breadth; `None` keeps qdrant's defaults (16, 100).
    pub hnsw_m: Option<usize>,
    pub hnsw_ef_construct: Option<usize>,
    /// Store payloads on disk (mmap) rather than in RAM.
    pub payload_on_disk: bool,
    /// Segments the optimiser merges down to; `None` keeps qdrant's default (one per
    /// two CPUs, at least 2).
    pub segments: Option<usize>,
    /// Keep an `int8` scalar-quantised copy of the dense vectors (in RAM) for the
    /// HNSW search, rescored with the original vectors.
    pub quantize: bool,
    /// Dense search by a full scan instead of the HNSW graph (of the quantised copy
    /// when there is one).
    pub exact: bool,
    /// Points fetched per product wanted; `None` sizes the fetch by the tenant's
    /// average groups per product (`OVERFETCH_SLACK` above it).
    pub overfetch: Option<usize>,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self {
            rrf_k: RRF_K,
            prefetch: PREFETCH,
            hnsw_ef: Some(HNSW_EF),
            on_disk: true,
            hnsw_m: None,
            hnsw_ef_construct: Some(HNSW_EF_CONSTRUCT),
            payload_on_disk: true,
            segments: None,
            quantize: false,
            exact: false,
            overfetch: None,
        }
    }
}

pub struct QdrantEdgeStore {
    root: PathBuf,
    dim: usize,
    options: EdgeOptions,
    bm25: Arc<EdgeBm25>,
    shards: Mutex<HashMap<TenantId, Arc<EdgeShard>>>,
    /// Per tenant, point id → its product and group. A point's id is a hash of exactly
    /// these two (`point_id`), so an entry is never stale; it spares searches reading
    /// payloads (a payload read is a decompression and a JSON parse of every filter
    /// field, tens of microseconds). Filled by upserts and by reads of points not yet
    /// seen (after a restart).
    names: Mutex<HashMap<TenantId, SharedNames>>,
}

/// A point's product id and group.
type Name = (Arc<str>, Arc<str>);
type SharedNames = Arc<std::sync::RwLock<Names>>;

/// A tenant's known points, and how many groups each product has among them.
#[derive(Default)]
struct Names {
    points: HashMap<u64, Name>,
    groups: HashMap<Arc<str>, u32>,
}

impl Names {
    fn insert(&mut self, id: u64, name: Name) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.points.entry(id) {
            *self.groups.entry(name.0.clone()).or_default() += 1;
            e.insert(name);
        }
    }

    fn get(&self, id: u64) -> Option<&Name> {
        self.points.get(&id)
    }

    /// Points per product among the known ones (at least 1); `None` before any is known.
    fn groups_per_product(&self) -> Option<f64> {
        (!self.groups.is_empty()).then(|| (self.points.len() as f64 / self.groups.len() as f64).max(1.0))
    }
}

/// Entries kept per tenant before the name cache starts over (it refills on demand).
const NAMES_MAX: usize = 2_000_000;

impl Drop for QdrantEdgeStore {
    /// A shard flushes when dropped and panics if it cannot; when the whole folder is
    /// already gone (a test's temporary directory removed before the runtime that
    /// held the store shut down) there is nothing left to flush into, so the shards
    /// are let go without flushing.
    fn drop(&mut self) {
        if !self.root.exists() {
            let shards = std::mem::take(self.shards.get_mut().unwrap_or_else(|p| p.into_inner()));
            for (_, shard) in shards {
                std::mem::forget(shard);
            }
        }
    }
}

fn backend(e: impl std::fmt::Display) -> VectorError {
    VectorError::Backend(e.to_string())
}

/// A point's id: FNV-1a of product id and group, so re-indexing replaces it.
pub fn point_id(product_id: &str, group: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in product_id.bytes().chain([0x1f]).chain(group.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A payload field's path. Only called with this file's constant field names.
fn key(name: &'static str) -> JsonPath {
    JsonPath::try_from(name).unwrap_or_else(|_| panic!("{name} is a valid payload path"))
}

fn keyword(field: &'static str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(key(field), Match::new_value(ValueVariants::String(value.to_string()))))
}

impl QdrantEdgeStore {
    /// A store keeping each tenant's shard under `root`; `dim` is the dense vectors'
    /// length (a shard made for another length is refused when opened).
    pub fn open(root: impl Into<PathBuf>, dim: usize) -> Result<Self, VectorError> {
        Self::with_options(root, dim, EdgeOptions::default())
    }

    pub fn with_options(root: impl Into<PathBuf>, dim: usize, options: EdgeOptions) -> Result<Self, VectorError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| VectorError::Io { path: root.display().to_string(), reason: e.to_string() })?;
        let bm25 = EdgeBm25::new(EdgeBm25Config::default()).map_err(backend)?;
        Ok(Self { root, dim, options, bm25: Arc::new(bm25), shards: Mutex::new(HashMap::new()), names: Mutex::new(HashMap::new()) })
    }

    /// Changes the search-time options (HNSW breadth, full scan) of an open store.
    pub fn set_search(&mut self, hnsw_ef: Option<usize>, exact: bool) {
        self.options.hnsw_ef = hnsw_ef;
        self.options.exact = exact;
    }

    /// The tenant's shard layout: segments, points, and vectors in an HNSW index.
    pub async fn layout(&self, tenant: &TenantId) -> Result<(usize, usize, usize), VectorError> {
        self.blocking(tenant, |shard| {
            let info = shard.info();
            Ok((info.segments_count, info.points_count, info.indexed_vectors_count))
        })
        .await
    }

    fn tenant_dir(&self, tenant: &TenantId) -> PathBuf {
        // Tenant ids are [A-Za-z0-9_.-]; the prefix keeps `..` an ordinary name.
        self.root.join(format!("tenant-{tenant}"))
    }

    /// The tenant's open shard, created on first use.
    async fn shard(&self, tenant: &TenantId) -> Result<Arc<EdgeShard>, VectorError> {
        if let Some(s) = self.shards.lock().map_err(backend)?.get(tenant) {
            return Ok(s.clone());
        }
        let dir = self.tenant_dir(tenant);
        let config = self.config();
        let dim = self.dim;
        let opened = tokio::task::spawn_blocking(move || open_shard(&dir, config, dim)).await.map_err(backend)??;
        let mut map = self.shards.lock().map_err(backend)?;
        // Another task may have opened it meanwhile; keep the first (one per folder).
        Ok(map.entry(tenant.clone()).or_insert_with(|| Arc::new(opened)).clone())
    }

    fn config(&self) -> EdgeConfig {
        let defaults = qdrant_edge::HnswIndexConfig::default();
        let hnsw = qdrant_edge::HnswIndexConfig {
            m: self.options.hnsw_m.unwrap_or(defaults.m),
            ef_construct: self.options.hnsw_ef_construct.unwrap_or(defaults.ef_construct),
            ..defaults
        };
        let optimizers = qdrant_edge::EdgeOptimizersConfig { default_segment_number: self.options.segments, ..Default::default() };
        let mut builder = EdgeConfig::builder()
            .hnsw_config(hnsw)
            .on_disk_payload(self.options.payload_on_disk)
            .optimizers(optimizers)
            .vector(DENSE, EdgeVectorParams::builder(self.dim, Distance::Cosine).on_disk(self.options.on_disk).build())
            .sparse_vector(SPARSE, EdgeSparseVectorParams::builder().modifier(Modifier::Idf).build());
        if self.options.quantize {
            builder = builder.quantization_config(qdrant_edge::QuantizationConfig::from(qdrant_edge::ScalarQuantizationConfig {
                r#type: qdrant_edge::ScalarType::Int8,
                quantile: Some(0.99),
                always_ram: Some(true),
            }));
        }
        builder.build()
    }

    async fn blocking<T: Send + 'static>(
        &self,
        tenant: &TenantId,
        f: impl FnOnce(&EdgeShard) -> Result<T, VectorError> + Send + 'static,
    ) -> Result<T, VectorError> {
        let shard = self.shard(tenant).await?;
        tokio::task::spawn_blocking(move || f(&shard)).await.map_err(backend)?
    }

    fn to_point(&self, tenant: &TenantId, p: &ProductPoint) -> Result<PointStruct, VectorError> {
        if p.dense.len() != self.dim {
            return Err(VectorError::Dimension { expected: self.dim, got: p.dense.len() });
        }
        let f = &p.facets;
        let payload = json!({
            "tenant_id": tenant.as_str(),
            "product_id": p.product_id,
            "group": p.group,
            "price_min": f.price_min_minor,
            "price_max": f.price_max_minor,
            "category": category_prefixes(&f.category),
            "options": f.options.iter().map(|(k, v)| option_key(k, v)).collect::<Vec<_>>(),
            "in_stock": f.in_stock,
            "catalog_version": p.catalog_version,
        });
        let sparse = self.bm25.embed_document(&p.text);
        let vectors = NamedVectors::default().add_vector(DENSE, p.dense.clone()).add_vector(SPARSE, sparse);
        Ok(PointStruct::new(point_id(&p.product_id, &p.group), vectors, payload))
    }

    /// The query's filter as a qdrant filter (`None` when it has no condition). No
    /// tenant condition: the shard holds one tenant's points only, and a filter that
    /// every point passes would only slow the search down (the points still carry
    /// `tenant_id`, as on a Qdrant server where it is the partition key).
    fn filter(f: &VectorFilter) -> Option<Filter> {
        let mut must: Vec<Condition> = Vec::new();
        let range = |field: &'static str, gte: Option<i64>, lte: Option<i64>| {
            Condition::Field(FieldCondition::new_range(
                key(field),
                Range { gte: gte.map(|x| OrderedFloat(x as f64)), lte: lte.map(|x| OrderedFloat(x as f64)), lt: None, gt: None },
            ))
        };
        if let Some(min) = f.min_price_minor {
            must.push(range("price_max", Some(min), None));
        }
        if let Some(max) = f.max_price_minor {
            must.push(range("price_min", None, Some(max)));
        }
        if let Some(c) = f.category_prefix.as_deref().and_then(category_key) {
            must.push(keyword("category", &c));
        }
        for (k, v) in &f.options {
            must.push(keyword("options", &option_key(k, v)));
        }
        if f.in_stock_only {
            must.push(Condition::Field(FieldCondition::new_match(key("in_stock"), Match::new_value(ValueVariants::Bool(true)))));
        }
        if let Some(ids) = &f.product_ids {
            must.push(Condition::Field(FieldCondition::new_match(key("product_id"), Match::from(ids.clone()))));
        }
        (!must.is_empty()).then_some(Filter { must: Some(must), should: None, min_should: None, must_not: None })
    }

    /// One list's request: the `points` nearest to `query`, with the fields grouping needs.
    fn single(&self, query: ScoringQuery, filter: Option<Filter>, points: usize) -> QueryRequest {
        QueryRequest {
            prefetches: vec![],
            query: Some(query),
            filter,
            score_threshold: None,
            limit: points,
            offset: 0,
            // Set by `search`, from the shard's graph.
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(false),
        }
    }

    fn names(&self, tenant: &TenantId) -> Result<SharedNames, VectorError> {
        Ok(self.names.lock().map_err(backend)?.entry(tenant.clone()).or_default().clone())
    }

    /// How many points to fetch for `limit` products: by the tenant's average groups per
    /// product once the store knows some of its points (a catalog of one group per
    /// product needs about `limit`; each point returned costs qdrant an id lookup and
    /// a record, ~1 µs, loadtests/RETRIEVAL.md), else `OVERFETCH` per product.
    fn points_for(&self, tenant: &TenantId, limit: usize) -> Result<usize, VectorError> {
        if let Some(k) = self.options.overfetch {
            return Ok(limit.saturating_mul(k));
        }
        let names = self.names(tenant)?;
        let ratio = names.read().map_err(backend)?.groups_per_product();
        Ok(match ratio {
            // Float to int saturates; `limit` is at most a few thousand.
            Some(r) => ((limit as f64) * r * OVERFETCH_SLACK).ceil() as usize + 2,
            None => limit.saturating_mul(OVERFETCH),
        })
    }

    /// Changes how many points are fetched per product wanted (`None`: adaptive).
    pub fn set_overfetch(&mut self, overfetch: Option<usize>) {
        self.options.overfetch = overfetch;
    }

    fn remember(&self, tenant: &TenantId, new: impl IntoIterator<Item = (u64, Name)>) -> Result<(), VectorError> {
        let names = self.names(tenant)?;
        let mut names = names.write().map_err(backend)?;
        if names.points.len() > NAMES_MAX {
            *names = Names::default();
        }
        for (id, name) in new {
            names.insert(id, name);
        }
        Ok(())
    }

    /// Runs the requests in one blocking call and names their points (reading the
    /// payloads of points the cache does not know).
    async fn search(&self, tenant: &TenantId, requests: Vec<QueryRequest>) -> Result<Vec<Vec<Found>>, VectorError> {
        let names = self.names(tenant)?;
        let options = self.options.clone();
        let (lists, learned) = self
            .blocking(tenant, move |shard| {
                let params = search_params(&options, shard.config().hnsw_config.ef_construct);
                let mut lists = Vec::with_capacity(requests.len());
                for mut r in requests {
                    r.params = params;
                    lists.push(shard.query(r).map_err(backend)?);
                }
                let names = names.read().map_err(backend)?;
                let unknown: Vec<qdrant_edge::PointId> = lists
                    .iter()
                    .flatten()
                    .filter(|p| num_id(&p.id).is_none_or(|id| names.get(id).is_none()))
                    .map(|p| p.id)
                    .collect();
                let mut learned: HashMap<u64, Name> = HashMap::new();
                if !unknown.is_empty() {
                    let fields = WithPayloadInterface::Fields(vec![key("product_id"), key("group")]);
                    for r in shard.retrieve(&unknown, Some(fields), None).map_err(backend)? {
                        let (Some(id), Some(product)) = (num_id(&r.id), payload_str(&r.payload, "product_id")) else { continue };
                        let group = payload_str(&r.payload, "group").unwrap_or_default();
                        learned.insert(id, (product.into(), group.into()));
                    }
                }
                let found = lists
                    .into_iter()
                    .map(|list| {
                        list.into_iter()
                            .filter_map(|p| {
                                let id = num_id(&p.id)?;
                                let name = names.get(id).or_else(|| learned.get(&id))?.clone();
                                Some(Found { name, score: p.score })
                            })
                            .collect()
                    })
                    .collect();
                Ok((found, learned))
            })
            .await?;
        if !learned.is_empty() {
            self.remember(tenant, learned)?;
        }
        Ok(lists)
    }

    fn dense_query(&self, q: &VectorQuery) -> Result<ScoringQuery, VectorError> {
        if q.dense.len() != self.dim {
            return Err(VectorError::Dimension { expected: self.dim, got: q.dense.len() });
        }
        Ok(nearest(DENSE, VectorInternal::from(q.dense.clone())))
    }

    fn keyword_query(&self, q: &VectorQuery) -> ScoringQuery {
        nearest(SPARSE, VectorInternal::from(self.bm25.embed_query(&q.text)))
    }
}

/// A point found: its product and group, and its score.
struct Found {
    name: Name,
    score: f32,
}

/// A search's parameters for a shard whose graph was built at breadth `built`: the
/// configured search breadth, except that the default one searches a graph built
/// coarser than `HNSW_EF_CONSTRUCT` (by an older Aisle) at `LEGACY_HNSW_EF`.
fn search_params(options: &EdgeOptions, built: usize) -> Option<qdrant_edge::SearchParams> {
    let hnsw_ef = match options.hnsw_ef {
        Some(HNSW_EF) if built < HNSW_EF_CONSTRUCT => Some(LEGACY_HNSW_EF),
        other => other,
    };
    let quantization = options.quantize.then_some(qdrant_edge::QuantizationSearchParams {
        ignore: false,
        rescore: Some(true),
        oversampling: Some(QUANTIZED_OVERSAMPLING),
    });
    let exact = options.exact;
    (hnsw_ef.is_some() || quantization.is_some() || exact).then(|| qdrant_edge::SearchParams { hnsw_ef, quantization, exact, ..Default::default() })
}

fn num_id(id: &qdrant_edge::PointId) -> Option<u64> {
    match id {
        qdrant_edge::PointId::NumId(n) => Some(*n),
        qdrant_edge::PointId::Uuid(_) => None,
    }
}

/// Each product once, at its best point, best first.
fn by_product(found: Vec<Found>) -> Vec<VectorHit> {
    let mut seen: std::collections::HashSet<Arc<str>> = std::collections::HashSet::with_capacity(found.len());
    let mut hits = Vec::with_capacity(found.len());
    for f in found {
        let (product, group) = f.name;
        if seen.insert(product.clone()) {
            hits.push(VectorHit { product_id: product.to_string(), group: group.to_string(), score: f.score });
        }
    }
    hits
}

/// Reciprocal-rank fusion of the dense and the keyword product lists:
/// `Σ 1 / (rank₀ + k)`; best first, ties by product id.
fn rrf(dense: Vec<VectorHit>, keyword: Vec<VectorHit>, k: usize) -> Vec<VectorHit> {
    let mut fused: HashMap<String, VectorHit> = HashMap::with_capacity(dense.len() + keyword.len());
    for list in [dense, keyword] {
        for (rank, hit) in list.into_iter().enumerate() {
            let add = 1.0 / (rank + k) as f32;
            match fused.get_mut(&hit.product_id) {
                Some(h) => h.score += add,
                None => {
                    fused.insert(hit.product_id.clone(), VectorHit { score: add, ..hit });
                }
            }
        }
    }
    let mut out: Vec<VectorHit> = fused.into_values().collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.product_id.cmp(&b.product_id)));
    out
}

fn nearest(using: &str, vector: VectorInternal) -> ScoringQuery {
    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery { query: vector, using: Some(using.to_string()) }))
}

/// Opens the shard in `dir`, or creates it with its payload indexes.
fn open_shard(dir: &Path, config: EdgeConfig, dim: usize) -> Result<EdgeShard, VectorError> {
    let io = |e: std::io::Error| VectorError::Io { path: dir.display().to_string(), reason: e.to_string() };
    std::fs::create_dir_all(dir).map_err(io)?;
    let existing = dir.join("segments").is_dir();
    let shard = if existing { EdgeShard::load(dir, None) } else { EdgeShard::new(dir, config) }.map_err(backend)?;
    let have = shard.config().vectors.get(DENSE).map(|v| v.size);
    if have != Some(dim) {
        return Err(VectorError::Dimension { expected: dim, got: have.unwrap_or(0) });
    }
    if !existing {
        let indexes = [
            ("tenant_id", PayloadSchemaType::Keyword),
            ("product_id", PayloadSchemaType::Keyword),
            ("category", PayloadSchemaType::Keyword),
            ("options", PayloadSchemaType::Keyword),
            ("in_stock", PayloadSchemaType::Bool),
            ("price_min", PayloadSchemaType::Integer),
            ("price_max", PayloadSchemaType::Integer),
            ("catalog_version", PayloadSchemaType::Integer),
        ];
        for (field, schema) in indexes {
            let op = FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: key(field),
                field_schema: Some(PayloadFieldSchema::FieldType(schema)),
            });
            shard.update(UpdateOperation::FieldIndexOperation(op)).map_err(backend)?;
        }
    }
    Ok(shard)
}

fn payload_str(payload: &Option<qdrant_edge::Payload>, field: &'static str) -> Option<String> {
    payload.as_ref()?.0.get(field).and_then(Value::as_str).map(str::to_string)
}

#[async_trait]
impl VectorStore for QdrantEdgeStore {
    fn dim(&self) -> usize {
        self.dim
    }

    async fn upsert(&self, tenant: &TenantId, points: Vec<ProductPoint>) -> Result<(), VectorError> {
        self.remember(
            tenant,
            points.iter().map(|p| (point_id(&p.product_id, &p.group), (Arc::from(p.product_id.as_str()), Arc::from(p.group.as_str())))),
        )?;
        let mut batches: Vec<Vec<qdrant_edge::PointStructPersisted>> = Vec::new();
        for chunk in points.chunks(UPSERT_BATCH) {
            batches.push(chunk.iter().map(|p| self.to_point(tenant, p).map(Into::into)).collect::<Result<_, _>>()?);
        }
        self.blocking(tenant, move |shard| {
            for batch in batches {
                let op = PointOperations::UpsertPoints(PointInsertOperations::PointsList(batch));
                shard.update(UpdateOperation::PointOperation(op)).map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_products(&self, tenant: &TenantId, product_ids: &[String]) -> Result<(), VectorError> {
        if product_ids.is_empty() {
            return Ok(());
        }
        let ids = VectorFilter { product_ids: Some(product_ids.to_vec()), ..Default::default() };
        let filter = Self::filter(&ids).ok_or_else(|| backend("a product id filter has a condition"))?;
        self.blocking(tenant, move |shard| {
            let op = PointOperations::DeletePointsByFilter(filter);
            shard.update(UpdateOperation::PointOperation(op)).map_err(backend)
        })
        .await
    }

    async fn delete_older_than(&self, tenant: &TenantId, version: i64) -> Result<(), VectorError> {
        let filter = Filter::new_must(Condition::Field(FieldCondition::new_range(
            key("catalog_version"),
            Range { lt: Some(OrderedFloat(version as f64)), gt: None, gte: None, lte: None },
        )));
        self.blocking(tenant, move |shard| {
            let op = PointOperations::DeletePointsByFilter(filter);
            shard.update(UpdateOperation::PointOperation(op)).map_err(backend)
        })
        .await
    }

    async fn optimize(&self, tenant: &TenantId) -> Result<(), VectorError> {
        self.blocking(tenant, |shard| shard.optimize().map(|_| ()).map_err(backend)).await
    }

    async fn query(&self, tenant: &TenantId, q: &VectorQuery) -> Result<Vec<VectorHit>, VectorError> {
        if q.limit == 0 {
            return Ok(Vec::new());
        }
        let filter = Self::filter(&q.filter);
        if q.mode != QueryMode::Hybrid {
            let query = if q.mode == QueryMode::Dense { self.dense_query(q)? } else { self.keyword_query(q) };
            let mut points = self.points_for(tenant, q.limit)?;
            loop {
                let found = self.search(tenant, vec![self.single(query.clone(), filter.clone(), points)]).await?;
                let found = found.into_iter().next().unwrap_or_default();
                let exhausted = found.len() < points;
                let mut hits = by_product(found);
                // Too many groups of the same products: fetch deeper, unless that was all.
                if hits.len() >= q.limit || exhausted || points >= q.limit.saturating_mul(64) {
                    hits.truncate(q.limit);
                    return Ok(hits);
                }
                points = points.saturating_mul(4);
            }
        }
        // Hybrid: each list's candidates grouped per product, then fused per product.
        let (dense, keyword) = (self.dense_query(q)?, self.keyword_query(q));
        // A fixed depth (not one that grows with `limit`), so that the normalisation of
        // the scores, and so the ranking, does not depend on how many results are asked.
        let mut points = self.options.prefetch.max(q.limit);
        loop {
            let requests = vec![self.single(dense.clone(), filter.clone(), points), self.single(keyword.clone(), filter.clone(), points)];
            let mut lists = self.search(tenant, requests).await?.into_iter();
            let (d, k) = (lists.next().unwrap_or_default(), lists.next().unwrap_or_default());
            let exhausted = d.len() < points && k.len() < points;
            let mut hits = rrf(by_product(d), by_product(k), self.options.rrf_k);
            if hits.len() >= q.limit || exhausted || points >= q.limit.saturating_mul(64).max(self.options.prefetch) {
                hits.truncate(q.limit);
                return Ok(hits);
            }
            points = points.saturating_mul(4);
        }
    }

    async fn query_many(&self, tenant: &TenantId, queries: &[VectorQuery]) -> Result<Vec<Vec<VectorHit>>, VectorError> {
        // Single-list queries go to the shard together; any that needs a deeper fetch
        // (many groups of few products) or is hybrid takes the one-by-one path.
        let (mut requests, mut asked) = (Vec::new(), Vec::new());
        for q in queries.iter().filter(|q| q.limit > 0 && q.mode != QueryMode::Hybrid) {
            let query = if q.mode == QueryMode::Dense { self.dense_query(q)? } else { self.keyword_query(q) };
            let points = self.points_for(tenant, q.limit)?;
            requests.push(self.single(query, Self::filter(&q.filter), points));
            asked.push(points);
        }
        let mut found = self.search(tenant, requests).await?.into_iter();
        let mut asked = asked.into_iter();
        let mut out = Vec::with_capacity(queries.len());
        for q in queries {
            if q.limit == 0 || q.mode == QueryMode::Hybrid {
                out.push(self.query(tenant, q).await?);
                continue;
            }
            let points = found.next().unwrap_or_default();
            let exhausted = points.len() < asked.next().unwrap_or(0);
            let mut hits = by_product(points);
            if hits.len() >= q.limit || exhausted {
                hits.truncate(q.limit);
                out.push(hits);
            } else {
                out.push(self.query(tenant, q).await?);
            }
        }
        Ok(out)
    }

    async fn count(&self, tenant: &TenantId) -> Result<usize, VectorError> {
        self.blocking(tenant, move |shard| shard.count(CountRequest { filter: None, exact: true }).map_err(backend))
            .await
    }

    async fn index_state(&self, tenant: &TenantId) -> Result<Option<IndexState>, VectorError> {
        let path = self.tenant_dir(tenant).join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(VectorError::Io { path: path.display().to_string(), reason: e.to_string() }),
        }
    }

    async fn set_index_state(&self, tenant: &TenantId, state: &IndexState) -> Result<(), VectorError> {
        // Flush the points first, so the state never claims more than the disk holds.
        self.blocking(tenant, |shard| {
            shard.flush();
            Ok(())
        })
        .await?;
        let dir = self.tenant_dir(tenant);
        let (path, tmp) = (dir.join(STATE_FILE), dir.join(format!("{STATE_FILE}.tmp")));
        let io = |e: std::io::Error| VectorError::Io { path: path.display().to_string(), reason: e.to_string() };
        let bytes = serde_json::to_vec(state).map_err(backend)?;
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)
    }
}

// `SparseVector` is what `EdgeBm25` returns; named here so a change of its type in a
// qdrant-edge upgrade fails to compile in this file rather than somewhere else.
#[allow(dead_code)]
fn _sparse_type_check(v: SparseVector) -> VectorInternal {
    VectorInternal::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_coarser_graph_is_searched_more_broadly() {
        let ef = |options: &EdgeOptions, built| search_params(options, built).and_then(|p| p.hnsw_ef);
        let default = EdgeOptions::default();
        assert_eq!(ef(&default, HNSW_EF_CONSTRUCT), Some(HNSW_EF));
        assert_eq!(ef(&default, 100), Some(LEGACY_HNSW_EF), "qdrant's default build breadth");
        // A breadth set on purpose (the benchmark's sweep) is kept whatever the graph.
        let set = EdgeOptions { hnsw_ef: Some(100), ..EdgeOptions::default() };
        assert_eq!(ef(&set, 100), Some(100));
        let none = EdgeOptions { hnsw_ef: None, ..EdgeOptions::default() };
        assert_eq!(search_params(&none, 100), None);
        let exact = EdgeOptions { exact: true, ..none };
        assert!(search_params(&exact, 100).is_some_and(|p| p.exact));
    }
}
