//! Tenants: provisioning shops and their widget deployments, resolving a deployment
//! key to its tenant, and checking a page's origin against the deployment's list.
//! A tenant's admin API keys (`sk_…`) are shown once and stored only as their SHA-256.
//! (Portal logins, plans, usage and Stripe come with the admin issues.)
//!
//! Architecture invariant: a deployment key resolves to exactly one tenant, and every
//! later step of a shopper's session is scoped by that tenant.

use std::sync::Arc;

use chrono::Utc;
use engine::domain::{DeploymentId, TenantId};
use engine::ports::store::{Deployment, Store, StoreError, Tenant, TenantSettings};
use rand::Rng;
use rand::distr::Alphanumeric;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// An unknown, revoked or malformed key (deployment or API key).
    #[error("unknown or revoked key")]
    Unauthorized,
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A random secret with a prefix: `pk_` + 32 alphanumerics (≈190 bits).
pub fn generate_key(prefix: &str) -> String {
    let body: String = rand::rng().sample_iter(&Alphanumeric).take(32).map(char::from).collect();
    format!("{prefix}{body}")
}

#[derive(Clone)]
pub struct Tenants {
    store: Arc<dyn Store>,
}

impl Tenants {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    pub async fn create_tenant(&self, id: Option<TenantId>, name: &str, plan: &str, settings: TenantSettings) -> Result<Tenant, TenantError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(TenantError::Invalid("a tenant name has 1 to 200 characters".into()));
        }
        let tenant = Tenant {
            id: id.unwrap_or_else(TenantId::generate),
            name: name.to_string(),
            plan: plan.to_string(),
            status: "active".into(),
            settings,
            created_at: Utc::now(),
        };
        self.store.create_tenant(&tenant).await?;
        Ok(tenant)
    }

    pub async fn create_deployment(&self, tenant: &TenantId, name: &str, allowed_origins: Vec<String>) -> Result<Deployment, TenantError> {
        let origins = allowed_origins
            .iter()
            .map(|o| normalize_origin(o).ok_or_else(|| TenantError::Invalid(format!("not an origin: {o:?}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let deployment = Deployment {
            id: DeploymentId::generate(),
            tenant_id: tenant.clone(),
            name: name.trim().to_string(),
            key: generate_key("pk_"),
            allowed_origins: origins,
            revoked: false,
            created_at: Utc::now(),
        };
        self.store.create_deployment(&deployment).await?;
        Ok(deployment)
    }

    /// A new admin API key for the tenant. The key itself is returned once and never
    /// stored.
    pub async fn create_api_key(&self, tenant: &TenantId) -> Result<String, TenantError> {
        let key = generate_key("sk_");
        self.store.create_api_key(tenant, &hash_api_key(&key), &key_prefix(&key)).await?;
        Ok(key)
    }

    /// The tenant of a live API key; unknown, revoked and malformed keys are all
    /// `Unauthorized`.
    pub async fn resolve_api_key(&self, key: &str) -> Result<TenantId, TenantError> {
        if !key.starts_with("sk_") || key.len() > 128 {
            return Err(TenantError::Unauthorized);
        }
        self.store.tenant_by_api_key(&hash_api_key(key)).await?.ok_or(TenantError::Unauthorized)
    }

    /// The live deployment of a key; unknown and revoked keys are both `Unauthorized`.
    pub async fn resolve_key(&self, key: &str) -> Result<Deployment, TenantError> {
        if !key.starts_with("pk_") || key.len() > 128 {
            return Err(TenantError::Unauthorized);
        }
        match self.store.deployment_by_key(key).await? {
            Some(d) if !d.revoked => Ok(d),
            _ => Err(TenantError::Unauthorized),
        }
    }
}

/// The stored form of an API key: SHA-256, hex.
pub fn hash_api_key(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Shown beside a key in lists: its prefix and first four characters.
fn key_prefix(key: &str) -> String {
    key.chars().take(7).collect()
}

/// `https://Shop.Example:443/` → `https://shop.example`. `None` if it is not an origin.
pub fn normalize_origin(origin: &str) -> Option<String> {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = o.split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains('/') || rest.contains('@') {
        return None;
    }
    let rest = match (scheme, rest.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host.to_string(),
        _ => rest.to_string(),
    };
    Some(format!("{scheme}://{rest}"))
}

/// Whether a page at `origin` may use the deployment. An empty list allows any origin;
/// otherwise the origin must be listed (a request without one is refused).
pub fn origin_allowed(deployment: &Deployment, origin: Option<&str>) -> bool {
    if deployment.allowed_origins.is_empty() {
        return true;
    }
    let Some(origin) = origin.and_then(normalize_origin) else { return false };
    deployment.allowed_origins.iter().any(|a| *a == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(origins: &[&str]) -> Deployment {
        Deployment {
            id: DeploymentId::generate(),
            tenant_id: TenantId::generate(),
            name: "web".into(),
            key: generate_key("pk_"),
            allowed_origins: origins.iter().map(|o| normalize_origin(o).unwrap()).collect(),
            revoked: false,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(normalize_origin("https://Shop.Example/").as_deref(), Some("https://shop.example"));
        assert_eq!(normalize_origin("https://shop.example:443").as_deref(), Some("https://shop.example"));
        assert_eq!(normalize_origin("http://localhost:8080").as_deref(), Some("http://localhost:8080"));
        assert_eq!(normalize_origin("shop.example"), None);
        assert_eq!(normalize_origin("https://shop.example/path"), None);
        assert_eq!(normalize_origin("ftp://shop.example"), None);
    }

    #[test]
    fn origin_check() {
        let any = deployment(&[]);
        assert!(origin_allowed(&any, None));
        assert!(origin_allowed(&any, Some("https://evil.example")));
        let d = deployment(&["https://shop.example"]);
        assert!(origin_allowed(&d, Some("https://shop.example")));
        assert!(origin_allowed(&d, Some("https://SHOP.example/")));
        assert!(!origin_allowed(&d, Some("https://evil.example")));
        assert!(!origin_allowed(&d, Some("https://shop.example.evil.example")));
        assert!(!origin_allowed(&d, None));
    }

    #[test]
    fn api_keys_are_stored_as_sha256() {
        let h = hash_api_key("sk_abc");
        assert_eq!(h.len(), 64);
        // `printf sk_abc | sha256sum`
        assert_eq!(h, "7c8d93f8ffb4cdb85b2a4b0c10886a66959da2eb67707b1c54718850a56d158c");
        assert_ne!(h, hash_api_key("sk_abd"));
        assert!(!h.contains("abc"));
        assert_eq!(key_prefix("sk_1234567890"), "sk_1234");
    }

    #[test]
    fn keys_are_long_and_prefixed() {
        let k = generate_key("pk_");
        assert!(k.starts_with("pk_") && k.len() == 35);
        assert_ne!(k, generate_key("pk_"));
    }
}
