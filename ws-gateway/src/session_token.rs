//! Signed tokens. Shopper session tokens: a JWT naming tenant, deployment and
//! conversation, so a returning shopper resumes their conversation and cart and nobody
//! else's. Portal login tokens (`issue_admin`): a JWT naming a portal user, their
//! tenant and role, with the audience `aisle-admin`. Neither kind passes for the
//! other: each has claims the other lacks, and only admin tokens carry an audience.

use std::path::Path;

use chrono::Utc;
use engine::domain::{ConversationId, DeploymentId, TenantId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};

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
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SessionKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }

    /// The secret from `data_dir/session.key`, generated on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join("session.key");
        let secret = match std::fs::read_to_string(&path) {
            Ok(s) if s.trim().len() >= 32 => s.trim().to_string(),
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
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
        let data = jsonwebtoken::decode::<AdminClaims>(token, &self.decoding, &v).ok()?;
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
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).ok()?;
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

    #[test]
    fn expired_tokens_are_refused() {
        let keys = SessionKeys::new(b"0123456789abcdef0123456789abcdef");
        let s = session();
        let claims = Claims { sub: s.conversation.to_string(), tid: s.tenant.to_string(), did: s.deployment.to_string(), iat: 0, exp: Utc::now().timestamp() - 5 };
        let t = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert_eq!(keys.verify(&t), None);
    }
}
