//! The relational store: the `Store` port on SQLite (the embedded default, a file in
//! the data dir) and on PostgreSQL (the distributed setup), with one body of SQL.
//!
//! Why one body: the two adapters must behave the same (one conformance suite runs on
//! both, `engine/tests/it/store.rs`), and two hand-written copies drift. The SQL is
//! portable (`$n` parameters, `ON CONFLICT`, no engine-specific functions), the
//! schemas are twins (`engine/sql/migrations/{sqlite,postgres}`), and the store is one
//! generic type, [`SqlStore<DB>`], whose `Store` impl (`queries.rs`) is written once
//! over the engine; [`SqliteStore`] and [`PostgresStore`] are its two instances. What
//! truly differs is the [`Backend`] trait (the engine's name, how a write transaction
//! begins) and how a database is opened (below: SQLite's single writer and WAL
//! checkpoints, PostgreSQL's schemas). Migrations are embedded and run on open.
//!
//! The statements are split by concern: `queries.rs` (tenants, deployments, the
//! catalog, conversations, carts and orders), `admin_queries.rs` (API keys, users,
//! jobs, usage counts), `command_queries.rs` (the command log, the fresh price and
//! stock read), `cart_queries.rs` (cart writes and their group commit),
//! `event_groups.rs` (event writes and their group commit); rows are decoded in
//! `rows.rs`.
//!
//! Storage conventions: times are BIGINT unix milliseconds (a time read back is the
//! one written, truncated to the millisecond), money is BIGINT minor units, JSON is
//! TEXT, and there are no floats.

// The core's modules under their usual names (`crate::domain`, ...).
use engine_core::{domain, ports};

mod admin_queries;
mod backend;
mod cart_queries;
mod command_queries;
mod event_groups;
mod queries;
mod shared_reads;
mod rows;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, Postgres};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Pool, Sqlite};

use crate::domain::{Product, Variant, VariantId};
use crate::ports::store::{Store, StoreError, StoreResult};
use rows::{corrupt, db_err};

pub use backend::{Backend, SqlFuture};

/// The relational store on one engine. The SQL and the `Store` impl are generic over
/// the engine; only opening a database is engine-specific (`SqliteStore::open`,
/// `PostgresStore::connect`).
#[derive(Debug)]
pub struct SqlStore<DB: Backend> {
    /// Readers.
    pool: Pool<DB>,
    /// Writes go through this pool: on SQLite, ONE connection (see `queries.rs` for
    /// why); on PostgreSQL, the same pool as `pool`, which handles concurrent writers.
    writer: Pool<DB>,
}

/// The embedded store: one SQLite file in WAL mode.
pub type SqliteStore = SqlStore<Sqlite>;

/// The distributed store: PostgreSQL.
pub type PostgresStore = SqlStore<Postgres>;

impl<DB: Backend> Clone for SqlStore<DB> {
    fn clone(&self) -> Self {
        Self { pool: self.pool.clone(), writer: self.writer.clone() }
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The pool, for adapters of other ports that keep their tables in this database.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// Closes both pools (the same one twice where they are one: closing is idempotent).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

/// How long a connection waits for SQLite's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens the store a URL names: `sqlite:…` (a file, or `sqlite::memory:`) or
/// `postgres://…` / `postgresql://…`.
pub async fn connect_store(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url.split(':').next().unwrap_or("").to_ascii_lowercase();
    match scheme.as_str() {
        "sqlite" => Ok(Arc::new(SqliteStore::open(url).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(PostgresStore::connect(url).await?)),
        _ => Err(StoreError::Database(format!(
            "unsupported database URL scheme {scheme:?}: use sqlite:… or postgres://…"
        ))),
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating it and its directory if missing) and migrates a SQLite database.
    /// Takes a URL (`sqlite://data/aisle.db`, `sqlite::memory:`) or a plain file path.
    pub async fn open(url_or_path: &str) -> StoreResult<Self> {
        let base = if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path)
                .map_err(|e| StoreError::Database(format!("bad SQLite URL {url_or_path:?}: {e}")))?
        } else {
            SqliteConnectOptions::new().filename(url_or_path)
        };
        let in_memory = url_or_path.contains(":memory:") || url_or_path.contains("mode=memory");
        if !in_memory
            && let Some(dir) = base.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Database(format!("cannot create {}: {e}", dir.display())))?;
        }
        let options = base
            .create_if_missing(true)
            .journal_mode(if in_memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let open_err = |e: sqlx::Error| StoreError::Database(format!("cannot open SQLite database {url_or_path:?}: {e}"));
        // One writing connection, kept open: writers queue in the pool, never in
        // SQLite's sleeping busy handler. An in-memory database lives only as long as
        // its connection, so there that one connection serves reads too.
        // `test_before_acquire(false)`: a local file needs no ping before each use, and
        // that ping is one more round trip to SQLite's worker thread per operation.
        // The writer never checkpoints the WAL itself (`wal_autocheckpoint=0`): a
        // checkpoint copies megabytes into the database file and syncs it, and made on
        // the writer it stalls every write queued behind it (the cart-command p99). A
        // background task checkpoints from a reader connection instead (see
        // `checkpoint_in_background`), which SQLite lets run beside the writer.
        let writer_options = if in_memory { options.clone() } else { options.clone().pragma("wal_autocheckpoint", "0") };
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(writer_options)
            .await
            .map_err(open_err)?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await.map_err(|e| StoreError::Migration(e.to_string()))?;
        let pool = if in_memory {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(8)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .map_err(open_err)?
        };
        if !in_memory {
            checkpoint_in_background(pool.clone());
        }
        Ok(Self { pool, writer })
    }
}

