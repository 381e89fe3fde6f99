//! Signed tokens. Shopper session tokens: a JWT naming tenant, deployment and
//! conversation, so a returning shopper resumes their conversation and cart and nobody
//! else's. Portal login tokens (`issue_admin`): a JWT naming a portal user, their
//! tenant and role, with the audience `aisle-admin`. Neither kind passes for the
//! other: each is signed with its own key, derived from the one secret
//! (`AISLE_SESSION_SECRET` or `session.key`) with HKDF-SHA256 and a label per purpose
//! ([`derive_key`]); on top of that each has claims the other lacks, and only admin
//! tokens carry an audience.

use std::path::Path;

use chrono::Utc;
use engine::domain::{ConversationId, DeploymentId, TenantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// The shortest secret that may sign tokens (`AISLE_SESSION_SECRET`): 32 bytes, the
/// HMAC-SHA256 key size.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a derived key signs. Each purpose has its own key, so a token of one kind
/// can never verify as the other, whatever its claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Shopper session tokens (`welcome.session_token`).
    ShopperSession,
    /// Portal login tokens (`POST /v1/auth/login`).
    AdminLogin,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::ShopperSession => b"aisle/v1/shopper-session-token",
            Purpose::AdminLogin => b"aisle/v1/admin-login-token",
        }
    }
}

/// The 32-byte HMAC key for `purpose`: HKDF-SHA256 (RFC 5869) of the secret, with a
/// fixed salt and the purpose as its `info`.
pub fn derive_key(secret: &[u8], purpose: Purpose) -> [u8; 32] {
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8,160-byte output limit: this cannot fail.
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&b"aisle token keys"[..]), secret)
        .expand(purpose.label(), &mut key)
        .unwrap_or_default();
    key
}

/// How long a token stays valid; every `welcome` issues a fresh one.
pub const TOKEN_TTL_SECS: i64 = 30 * 24 * 3600;

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Claims {
    /// The conversation.
    sub: String,
    tid: String,
    did: String,
    iat: i64,
    exp: i64,
}

/// How long a portal login lasts.
pub const ADMIN_TOKEN_TTL_SECS: i64 = 12 * 3600;
const ADMIN_AUDIENCE: &str = "aisle-admin";

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct AdminClaims {
    /// The user.
    sub: String,
    tid: String,
    role: String,
    aud: String,
    iat: i64,
    exp: i64,
}

/// Who a valid portal login token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminLogin {
    pub user: engine::domain::UserId,
    pub tenant: TenantId,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub tenant: TenantId,
    pub deployment: DeploymentId,
    pub conversation: ConversationId,
}

#[derive(Clone)]
struct KeyPair {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl KeyPair {
    fn derived(secret: &[u8], purpose: Purpose) -> Self {
        let key = derive_key(secret, purpose);
        Self { encoding: EncodingKey::from_secret(&key), decoding: DecodingKey::from_secret(&key) }
    }
}

/// The keys of both token kinds, derived from one secret.
#[derive(Clone)]
pub struct SessionKeys {
    shopper: KeyPair,
    admin: KeyPair,
}

impl SessionKeys {
    /// Keys derived from `secret` (at least [`MIN_SECRET_BYTES`]; the configuration
    /// refuses shorter ones).
    pub fn new(secret: &[u8]) -> Self {
        Self { shopper: KeyPair::derived(secret, Purpose::ShopperSession), admin: KeyPair::derived(secret, Purpose::AdminLogin) }
    }

