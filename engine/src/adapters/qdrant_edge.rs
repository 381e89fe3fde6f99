//! The embedded `VectorStore`: qdrant-edge in process, one on-disk shard per tenant
//! under a root folder (`{AISLE_DATA_DIR}/vectors/tenant-{id}`), so one tenant's query
//! cannot reach another's points: they are not in the same index.
//!
//! Each point has a dense vector (`dense`, cosine) and a BM25 keyword vector
//! (`bm25`, sparse with `Modifier::Idf`, made by qdrant-edge's own `EdgeBm25` from the
//! point's text, English stemming and stop words). A hybrid query prefetches
//! candidates on both and fuses them by reciprocal rank; payload filters apply to
//! both prefetches. Results are grouped per product here (qdrant-edge 0.7.2 has no
//! group-by): the query over-fetches points and keeps each product's best.
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
    FieldCondition, FieldIndexOperations, Filter, Fusion, JsonPath, Match, Modifier, NamedQuery, NamedVectors,
    PayloadFieldSchema, PayloadSchemaType, PointInsertOperations, PointOperations, PointStruct, Prefetch,
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
/// Points fetched per product wanted, to leave room for a product's other groups.
const OVERFETCH: usize = 3;
/// Upserts are sent in batches of this many points.
const UPSERT_BATCH: usize = 512;

/// Tunables, mostly for benchmarks.
#[derive(Clone, Debug)]
pub struct EdgeOptions {
    pub rrf_k: usize,
    pub prefetch: usize,
    /// HNSW search breadth; `None` keeps qdrant's default.
    pub hnsw_ef: Option<usize>,
    /// Store vectors on disk (mmap) rather than in RAM.
    pub on_disk: bool,
    /// HNSW graph degree and build breadth; `None` keeps qdrant's defaults (16, 100).
    pub hnsw_m: Option<usize>,
    pub hnsw_ef_construct: Option<usize>,
}

impl Default for EdgeOptions {
    fn default() -> Self {
        Self { rrf_k: RRF_K, prefetch: PREFETCH, hnsw_ef: None, on_disk: true, hnsw_m: None, hnsw_ef_construct: None }
    }
}

pub struct QdrantEdgeStore {
    root: PathBuf,
    dim: usize,
    options: EdgeOptions,
    bm25: Arc<EdgeBm25>,
    shards: Mutex<HashMap<TenantId, Arc<EdgeShard>>>,
}

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
        Ok(Self { root, dim, options, bm25: Arc::new(bm25), shards: Mutex::new(HashMap::new()) })
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
        EdgeConfig::builder()
            .hnsw_config(hnsw)
            .vector(DENSE, EdgeVectorParams::builder(self.dim, Distance::Cosine).on_disk(self.options.on_disk).build())
            .sparse_vector(SPARSE, EdgeSparseVectorParams::builder().modifier(Modifier::Idf).build())
            .build()
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

    fn request(&self, q: &VectorQuery, points: usize) -> Result<QueryRequest, VectorError> {
        let filter = Self::filter(&q.filter);
        let dense = || -> Result<ScoringQuery, VectorError> {
            if q.dense.len() != self.dim {
                return Err(VectorError::Dimension { expected: self.dim, got: q.dense.len() });
            }
            Ok(nearest(DENSE, VectorInternal::from(q.dense.clone())))
        };
        let sparse = || nearest(SPARSE, VectorInternal::from(self.bm25.embed_query(&q.text)));
        let params = self.options.hnsw_ef.map(|ef| qdrant_edge::SearchParams { hnsw_ef: Some(ef), ..Default::default() });
        let (prefetches, query) = match q.mode {
            QueryMode::Dense => (vec![], dense()?),
            QueryMode::Keyword => (vec![], sparse()),
            QueryMode::Hybrid => {
                let limit = self.options.prefetch.max(points);
                let prefetch = |query: ScoringQuery| Prefetch {
                    prefetches: vec![],
                    query: Some(query),
                    limit,
                    params,
                    filter: filter.clone(),
                    score_threshold: None,
                };
                (
                    vec![prefetch(dense()?), prefetch(sparse())],
                    ScoringQuery::Fusion(Fusion::Rrf { k: self.options.rrf_k, weights: None }),
                )
            }
        };
        Ok(QueryRequest {
            prefetches,
            query: Some(query),
            filter,
            score_threshold: None,
            limit: points,
            offset: 0,
            params,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Fields(vec![key("product_id"), key("group")]),
        })
    }
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
        let mut points = q.limit.saturating_mul(OVERFETCH);
        loop {
            let request = self.request(q, points)?;
            let found = self.blocking(tenant, move |shard| shard.query(request).map_err(backend)).await?;
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
