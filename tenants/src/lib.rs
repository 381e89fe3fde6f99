//! Tenants: provisioning shops and their widget deployments, resolving a deployment
//! key to its tenant, and checking a page's origin against the deployment's list.
//! A tenant's admin API keys (`sk_…`) are shown once and stored only as their SHA-256.
//! (Portal logins, plans, usage and Stripe come with the admin issues.)
//!
//! Architecture invariant: a deployment key resolves to exactly one tenant, and every
//! later step of a shopper's session is scoped by that tenant.

use std::sync::Arc;

use chrono::Utc;
use engine::domain::{DeploymentId, TenantId, UserId};
use engine::ports::store::{Deployment, PortalUser, Store, StoreError, Tenant, TenantSettings};
use rand::Rng;
use rand::distr::Alphanumeric;

#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// An unknown, revoked or malformed key (deployment or API key).
    #[error("unknown or revoked key")]
    Unauthorized,
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A unique thing (an email within the tenant) is taken.
    #[error("{0}")]
    Taken(String),
    /// The tenant's subscription is canceled: its deployments open no conversations.
    #[error("this shop's subscription is canceled")]
    Canceled,
    /// An email and password that open the portal of several tenants, and no
    /// `tenant_id` to choose one (only someone with the password learns this).
    #[error("this email and password sign in to several shops ({}): send tenant_id to choose one", .0.iter().map(TenantId::as_str).collect::<Vec<_>>().join(", "))]
    SeveralTenants(Vec<TenantId>),
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

    /// A portal user of the tenant. The password is kept only as an Argon2id hash.
    pub async fn create_user(&self, tenant: &TenantId, email: &str, password: &str, role: Role) -> Result<PortalUser, TenantError> {
        let email = normalize_email(email).ok_or_else(|| TenantError::Invalid(format!("not an email address: {email:?}")))?;
        check_password(password)?;
        let password_hash = hash_password(password.to_string()).await?;
        let user = PortalUser {
            id: UserId::generate(),
            tenant_id: tenant.clone(),
            email,
            password_hash,
            role: role.as_str().to_string(),
            created_at: Utc::now(),
        };
        match self.store.create_user(&user).await {
            Ok(()) => Ok(user),
            // Only a login in this same tenant conflicts: the caller's own data. The
            // same address in another tenant is another user, created like any new
            // one, so the answer says nothing about other tenants.
            Err(StoreError::Conflict(_)) => Err(TenantError::Taken(format!("{} already has a portal login in this shop", user.email))),
            Err(e) => Err(e.into()),
        }
    }

    /// The user whose email and password these are; anything else is `Unauthorized`
    /// (an unknown email takes as long as a wrong password). An email may have a login
    /// in several tenants: the password is checked against each (the oldest
    /// [`MAX_LOGIN_CANDIDATES`]), and `tenant` picks one when it opens several
    /// (`SeveralTenants` without it).
    pub async fn login(&self, email: &str, password: &str, tenant: Option<&TenantId>) -> Result<PortalUser, TenantError> {
        let Some(email) = normalize_email(email) else { return Err(TenantError::Unauthorized) };
        if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
            return Err(TenantError::Unauthorized);
        }
        let candidates = match tenant {
            Some(t) => self.store.tenant_user_by_email(t, &email).await?.into_iter().collect(),
            None => self.store.users_by_email(&email, MAX_LOGIN_CANDIDATES).await?,
        };
        if candidates.is_empty() {
            verify_password(password.to_string(), DUMMY_HASH.to_string()).await;
            return Err(TenantError::Unauthorized);
        }
        let mut matched = Vec::new();
        for user in candidates {
            if verify_password(password.to_string(), user.password_hash.clone()).await {
                matched.push(user);
            }
        }
        match matched.len() {
            0 => Err(TenantError::Unauthorized),
            1 => Ok(matched.remove(0)),
            _ => Err(TenantError::SeveralTenants(matched.into_iter().map(|u| u.tenant_id).collect())),
        }
    }

    /// `Ok` while the tenant may serve shoppers: `Canceled` once its subscription is
    /// canceled (`past_due` still serves), `Unauthorized` if it does not exist.
    pub async fn ensure_serving(&self, tenant: &TenantId) -> Result<(), TenantError> {
        match self.store.get_tenant(tenant).await? {
            Some(t) if t.status == STATUS_CANCELED => Err(TenantError::Canceled),
            Some(_) => Ok(()),
            None => Err(TenantError::Unauthorized),
        }
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

/// What a portal user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything, including adding users.
    Owner,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Staff => "staff",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

/// A tenant status (`tenants.status`): the subscription is canceled.
pub const STATUS_CANCELED: &str = "canceled";

/// Users with one email whose password a login checks, at most (each check is an
/// Argon2id verification).
pub const MAX_LOGIN_CANDIDATES: u32 = 8;

pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longer passwords are refused rather than hashed (hashing cost grows with length).
pub const MAX_PASSWORD_BYTES: usize = 256;

/// An Argon2id hash of a random password nobody knows: what an unknown email's login
/// is checked against, so that it costs what a wrong password costs.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Z0jwwNe7Tq6FbXcmM+XHGIRxQhgk+5rXnBo9mNAMzvA";

fn check_password(password: &str) -> Result<(), TenantError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(TenantError::Invalid(format!("a password has at least {MIN_PASSWORD_CHARS} characters")));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(TenantError::Invalid(format!("a password has at most {MAX_PASSWORD_BYTES} bytes")));
    }
    Ok(())
}

/// `" Ann@Shop.Example "` → `ann@shop.example`; `None` unless it looks like an address.
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && !domain.contains('@');
    ok.then_some(e)
}

/// Argon2id with the crate's defaults (19 MiB, 2 passes), off the async threads.
async fn hash_password(password: String) -> Result<String, TenantError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| TenantError::Invalid(format!("password hashing stopped: {e}")))?
    .map_err(|e| TenantError::Invalid(format!("cannot hash the password: {e}")))
}

async fn verify_password(password: String, hash: String) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
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
    deployment.allowed_origins.contains(&origin)
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
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email(" Ann@Shop.Example ").as_deref(), Some("ann@shop.example"));
        for bad in ["", "ann", "@shop.example", "ann@", "ann@shop", "ann@.example", "a n@shop.example", "a@b@c.example"] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct"));
        assert!(verify_password("correct horse battery".into(), h.clone()).await);
        assert!(!verify_password("Correct horse battery".into(), h.clone()).await);
        assert!(!verify_password("x".into(), DUMMY_HASH.into()).await);
        assert!(argon2::password_hash::PasswordHash::new(DUMMY_HASH).is_ok(), "the dummy hash parses, so it costs a real check");
        assert_ne!(h, hash_password("correct horse battery".into()).await.unwrap(), "salted");
        assert!(check_password("short").is_err() && check_password(&"x".repeat(300)).is_err() && check_password("long enough!").is_ok());
    }

    #[test]
    fn keys_are_long_and_prefixed() {
        let k = generate_key("pk_");
        assert!(k.starts_with("pk_") && k.len() == 35);
        assert_ne!(k, generate_key("pk_"));
    }
}