    /// The secret from `data_dir/session.key`, generated on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join("session.key");
        let secret = match std::fs::read_to_string(&path) {
            Ok(s) if s.trim().len() >= MIN_SECRET_BYTES => s.trim().to_string(),
            _ => {
                let bytes: [u8; 32] = rand::rng().random();
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                std::fs::write(&path, &hex)?;
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
                }
                hex
            }
        };
        Ok(Self::new(secret.as_bytes()))
    }

    pub fn issue(&self, s: &Session) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: s.conversation.to_string(),
            tid: s.tenant.to_string(),
            did: s.deployment.to_string(),
            iat: now,
            exp: now + TOKEN_TTL_SECS,
        };
        // HS256 over plain claims cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.shopper.encoding).unwrap_or_default()
    }

    /// A portal login token for `login`, valid `ADMIN_TOKEN_TTL_SECS`.
    pub fn issue_admin(&self, login: &AdminLogin) -> String {
        let now = Utc::now().timestamp();
        let claims = AdminClaims {
            sub: login.user.to_string(),
            tid: login.tenant.to_string(),
            role: login.role.clone(),
            aud: ADMIN_AUDIENCE.into(),
            iat: now,
            exp: now + ADMIN_TOKEN_TTL_SECS,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.admin.encoding).unwrap_or_default()
    }

    /// The login of a valid, unexpired portal token signed by us; `None` otherwise
    /// (a shopper's session token included).
    pub fn verify_admin(&self, token: &str) -> Option<AdminLogin> {
        if token.len() > 2048 {
            return None;
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_audience(&[ADMIN_AUDIENCE]);
        v.set_required_spec_claims(&["exp", "sub", "aud"]);
        let data = jsonwebtoken::decode::<AdminClaims>(token, &self.admin.decoding, &v).ok()?;
        Some(AdminLogin {
            user: engine::domain::UserId::parse(data.claims.sub).ok()?,
            tenant: TenantId::parse(data.claims.tid).ok()?,
            role: data.claims.role,
        })
    }

    /// The session of a valid, unexpired token signed by us; `None` otherwise.
    pub fn verify(&self, token: &str) -> Option<Session> {
        if token.len() > 2048 {
            return None;
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.leeway = 0;
        v.set_required_spec_claims(&["exp", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.shopper.decoding, &v).ok()?;
        Some(Session {
            tenant: TenantId::parse(data.claims.tid).ok()?,
            deployment: DeploymentId::parse(data.claims.did).ok()?,
            conversation: ConversationId::parse(data.claims.sub).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session { tenant: TenantId::generate(), deployment: DeploymentId::generate(), conversation: ConversationId::generate() }
    }

    #[test]
    fn round_trip_and_forgery() {
        let keys = SessionKeys::new(b"0123456789abcdef0123456789abcdef");
        let s = session();
        let t = keys.issue(&s);
        assert_eq!(keys.verify(&t), Some(s));
        let other = SessionKeys::new(b"another secret, another server!!");
        assert_eq!(other.verify(&t), None);
        let mut tampered = t.clone();
        tampered.insert(tampered.len() / 2, 'x');
        assert_eq!(keys.verify(&tampered), None);
        assert_eq!(keys.verify("not a token"), None);
    }

    #[test]
    fn admin_and_shopper_tokens_never_pass_for_each_other() {
        let keys = SessionKeys::new(b"0123456789abcdef0123456789abcdef");
        let login = AdminLogin { user: engine::domain::UserId::generate(), tenant: TenantId::generate(), role: "owner".into() };
        let admin = keys.issue_admin(&login);
        assert_eq!(keys.verify_admin(&admin), Some(login));
        assert_eq!(keys.verify(&admin), None, "a portal token is not a shopper session");
        let shopper = keys.issue(&session());
        assert_eq!(keys.verify_admin(&shopper), None, "a shopper session is not a portal login");
        assert_eq!(SessionKeys::new(b"another secret, another server!!").verify_admin(&admin), None);
    }

    /// The refusal comes from the keys, not only from the claims: an admin login's
    /// claims (audience included) signed with the shopper key are refused as a login,
    /// a shopper session's claims signed with the admin key are refused as a session,
    /// and a token signed with the raw secret (no derivation) passes for neither.
    #[test]
    fn each_token_kind_has_its_own_derived_key() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = SessionKeys::new(secret);
        let now = Utc::now().timestamp();
        let login = AdminLogin { user: engine::domain::UserId::generate(), tenant: TenantId::generate(), role: "owner".into() };
        let admin_claims = AdminClaims {
            sub: login.user.to_string(),
            tid: login.tenant.to_string(),
            role: "owner".into(),
            aud: ADMIN_AUDIENCE.into(),
            iat: now,
            exp: now + 60,
        };
        assert_eq!(keys.verify_admin(&sign(&admin_claims, &keys.admin.encoding)), Some(login.clone()), "control: the admin key");
        assert_eq!(keys.verify_admin(&sign(&admin_claims, &keys.shopper.encoding)), None, "admin claims, shopper key");
        assert_eq!(keys.verify_admin(&sign(&admin_claims, &EncodingKey::from_secret(secret))), None, "admin claims, raw secret");

        let s = session();
        let shopper_claims =
            Claims { sub: s.conversation.to_string(), tid: s.tenant.to_string(), did: s.deployment.to_string(), iat: now, exp: now + 60 };
        assert_eq!(keys.verify(&sign(&shopper_claims, &keys.shopper.encoding)), Some(s), "control: the shopper key");
        assert_eq!(keys.verify(&sign(&shopper_claims, &keys.admin.encoding)), None, "shopper claims, admin key");
        assert_eq!(keys.verify(&sign(&shopper_claims, &EncodingKey::from_secret(secret))), None, "shopper claims, raw secret");

        // The derivation is fixed (tokens survive a restart) and labelled per purpose.
        assert_eq!(derive_key(secret, Purpose::AdminLogin), derive_key(secret, Purpose::AdminLogin));
        assert_ne!(derive_key(secret, Purpose::AdminLogin), derive_key(secret, Purpose::ShopperSession));
        assert_ne!(derive_key(secret, Purpose::AdminLogin).as_slice(), secret.as_slice());
    }

    fn sign<T: Serialize>(claims: &T, key: &EncodingKey) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key).unwrap()
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = SessionKeys::new(b"0123456789abcdef0123456789abcdef");
        let s = session();
        let claims = Claims { sub: s.conversation.to_string(), tid: s.tenant.to_string(), did: s.deployment.to_string(), iat: 0, exp: Utc::now().timestamp() - 5 };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.shopper.encoding).unwrap();
        assert_eq!(keys.verify(&t), None);
    }
}
