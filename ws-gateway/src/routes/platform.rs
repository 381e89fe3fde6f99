//! The operator API (`/v1/platform/*`, contract §2), behind `AISLE_PLATFORM_TOKEN`;
//! without that variable the API is off (404).

use actix_web::{HttpResponse, web};
use engine::events::ErrorCode;
use engine::ports::store::TenantSettings;
use serde::Deserialize;
use serde_json::json;

use crate::auth::PlatformOperator;
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/platform/tenants", web::post().to(create_tenant));
}

#[derive(Deserialize)]
struct NewTenant {
    name: String,
    #[serde(default)]
    plan: Option<String>,
}

/// Plans a tenant may be created on.
const PLANS: &[&str] = &["free", "starter", "pro", "enterprise"];

/// `POST /v1/platform/tenants` → `201 {"tenant_id","api_key"}` (the key shown once).
async fn create_tenant(state: web::Data<AppState>, _op: PlatformOperator, body: web::Json<NewTenant>) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let plan = body.plan.as_deref().map(str::trim).filter(|p| !p.is_empty()).unwrap_or("free").to_ascii_lowercase();
    if !PLANS.contains(&plan.as_str()) {
        return Err(ApiError::new(ErrorCode::BadRequest, format!("unknown plan {plan:?}: one of {}", PLANS.join(", "))));
    }
    let tenant = state.tenants.create_tenant(None, &body.name, &plan, TenantSettings::default()).await?;
    let api_key = state.tenants.create_api_key(&tenant.id).await?;
    tracing::info!(tenant = %tenant.id, plan, "tenant created");
    Ok(HttpResponse::Created().json(json!({"tenant_id": tenant.id.as_str(), "api_key": api_key})))
}
