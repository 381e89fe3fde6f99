//! Helpers shared by the engine's integration tests: a fresh store of each engine
//! (SQLite in a temp dir, PostgreSQL in a schema of its own) and sample data.
//!
//! PostgreSQL is expected on the machine (`postgres://postgres@127.0.0.1:5432/test`,
//! or `AISLE_TEST_DATABASE_URL`). When it is unreachable the tests FAIL and say so:
//! a skipped distributed suite would pass CI without testing anything.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use engine_sql::{PostgresStore, SqliteStore};
use engine::domain::{ConversationId, Currency, DeploymentId, Product, ProductId, Sku, TenantId, Variant, VariantId};
use engine::ports::store::{ConversationRecord, Store, Tenant, TenantSettings};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Schemas made by these tests start with this, then the creation time in seconds.
const SCHEMA_PREFIX: &str = "aisle_test_";

pub fn pg_url() -> String {
    std::env::var("AISLE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_string())
}

/// A fresh SQLite store in a temporary directory (dropped with the `TempDir`).
pub async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("create a temp dir");
    let path = dir.path().join("aisle.db");
    let store = SqliteStore::open(path.to_str().expect("utf-8 temp path"))
        .await
        .unwrap_or_else(|e| panic!("open SQLite store at {}: {e}", path.display()));
    (Arc::new(store), dir)
}

/// A PostgreSQL store in a new schema of its own. Panics with a clear message when
/// PostgreSQL cannot be reached.
pub async fn postgres_store() -> Arc<dyn Store> {
    postgres_store_and_schema().await.0
}

/// [`postgres_store`], and the name of its schema (to open a second pool on it, as a
/// second process would).
pub async fn postgres_store_and_schema() -> (Arc<dyn Store>, String) {
    let url = pg_url();
    drop_stale_schemas(&url).await;
    let now = Utc::now().timestamp();
    let schema = format!("{SCHEMA_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
    match PostgresStore::connect_with_schema(&url, &schema).await {
        Ok(store) => (Arc::new(store), schema),
        Err(e) => panic!(
            "PostgreSQL is required by these tests and is not usable at {url}: {e}\n\
             Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
             (or point AISLE_TEST_DATABASE_URL at another server)"
        ),
    }
}

/// Best effort, once per test process: drops test schemas older than an hour, so
/// repeated runs do not pile them up. Younger ones may belong to a run in progress.
async fn drop_stale_schemas(url: &str) {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    use sqlx::Connection;
    let Ok(mut conn) = sqlx::PgConnection::connect(url).await else { return };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::TEXT FROM pg_namespace WHERE nspname LIKE 'aisle\\_test\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    let cutoff = Utc::now().timestamp() - 3600;
    for name in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<i64>().ok());
        if created.is_some_and(|t| t < cutoff) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE")).execute(&mut conn).await;
        }
    }
    let _ = conn.close().await;
}

/// Now, truncated to the millisecond (what the store keeps), so records compare equal
/// after a round trip.
pub fn now_ms() -> DateTime<Utc> {
    let ms = Utc::now().timestamp_millis();
    DateTime::from_timestamp_millis(ms).expect("current time in range")
}

/// A tenant record with default settings, not yet stored.
pub fn sample_tenant(name: &str) -> Tenant {
    Tenant {
        id: TenantId::generate(),
        name: name.to_string(),
        plan: "free".into(),
        status: "active".into(),
        settings: TenantSettings::default(),
        created_at: now_ms(),
    }
}

/// Creates a tenant in the store and returns its id.
pub async fn seed_tenant(store: &dyn Store, name: &str) -> TenantId {
    let t = sample_tenant(name);
    store.create_tenant(&t).await.expect("create tenant");
    t.id
}

/// Creates a conversation of `tenant` and returns its id.
pub async fn seed_conversation(store: &dyn Store, tenant: &TenantId) -> ConversationId {
    let record = ConversationRecord {
        id: ConversationId::generate(),
        tenant_id: tenant.clone(),
        deployment_id: DeploymentId::generate(),
        started_at: now_ms(),
        last_message_at: None,
        messages: 0,
        dialogue_state: "{}".into(),
    };
    store.create_conversation(&record).await.expect("create conversation");
    record.id
}

/// A sample variant spec: (sku, options as (name, value) pairs, price_minor, stock).
pub type VariantSpec<'a> = (&'a str, &'a [(&'a str, &'a str)], i64, i64);

/// A product of `tenant` in USD with the given variants. Option names come from the
/// first variant, in its order. No variants given: one variant with the product's
/// SKU, no options, priced 10.00 with 10 in stock.
pub fn sample_product(tenant: &TenantId, sku: &str, variants: &[VariantSpec<'_>]) -> Product {
    let title = format!("Product {sku}");
    let default: [VariantSpec<'_>; 1] = [(sku, &[], 1000, 10)];
    let specs = if variants.is_empty() { &default[..] } else { variants };
    let options: Vec<String> = specs[0].1.iter().map(|(name, _)| name.to_string()).collect();
    let variants = specs
        .iter()
        .map(|(vsku, opts, price_minor, stock)| {
            let options: BTreeMap<String, String> = opts.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            let vtitle = if opts.is_empty() {
                title.clone()
            } else {
                opts.iter().map(|(_, v)| *v).collect::<Vec<_>>().join(" / ")
            };
            Variant {
                id: VariantId::generate(),
                sku: Sku::parse(vsku).expect("valid variant sku"),
                title: vtitle,
                options,
                price_minor: *price_minor,
                stock: *stock,
            }
        })
        .collect();
    Product {
        id: ProductId::generate(),
        tenant_id: tenant.clone(),
        sku: Sku::parse(sku).expect("valid sku"),
        title: title.clone(),
        description_html: format!("<p>{title}, <b>sample</b></p>"),
        description_text: format!("{title}, sample"),
        category: "Samples".into(),
        tags: vec!["sample".into(), sku.to_lowercase()],
        image_url: None,
        options,
        currency: Currency::USD,
        variants,
    }
}
