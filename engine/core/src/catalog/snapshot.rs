//! An in-memory, immutable copy of one tenant's catalog, shared by retrieval, the
//! assistant and cart validation, and replaced whenever the store's catalog version
//! moves on. Readers hold an `Arc` and never wait for a rebuild.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::{Product, ProductId, TenantId, Variant, VariantId};
use crate::ports::store::{Store, StoreResult};

/// One tenant's catalog at one version.
#[derive(Debug, Default)]
pub struct CatalogSnapshot {
    pub version: i64,
    pub products: Vec<Arc<Product>>,
    by_id: HashMap<ProductId, usize>,
    by_variant: HashMap<VariantId, (usize, usize)>,
}

impl CatalogSnapshot {
    pub fn new(version: i64, products: Vec<Product>) -> Self {
        let products: Vec<Arc<Product>> = products.into_iter().map(Arc::new).collect();
        let mut by_id = HashMap::with_capacity(products.len());
        let mut by_variant = HashMap::new();
        for (i, p) in products.iter().enumerate() {
            by_id.insert(p.id.clone(), i);
            for (j, v) in p.variants.iter().enumerate() {
                by_variant.insert(v.id.clone(), (i, j));
            }
        }
        Self { version, products, by_id, by_variant }
    }

    pub fn product(&self, id: &ProductId) -> Option<&Arc<Product>> {
        self.by_id.get(id).map(|&i| &self.products[i])
    }

    pub fn variant(&self, id: &VariantId) -> Option<(&Product, &Variant)> {
        self.by_variant.get(id).map(|&(i, j)| {
            let p = &self.products[i];
            (p.as_ref(), &p.variants[j])
        })
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }
}

/// Per-tenant snapshots, rebuilt from the store when its catalog version changes.
pub struct CatalogCache {
    store: Arc<dyn Store>,
    snapshots: RwLock<HashMap<TenantId, (Arc<CatalogSnapshot>, Instant)>>,
    /// How long a snapshot is trusted before the store's version is asked again.
    max_staleness: Duration,
}

impl CatalogCache {
    /// A cache that asks the store for the catalog version on every read.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, snapshots: RwLock::new(HashMap::new()), max_staleness: Duration::ZERO }
    }

    /// Trusts a snapshot for `d` before checking the version again: a catalog change
    /// then reaches readers within `d`. The server uses this, since the version query
    /// would otherwise be a store round trip on every cart command and turn.
    pub fn with_max_staleness(mut self, d: Duration) -> Self {
        self.max_staleness = d;
        self
    }

    /// Forgets a tenant's snapshot (after a local catalog change).
    pub fn invalidate(&self, tenant: &TenantId) {
        if let Ok(mut map) = self.snapshots.write() {
            map.remove(tenant);
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The tenant's current catalog. One cheap version query per call; a full reload
    /// only when the catalog changed since the last one.
    pub async fn get(&self, tenant: &TenantId) -> StoreResult<Arc<CatalogSnapshot>> {
        if !self.max_staleness.is_zero()
            && let Some((s, checked)) = self.snapshots.read().ok().and_then(|m| m.get(tenant).cloned())
            && checked.elapsed() < self.max_staleness
        {
            return Ok(s);
        }
        let version = self.store.catalog_version(tenant).await?;
        if let Some(s) = self.cached(tenant)
            && s.version == version
        {
            if let Ok(mut map) = self.snapshots.write() {
                map.insert(tenant.clone(), (s.clone(), Instant::now()));
            }
            return Ok(s);
        }
        let mut products = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.store.list_products(tenant, after.as_deref(), 500).await?;
            let done = page.len() < 500;
            after = page.last().map(|p| p.sku.to_string());
            products.extend(page);
            if done {
                break;
            }
        }
        let snapshot = Arc::new(CatalogSnapshot::new(version, products));
        if let Ok(mut map) = self.snapshots.write() {
            // Keep the newest if two loads raced.
            let keep = map.get(tenant).is_some_and(|(s, _)| s.version > version);
            if !keep {
                map.insert(tenant.clone(), (snapshot.clone(), Instant::now()));
            }
        }
        Ok(snapshot)
    }

    /// The last loaded snapshot without asking the store (may be stale).
    pub fn cached(&self, tenant: &TenantId) -> Option<Arc<CatalogSnapshot>> {
        self.snapshots.read().ok().and_then(|m| m.get(tenant).map(|(s, _)| s.clone()))
    }
}
