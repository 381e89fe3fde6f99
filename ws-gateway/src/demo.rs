//! The demo shop (`AISLE_DEMO=1`): the Magento Luma sample catalog, a deployment key
//! open to any origin, and the shop page at `/`. Seeding is idempotent: a restart
//! reuses the shop, its key and its orders.

use engine::catalog::{demo_catalog, import_products};
use engine::domain::{Currency, TenantId};
use engine::ports::store::{Store, TenantSettings};
use tenants::Tenants;

use crate::state::DemoShop;

pub const DEMO_TENANT: &str = "t_demo";
/// The demo's portal login; its password is generated and logged once, on creation.
pub const DEMO_USER: &str = "demo@aisle.local";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] engine::ports::store::StoreError),
    #[error(transparent)]
    Tenant(#[from] tenants::TenantError),
}

pub async fn seed(store: &dyn Store, tenants: &Tenants) -> Result<DemoShop, DemoError> {
    let tenant_id = TenantId::parse(DEMO_TENANT).unwrap_or_else(|_| TenantId::generate());
    if store.get_tenant(&tenant_id).await?.is_none() {
        let settings = TenantSettings {
            bot_name: "Luma Assistant".into(),
            greeting: "Hi! I'm the Luma shop assistant. Ask me about our clothing and gear, or tell me what to add to your cart.".into(),
            persona: "A friendly, concise sales assistant of the Luma sportswear shop.".into(),
            language: "en".into(),
            currency: Currency::USD,
            llm: Default::default(),
        };
        tenants.create_tenant(Some(tenant_id.clone()), "Luma Demo Shop", "pro", settings).await?;
        tracing::info!(tenant = %tenant_id, "created the demo shop");
    }
    if store.list_products(&tenant_id, None, 1).await?.is_empty() {
        let parsed = demo_catalog(&tenant_id);
        for e in &parsed.errors {
            tracing::warn!(line = e.line, error = %e.message, "demo catalog row skipped");
        }
        let report = import_products(store, parsed.products).await?;
        tracing::info!(?report, "imported the demo catalog");
    }
    if store.tenant_user_by_email(&tenant_id, DEMO_USER).await?.is_none() {
        let password = tenants::generate_key("");
        tenants.create_user(&tenant_id, DEMO_USER, &password, tenants::Role::Owner).await?;
        // Shown this once: only its Argon2id hash is stored. Written to stderr as well
        // as logged, so that a log filter (`RUST_LOG=warn`) cannot hide it.
        eprintln!("{}", password_notice(&password));
        tracing::info!(email = DEMO_USER, %password, "demo portal user created: log in with POST /v1/auth/login (the password is not shown again)");
    }
    let existing = store.list_deployments(&tenant_id).await?.into_iter().find(|d| !d.revoked && d.name == "demo");
    let deployment = match existing {
        Some(d) => d,
        None => tenants.create_deployment(&tenant_id, "demo", Vec::new()).await?,
    };
    Ok(DemoShop { tenant_id, deployment_key: deployment.key })
}

/// The line printed on the terminal when the demo's portal user is created.
pub fn password_notice(password: &str) -> String {
    format!("Aisle demo portal login: {DEMO_USER} / {password} (POST /v1/auth/login; shown once, only its hash is kept)")
}
