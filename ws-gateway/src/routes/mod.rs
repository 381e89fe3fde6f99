//! HTTP routes. Every handler is thin: parse, call the engine or an actor, answer.

pub mod admin;
pub mod platform;
pub mod users;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::state::{AppState, VectorHealth};

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

/// Ready when its backends answer (contract §2): the store, and a configured Qdrant
/// server. Search that fell back to keywords with the embedded store still serves
/// (`vectors: "unavailable"`, and `aisle_retrieval_hybrid 0` on `/metrics`).
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.ping().await.map_err(|e| e.to_string());
    let (vectors, vectors_ok) = match &state.vectors {
        VectorHealth::Up(v) => match v.ping().await {
            Ok(()) => ("up", Ok(())),
            Err(e) => ("unavailable", Err(e.to_string())),
        },
        VectorHealth::Down { server: true, reason } => ("unavailable", Err(reason.clone())),
        VectorHealth::Down { server: false, .. } => ("unavailable", Ok(())),
    };
    let body = |status| json!({"status": status, "store": state.store.backend(), "vectors": vectors});
    match store.and(vectors_ok) {
        Ok(()) => HttpResponse::Ok().json(body("ready")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            HttpResponse::ServiceUnavailable().json(body("unavailable"))
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
