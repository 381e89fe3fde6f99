//! HTTP routes. Every handler is thin: parse, call the engine or an actor, answer.

pub mod admin;
pub mod platform;
pub mod users;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/favicon.ico", web::get().to(|| async { HttpResponse::NoContent().finish() }))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/v1/demo", web::get().to(demo))
        .route("/v1/ws", web::get().to(crate::ws::upgrade))
        .configure(platform::configure)
        .configure(admin::configure)
        .configure(users::configure);
}

async fn index(state: web::Data<AppState>) -> HttpResponse {
    if state.demo.is_none() {
        return HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
            "<!doctype html><title>Aisle</title><p>Aisle is running. Start it with AISLE_DEMO=1 for the demo shop.</p>",
        );
    }
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(include_str!("../../static/index.html"))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({"status": "ready", "store": state.store.backend()})),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "store": state.store.backend()}))
        }
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(state.metrics.render())
}

async fn demo(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let demo = state.demo.as_ref().ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(json!({"tenant_id": demo.tenant_id.as_str(), "deployment_key": demo.deployment_key})))
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}
