//! The one place wire codes meet transports: each contract error code gets its HTTP
//! status here, and each reason to close a socket its WebSocket close code.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use engine::events::ErrorCode;
use serde_json::json;

/// HTTP status of a contract error code. Exhaustive: a new code must choose.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::OutOfStock | ErrorCode::EmptyCart | ErrorCode::PriceChanged => StatusCode::CONFLICT,
        ErrorCode::VariantRequired => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::RateLimited | ErrorCode::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
    }
}

/// WebSocket close codes of the contract (§1) and the standard ones we use.
pub mod close {
    /// `hello` did not arrive in time.
    pub const HELLO_TIMEOUT: u16 = 4408;
    /// Unknown, revoked or forged credentials.
    pub const UNAUTHORIZED: u16 = 4401;
    /// Origin not allowed for the deployment.
    pub const FORBIDDEN: u16 = 4403;
    /// The client did not keep up with its events (RFC 6455 "try again later").
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// A frame above the hard limit.
    pub const TOO_BIG: u16 = 1009;
    /// The client stopped reading: its queue of events passed `actors::OUTBOX_BYTES`,
    /// or a write waited longer than the write timeout. The conversation is intact;
    /// the client reconnects and resumes with `resume_from_seq`.
    pub const TOO_SLOW: u16 = 4008;
    /// Refused by a rate limit (new conversations per deployment key); the `error`
    /// frame before the close says how long to wait.
    pub const RATE_LIMITED: u16 = 4429;
    pub const INTERNAL: u16 = 1011;
}

/// What a shopper (and the shop's admin) is told when the tenant's subscription is
/// canceled.
pub const CANCELED_MESSAGE: &str = "this shop's subscription is canceled: its assistant is closed";

/// An error answered over HTTP as `{"error":{"code","message"}}`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Sent as `Retry-After` (whole seconds, at least 1): how long a rate-limited
    /// client should wait.
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }
    /// `rate_limited` (429) with `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, retry_after: std::time::Duration) -> Self {
        Self { code: ErrorCode::RateLimited, message: message.into(), retry_after: Some(retry_after) }
    }
    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "not found")
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(wait) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, retry_after_secs(wait).to_string()));
        }
        response.json(json!({"error": {"code": self.code.as_str(), "message": self.message}}))
    }
}

impl From<engine::ports::store::StoreError> for ApiError {
    fn from(e: engine::ports::store::StoreError) -> Self {
        use engine::ports::store::StoreError as S;
        match e {
            S::NotFound => ApiError::not_found(),
            S::Conflict(m) => ApiError::new(ErrorCode::BadRequest, m),
            S::OutOfStock { sku, available } => ApiError::new(ErrorCode::OutOfStock, format!("only {available} of {sku} in stock")),
            S::PriceChanged { sku, price_minor } => {
                ApiError::new(ErrorCode::PriceChanged, format!("the price of {sku} changed to {price_minor}"))
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::new(ErrorCode::Unavailable, "the store is unavailable")
            }
        }
    }
}

impl From<tenants::TenantError> for ApiError {
    fn from(e: tenants::TenantError) -> Self {
        match e {
            tenants::TenantError::Unauthorized => ApiError::new(ErrorCode::Unauthorized, "unknown or revoked key"),
            tenants::TenantError::Invalid(m) => ApiError::new(ErrorCode::BadRequest, m),
            // The contract has no conflict code; 409 would say it, but a taken email is
            // a request to fix, like any other bad field.
            tenants::TenantError::Taken(m) => ApiError::new(ErrorCode::BadRequest, m),
            e @ tenants::TenantError::SeveralTenants(_) => ApiError::new(ErrorCode::BadRequest, e.to_string()),
            tenants::TenantError::Canceled => ApiError::new(ErrorCode::Forbidden, CANCELED_MESSAGE),
            tenants::TenantError::Store(s) => s.into(),
        }
    }
}

/// A wait as `Retry-After` seconds: rounded up, at least 1.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Request bodies and query strings actix could not read, in the contract's error
/// shape: JSON that does not parse or has the wrong fields is a 400, a body over the
/// limit a 413, a body that did not arrive in time a 408.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default().limit(64 * 1024).error_handler(|err, _| {
        use actix_web::error::JsonPayloadError as J;
        let api = match &err {
            J::Overflow { .. } | J::OverflowKnownLength { .. } => ApiError::new(ErrorCode::TooLarge, "the JSON body is too large"),
            J::ContentType => ApiError::new(ErrorCode::BadRequest, "send JSON with Content-Type: application/json"),
            // A body slower than `AISLE_BODY_TIMEOUT_MS` (see `request_guard`) is a 408.
            J::Payload(e) => crate::request_guard::body_error(e),
            other => ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {other}")),
        };
        api.into()
    })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default()
        .error_handler(|err, _| ApiError::new(ErrorCode::BadRequest, format!("invalid query string: {err}")).into())
}