/// How often the WAL is checkpointed (PASSIVE: never waits for, nor blocks, the writer).
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Checkpoints the WAL every `CHECKPOINT_EVERY` from a reader connection, until the
/// pool is closed or the database is gone. Without it the WAL would only grow, since
/// the writer does not checkpoint (see `SqliteStore::open`).
fn checkpoint_in_background(pool: Pool<Sqlite>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                tracing::debug!(error = %e, "WAL checkpoint stopped");
                return;
            }
        }
    });
}

impl SqlStore<Postgres> {
    /// Connects to `url` and migrates the database's default schema.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_options(url, parse_pg(url)?).await
    }

    /// Connects with every pooled connection's `search_path` set to `schema`, creating
    /// the schema if missing, and migrates it. Tests give each test its own schema.
    /// `schema` is an identifier of ASCII letters, digits and `_`.
    pub async fn connect_with_schema(url: &str, schema: &str) -> StoreResult<Self> {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !schema.as_bytes()[0].is_ascii_digit();
        if !valid {
            return Err(StoreError::Database(format!("invalid schema name {schema:?}")));
        }
        let base = parse_pg(url)?;
        let mut conn = sqlx::PgConnection::connect_with(&base).await.map_err(|e| unreachable_pg(url, e))?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&mut conn).await.map_err(db_err)?;
        conn.close().await.map_err(db_err)?;
        Self::connect_options(url, base.options([("search_path", schema)])).await
    }

    async fn connect_options(url: &str, options: PgConnectOptions) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| unreachable_pg(url, e))?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await.map_err(|e| StoreError::Migration(e.to_string()))?;
        // One pool for both: PostgreSQL handles concurrent writers itself.
        Ok(Self { writer: pool.clone(), pool })
    }
}

fn parse_pg(url: &str) -> StoreResult<PgConnectOptions> {
    PgConnectOptions::from_str(url).map_err(|e| StoreError::Database(format!("bad PostgreSQL URL: {e}")))
}

fn unreachable_pg(url: &str, e: sqlx::Error) -> StoreError {
    // The URL may hold a password: name only its host part.
    let host = url.rsplit('@').next().unwrap_or(url);
    StoreError::Database(format!("cannot connect to PostgreSQL at {host}: {e}"))
}

/// `Ok` if a statement changed a row, `NotFound` if it matched none.
fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// What the store refuses to keep, whatever the caller checked before.
fn check_product(product: &Product) -> StoreResult<()> {
    product.validate().map_err(|e| StoreError::Conflict(e.to_string()))?;
    let mut skus = BTreeSet::new();
    for v in &product.variants {
        if !skus.insert(v.sku.as_str()) {
            return Err(StoreError::Conflict(format!("variant SKU {} appears twice in {}", v.sku, product.sku)));
        }
    }
    Ok(())
}

/// One statement of an upsert's variant writes; `usize` is the variant's position.
enum VariantWrite {
    Delete(String),
    Update(usize),
    Insert(usize),
}

/// Matches incoming variants to stored ones by SKU, writing the ids to store them
/// under into `incoming`. A stored SKU keeps its id; a new SKU keeps the id it came
/// with, unless that id belongs to a stored variant (one being dropped, say): then it
/// gets a fresh one, so an id never changes meaning. Stored SKUs no longer offered
/// are deleted. The writes come in the order of the rows they lock (existing rows by
/// id, then inserts), the same order `place_order` locks variants in.
fn plan_variants(incoming: &mut [Variant], stored: &[(String, String)]) -> StoreResult<Vec<VariantWrite>> {
    let by_sku: BTreeMap<&str, &str> = stored.iter().map(|(sku, id)| (sku.as_str(), id.as_str())).collect();
    let stored_ids: BTreeSet<&str> = stored.iter().map(|(_, id)| id.as_str()).collect();
    let offered: BTreeSet<String> = incoming.iter().map(|v| v.sku.to_string()).collect();
    let mut writes: Vec<(bool, String, VariantWrite)> = stored
        .iter()
        .filter(|(sku, _)| !offered.contains(sku))
        .map(|(_, id)| (false, id.clone(), VariantWrite::Delete(id.clone())))
        .collect();
    for (position, v) in incoming.iter_mut().enumerate() {
        match by_sku.get(v.sku.as_str()) {
            Some(id) => {
                v.id = VariantId::parse(*id).map_err(|e| corrupt("variant id", e))?;
                writes.push((false, id.to_string(), VariantWrite::Update(position)));
            }
            None => {
                if stored_ids.contains(v.id.as_str()) {
                    v.id = VariantId::generate();
                }
                writes.push((true, v.id.to_string(), VariantWrite::Insert(position)));
            }
        }
    }
    writes.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(writes.into_iter().map(|(_, _, w)| w).collect())
}
