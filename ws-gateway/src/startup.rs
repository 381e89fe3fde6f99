//! Builds Aisle from a `Config` and binds its listener. Tests call `Application::build`
//! with port 0 and read the port back; `main` does the same with the configured one.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use actors::{Conversations, Services};
use engine_assistant::OfflineAssistant;
use engine_llm::{GroqConfig, GroqModel};
use engine::carts::CartService;
use engine::catalog::CatalogCache;
use engine::jobs::{InProcessQueue, Jobs, JobsOptions, RetryPolicy};
use engine::ports::llm::LanguageModel;
use engine::ports::retriever::Retriever;
use engine::ports::store::Store;
use engine::retrieval::{HybridRetriever, KeywordRetriever};
use tenants::Tenants;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::session_token::SessionKeys;
use crate::state::{AppState, VectorHealth};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot use the data directory {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error("cannot open the store: {0}")]
    Store(#[from] engine::ports::store::StoreError),
    #[error("cannot bind {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("cannot start the actors: {0}")]
    Actors(#[from] actors::ActorError),
    #[error("cannot seed the demo shop: {0}")]
    Demo(#[from] crate::demo::DemoError),
    #[error("cannot set up the language model client: {0}")]
    Llm(String),
}

/// How soon a catalog change (an import, an edit, stock) reaches carts and retrieval.
pub const CATALOG_STALENESS: std::time::Duration = std::time::Duration::from_millis(250);

pub struct Application {
    port: u16,
    server: Server,
    pub state: web::Data<AppState>,
}

/// Opens the store the config names and runs its migrations.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| StartupError::DataDir { path: config.data_dir.display().to_string(), source })?;
    Ok(engine_sql::connect_store(&config.database_url()).await?)
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let store = open_store(&config).await?;
        Self::build_with_store(config, store).await
    }

    /// Builds on a store opened by the caller (tests give each run its own schema).
    pub async fn build_with_store(config: Config, store: Arc<dyn Store>) -> Result<Self, StartupError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|source| StartupError::DataDir { path: config.data_dir.display().to_string(), source })?;
        let session_keys = match &config.session_secret {
            Some(s) => SessionKeys::new(s.expose().as_bytes()),
            None => SessionKeys::load_or_create(&config.data_dir)
                .map_err(|source| StartupError::DataDir { path: config.data_dir.display().to_string(), source })?,
        };
        let catalog = Arc::new(CatalogCache::new(store.clone()).with_max_staleness(CATALOG_STALENESS));
        // Hybrid (vector + keyword) retrieval on a Qdrant server (`AISLE_QDRANT_URL`) or
        // qdrant-edge under the data dir; the keyword retriever when the vector store
        // or the embedder cannot be opened.
        let vectors: VectorHealth;
        let hybrid: Option<Arc<HybridRetriever>> = match async {
            use engine_vectors::{qdrant_edge::QdrantEdgeStore, qdrant_server::QdrantServerStore};
            let embedder = engine_vectors::embed::from_env().await.map_err(|e| e.to_string())?;
            let vectors: Arc<dyn engine::ports::vectors::VectorStore> = match &config.qdrant_url {
                Some(url) => {
                    use engine_vectors::qdrant_server::ServerOptions;
                    let api_key = config.qdrant_api_key.as_ref().map(|k| k.expose().to_string());
                    let options = ServerOptions { api_key, ..ServerOptions::default() };
                    Arc::new(QdrantServerStore::connect_with(url, embedder.dim(), options).await.map_err(|e| e.to_string())?)
                }
                None => Arc::new(QdrantEdgeStore::open(config.data_dir.join("vectors"), embedder.dim()).map_err(|e| e.to_string())?),
            };
            Ok::<_, String>((HybridRetriever::new(catalog.clone(), vectors.clone(), embedder), vectors))
        }
        .await
        {
            Ok((hybrid, store)) => {
                vectors = VectorHealth::Up(store);
                Some(Arc::new(hybrid))
            }
            Err(e) => {
                tracing::error!(error = %e, "hybrid retrieval unavailable; using keyword retrieval");
                vectors = VectorHealth::Down { server: config.qdrant_url.is_some(), reason: e };
                None
            }
        };
        let hybrid_on = hybrid.is_some();
        let retriever: Arc<dyn Retriever> = match &hybrid {
            Some(h) => h.clone(),
            None => Arc::new(KeywordRetriever::new(catalog.clone())),
        };
        // Background jobs (imports, indexing) on the in-process queue.
        let instance_id = config
            .instance_id_or_create()
            .map_err(|source| StartupError::DataDir { path: config.data_dir.display().to_string(), source })?;
        // The in-process queue starts empty: a job this instance left unfinished will
        // never run, so its record says so rather than "queued" for ever. Other
        // instances' jobs (a shared PostgreSQL) are theirs to settle.
        match store.fail_unfinished_jobs(&instance_id, "interrupted: Aisle restarted before the job finished; submit it again").await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(jobs = n, "jobs interrupted by the last shutdown marked failed"),
            Err(e) => tracing::warn!(error = %e, "cannot mark interrupted jobs"),
        }
        let options = JobsOptions { instance_id, import_queue_bytes: config.import_queue_bytes };
        let jobs = Jobs::with_options(store.clone(), catalog.clone(), hybrid.clone(), options);
        jobs.set_queue(InProcessQueue::start(jobs.clone(), config.job_workers, RetryPolicy::default()));
        jobs.attach_to_retriever();
        let model: Arc<dyn LanguageModel> = Arc::new(OfflineAssistant::new(retriever.clone()));
        // Groq answers for the tenants it serves (the deployment's key, or a tenant's
        // own); the offline assistant answers the others and finishes what Groq cannot.
        let groq = Arc::new(
            GroqModel::new(GroqConfig {
                base_url: config.groq_base_url.clone(),
                api_key: config.groq_api_key.as_ref().map(|k| k.expose().to_string()),
                model: config.groq_model.clone(),
                read_timeout: config.groq_read_timeout,
                ..GroqConfig::default()
            })
            .map_err(|e| StartupError::Llm(e.to_string()))?,
        );
        if config.groq_api_key.is_some() {
            tracing::info!(model = %config.groq_model, "Groq answers shoppers; the offline assistant is the fallback");
        }
        let services = Arc::new(Services {
            store: store.clone(),
            catalog: catalog.clone(),
            carts: Arc::new(CartService::new(catalog.clone())),
            retriever: retriever.clone(),
            model,
            remote: Some(groq.clone() as Arc<dyn LanguageModel>),
            jobs: Some(jobs.clone()),
            idle_timeout: config.idle_timeout,
        });
        let services_retriever = retriever;
        let conversations = Conversations::start(services).await?;
        let tenants = Tenants::new(store.clone());
        let demo = if config.demo { Some(crate::demo::seed(store.as_ref(), &tenants).await?) } else { None };
        // The demo shop answers by meaning from its first message: index it before
        // serving (a no-op when its index is current, as after a restart).
        if let (Some(demo), Some(hybrid)) = (&demo, &hybrid) {
            let indexed = match catalog.get(&demo.tenant_id).await {
                Ok(snapshot) => hybrid.ensure_indexed(&demo.tenant_id, &snapshot).await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = indexed {
                tracing::warn!(error = %e, "cannot index the demo shop now; searches will ask for it");
            }
        }

        let metrics = Metrics::new();
        metrics.set_retrieval_hybrid(hybrid_on);
        metrics.watch_llm(groq);
        let limits = Arc::new(crate::limits::Limits::new(&config.rate_limits));
        limits.start_pruning(crate::limits::PRUNE_EVERY);
        let listener = TcpListener::bind(config.bind).map_err(|source| StartupError::Bind { addr: config.bind.to_string(), source })?;
        let port = listener.local_addr().map_err(|source| StartupError::Bind { addr: config.bind.to_string(), source })?.port();
        let state = web::Data::new(AppState {
            config,
            store,
            catalog,
            tenants,
            retriever: services_retriever,
            jobs,
            limits,
            conversations,
            session_keys,
            demo,
            metrics,
            vectors,
        });
        let data = state.clone();
        let guard = web::Data::new(crate::request_guard::RequestGuard::new(
            state.config.body_timeout,
            state.config.max_unauthenticated,
        ));
        let server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(crate::request_guard::guard))
                .app_data(guard.clone())
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .app_data(crate::error::json_config())
                .app_data(crate::error::query_config())
                .configure(crate::routes::configure)
                .default_service(web::to(crate::routes::not_found))
        })
        // Events are small frames written back to back (an `ack`, then a `cart`): with
        // Nagle's algorithm the second waits for the client's delayed ACK, adding up to
        // one client send interval of latency to every command.
        .on_connect(|conn, _| {
            if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr: format!("port {port}"), source })?
        .run();
        Ok(Self { port, server, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The server future, for tests that spawn it.
    pub fn into_server(self) -> Server {
        self.server
    }
}
