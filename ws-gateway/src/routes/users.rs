//! Portal staff (contract §2): `POST /v1/admin/users` adds a user to the caller's
//! tenant (an API key or an owner only); `POST /v1/auth/login` trades an email and
//! password for a login token usable as the Bearer of every `/v1/admin/*` call.
//! An email is unique within a tenant only: adding an address that has a login in
//! another tenant just creates the user (the answer says nothing of other tenants),
//! and a login checks the password against every tenant's user with that email
//! (`tenant_id` picks one when several match).
//! Logins are rate limited per (email, client address), so a password cannot be
//! guessed at speed, and per client address, so one client cannot try many emails at
//! speed. Not per email alone: then five wrong passwords from anywhere would lock the
//! real user out too (OWASP: no account-lockout denial of service). The address is
//! the TCP peer's (a proxy in front makes every client one address; `X-Forwarded-For`
//! is not trusted, as anyone can write it). The limiters are in `crate::limits`.

use actix_web::{HttpRequest, HttpResponse, web};
use engine::domain::TenantId;
use engine::events::ErrorCode;
use serde::Deserialize;
use serde_json::json;
use tenants::Role;

use crate::auth::AdminTenant;
use crate::error::ApiError;
use crate::session_token::{ADMIN_TOKEN_TTL_SECS, AdminLogin};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/admin/users", web::post().to(create_user)).route("/v1/auth/login", web::post().to(login));
}

/// Login attempts per email from one client address: a burst of 10, then one a
/// minute (a burst that refilled every few seconds would refill between slow,
/// password-hashing attempts and never trip).
pub const LOGINS_PER_EMAIL_PER_MINUTE: u32 = 10;
/// Login attempts per client address: a burst of 30, then one a minute.
pub const LOGINS_PER_ADDRESS_PER_MINUTE: u32 = 30;

#[derive(Deserialize)]
struct NewUser {
    email: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
}

async fn create_user(state: web::Data<AppState>, who: AdminTenant, body: web::Json<NewUser>) -> Result<HttpResponse, ApiError> {
    if !who.may_manage_users() {
        return Err(ApiError::new(ErrorCode::Forbidden, "only an owner or an API key may add users"));
    }
    let body = body.into_inner();
    let role = match body.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => Role::Staff,
        Some(r) => Role::parse(r).ok_or_else(|| ApiError::new(ErrorCode::BadRequest, format!("role is owner or staff, not {r:?}")))?,
    };
    let user = state.tenants.create_user(&who.0, &body.email, &body.password, role).await?;
    tracing::info!(tenant = %who.0, user = %user.id, role = user.role, "portal user created");
    Ok(HttpResponse::Created().json(json!({"id": user.id.as_str(), "email": user.email, "role": user.role})))
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
    /// Picks the tenant when the email and password open several (an email is
    /// unique per tenant only).
    #[serde(default)]
    tenant_id: Option<String>,
}

async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Json<Credentials>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let address = req.peer_addr().map_or_else(|| "unknown".to_string(), |a| a.ip().to_string());
    let limits = &state.limits;
    if let Err(wait) = limits.logins_per_address.check(&address) {
        return Err(ApiError::rate_limited(format!("too many login attempts from this address; {}", crate::limits::wait_text(wait)), wait));
    }
    // The email part is capped by the limiter (a 10 KB "email" is a short key).
    let email = tenants::normalize_email(&body.email).unwrap_or_else(|| body.email.trim().to_lowercase());
    if let Err(wait) = limits.logins_per_email_and_address.check(&format!("{address} {email}")) {
        return Err(ApiError::rate_limited(
            format!("too many login attempts for this email from this address; {}", crate::limits::wait_text(wait)),
            wait,
        ));
    }
    let tenant = match body.tenant_id.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(TenantId::parse(t).map_err(|_| ApiError::new(ErrorCode::BadRequest, format!("tenant_id {t:?} is not a tenant id")))?),
    };
    match state.tenants.login(&body.email, &body.password, tenant.as_ref()).await {
        Ok(user) => {
            let token = state.session_keys.issue_admin(&AdminLogin { user: user.id, tenant: user.tenant_id, role: user.role });
            Ok(HttpResponse::Ok().json(json!({"token": token, "expires_in": ADMIN_TOKEN_TTL_SECS})))
        }
        Err(tenants::TenantError::Unauthorized) => Err(ApiError::new(ErrorCode::Unauthorized, "wrong email or password")),
        Err(e) => Err(e.into()),
    }
}
