//! `aisle`: serve (default), migrate, import.

use anyhow::Context;
use clap::{Parser, Subcommand};
use engine::domain::{Currency, TenantId};
use tracing_subscriber::EnvFilter;
use ws_gateway::config::Config;
use ws_gateway::startup::{Application, open_store};

#[derive(Parser)]
#[command(name = "aisle", version, about = "Aisle: conversational commerce engine")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP and WebSocket server (the default).
    Serve,
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Import a catalog CSV (Aisle or Shopify format) into a tenant.
    Import {
        csv: std::path::PathBuf,
        #[arg(long)]
        tenant: String,
    },
}

/// The log filter without `RUST_LOG`: Aisle's info and up; from third parties only
/// warnings that mean something. Quieted, because every start printed them and none
/// is actionable: actix-server's start-up lines (Aisle logs its own address);
/// qdrant-edge's info (a line per shard opened) and two warnings about process-wide
/// settings that only Qdrant's server binary initialises (its crate does not export
/// the setters) — "Feature flags not initialized!" (the defaults it then uses are the
/// ones we want) and "MULTI_MMAP_SUPPORT_CHECK_RESULT should be initialized" (the
/// check never runs embedded, so that module's other warning cannot occur).
const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,actix_server=warn,qdrant_edge=warn,\
                                  qdrant_edge::common::flags=error,qdrant_edge::common::mmap::ops=error";

// A multi-thread runtime: the actors live here; actix runs its own worker threads.
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER)))
        .init();
    let config = Config::from_env().context("reading configuration")?;
    match Cli::parse().command.unwrap_or(Cmd::Serve) {
        Cmd::Serve => {
            let app = Application::build(config).await.context("starting Aisle")?;
            let port = app.port();
            tracing::info!("Aisle listening on http://127.0.0.1:{port}/");
            if let Some(demo) = &app.state.demo {
                tracing::info!(tenant = %demo.tenant_id, deployment_key = %demo.deployment_key, "demo shop ready at http://127.0.0.1:{port}/");
            }
            app.run_until_stopped().await.context("serving")?;
        }
        Cmd::Migrate => {
            let store = open_store(&config).await.context("opening the store")?;
            tracing::info!(backend = store.backend(), "schema is up to date");
        }
        Cmd::Import { csv, tenant } => {
            let store = open_store(&config).await.context("opening the store")?;
            let tenant = TenantId::parse(tenant).context("invalid tenant id")?;
            let t = store.get_tenant(&tenant).await?.with_context(|| format!("no tenant {tenant}"))?;
            let bytes = std::fs::read(&csv).with_context(|| format!("reading {}", csv.display()))?;
            let currency: Currency = t.settings.currency;
            let parsed = engine::catalog::detect_and_parse(&tenant, currency, &bytes);
            for e in &parsed.errors {
                eprintln!("line {}: {}", e.line, e.message);
            }
            let report = engine::catalog::import_products(store.as_ref(), parsed.products).await?;
            println!("{report:?}; {} rows skipped", parsed.errors.len());
        }
    }
    Ok(())
}
