//! Who is calling the HTTP API: extractors that turn an `Authorization: Bearer …`
//! header into a tenant (an `sk_…` API key or a portal login token) or the operator
//! (`AISLE_PLATFORM_TOKEN`).
//! A handler that takes one of them cannot run for a caller without it. Once one
//! succeeds the request stops counting against the cap on unauthenticated requests
//! (`request_guard::authenticated`).

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use engine::domain::TenantId;
use engine::events::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;

/// The tenant whose admin credentials came with the request, and whose they were.
#[derive(Clone, Debug)]
pub struct AdminTenant(pub TenantId, pub AdminCaller);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminCaller {
    /// An `sk_…` API key: the tenant's own machinery, with every right.
    ApiKey,
    /// A portal user, by login token.
    User { id: engine::domain::UserId, role: String },
}

impl AdminTenant {
    /// API keys and owners may manage who has access.
    pub fn may_manage_users(&self) -> bool {
        match &self.1 {
            AdminCaller::ApiKey => true,
            AdminCaller::User { role, .. } => role == "owner",
        }
    }
}

/// The request carries the operator's platform token.
#[derive(Clone, Copy, Debug)]
pub struct PlatformOperator;

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

impl FromRequest for AdminTenant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::new(ErrorCode::Internal, "no application state"))?;
            let token = token.ok_or_else(|| unauthorized("send an API key or a portal login token as `Authorization: Bearer …`"))?;
            let who = if token.starts_with("sk_") {
                match state.tenants.resolve_api_key(&token).await {
                    Ok(tenant) => AdminTenant(tenant, AdminCaller::ApiKey),
                    Err(tenants::TenantError::Unauthorized) => return Err(unauthorized("unknown or revoked API key")),
                    Err(e) => return Err(e.into()),
                }
            } else {
                let login = state.session_keys.verify_admin(&token).ok_or_else(|| unauthorized("unknown or expired login token"))?;
                // The user must still exist in that tenant (a deleted user's token dies with them).
                match state.store.get_user(&login.tenant, &login.user).await? {
                    Some(user) => AdminTenant(login.tenant, AdminCaller::User { id: login.user, role: user.role }),
                    None => return Err(unauthorized("unknown or expired login token")),
                }
            };
            crate::request_guard::authenticated(&req);
            Ok(who)
        })
    }
}

impl FromRequest for PlatformOperator {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req.app_data::<web::Data<AppState>>().and_then(|s| s.config.platform_token.as_ref().map(|t| t.expose().to_string()));
        std::future::ready(match (expected, bearer(req)) {
            // Without a platform token configured, the operator API does not exist.
            (None, _) => Err(ApiError::not_found()),
            (Some(want), Some(got)) if same_secret(&want, &got) => {
                crate::request_guard::authenticated(req);
                Ok(PlatformOperator)
            }
            _ => Err(unauthorized("send the platform token as `Authorization: Bearer …`")),
        })
    }
}

/// Compares two secrets by their SHA-256, so the time taken says nothing about how
/// much of a guess was right.
fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let req = TestRequest::default().insert_header(("Authorization", "bearer  sk_abc ")).to_http_request();
        assert_eq!(bearer(&req).as_deref(), Some("sk_abc"));
        let req = TestRequest::default().insert_header(("Authorization", "Basic abc")).to_http_request();
        assert_eq!(bearer(&req), None);
        let req = TestRequest::default().insert_header(("Authorization", "Bearer ")).to_http_request();
        assert_eq!(bearer(&req), None);
        assert!(same_secret("x", "x") && !same_secret("x", "y"));
    }
}
