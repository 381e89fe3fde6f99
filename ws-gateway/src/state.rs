//! What every request handler shares.

use std::sync::Arc;

use actors::Conversations;
use engine::catalog::CatalogCache;
use engine::domain::TenantId;
use engine::jobs::Jobs;
use engine::ports::retriever::Retriever;
use engine::ports::store::Store;
use tenants::Tenants;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::session_token::SessionKeys;

/// The demo shop seeded with `AISLE_DEMO=1`.
#[derive(Clone, Debug)]
pub struct DemoShop {
    pub tenant_id: TenantId,
    pub deployment_key: String,
}

pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub catalog: Arc<CatalogCache>,
    pub tenants: Tenants,
    /// The retrieval the assistant uses (admin product search uses it too).
    pub retriever: Arc<dyn Retriever>,
    pub jobs: Arc<Jobs>,
    /// Every rate limit (`crate::limits`): WebSocket connects, new conversations,
    /// cart commands and messages, portal logins.
    pub limits: Arc<crate::limits::Limits>,
    pub conversations: Conversations,
    pub session_keys: SessionKeys,
    pub demo: Option<DemoShop>,
    pub metrics: Metrics,
    /// The vector store behind hybrid search, for `/readyz`.
    pub vectors: VectorHealth,
}

/// Whether search has its vector store.
pub enum VectorHealth {
    /// Hybrid search on this store.
    Up(Arc<dyn engine::ports::vectors::VectorStore>),
    /// Keyword search only: the vector store or the embedder could not be opened at
    /// start. `server`: a Qdrant server was configured (a backend that is down, so the
    /// process is not ready), rather than the embedded store.
    Down { server: bool, reason: String },
}
