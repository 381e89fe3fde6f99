//! The tenant admin API (`/v1/admin/*`, contract §2): catalog import as a job, jobs,
//! products (listed by SKU, or searched with the retrieval the assistant uses).
//! Every handler takes the caller's tenant from [`AdminTenant`]; another tenant's
//! resource is simply not found (404).

use actix_web::{HttpResponse, web};
use engine::domain::{JobId, ProductId, TenantId};
use engine::events::ErrorCode;
use engine::jobs::MAX_IMPORT_BYTES;
use engine::plans::{month_start, monthly_message_quota, monthly_token_quota};
use engine::ports::jobs::JobRecord;
use engine::ports::retriever::{SearchFilters, SearchQuery};
use engine::views::ProductView;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::AdminTenant;
use crate::error::ApiError;
use crate::state::AppState;

/// Hits a ranked search pages through at most (`cursor` + `limit`).
pub const MAX_SEARCH_DEPTH: usize = 500;
pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/admin/tenant", web::get().to(tenant))
        .route("/v1/admin/usage", web::get().to(usage))
        .route("/v1/admin/catalog/import", web::post().to(import))
        .route("/v1/admin/jobs/{id}", web::get().to(job))
        .route("/v1/admin/products", web::get().to(products))
        .route("/v1/admin/products/{id}", web::get().to(product));
}

async fn tenant(state: web::Data<AppState>, who: AdminTenant) -> Result<HttpResponse, ApiError> {
    let t = state.store.get_tenant(&who.0).await?.ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(json!({"id": t.id.as_str(), "name": t.name, "plan": t.plan, "status": t.status})))
}

/// `GET /v1/admin/usage`: this billing period's (the UTC calendar month's)
/// conversations, shopper messages and LLM tokens, beside the plan's quotas. A tenant
/// whose tokens reached the quota is answered by the offline assistant until the
/// period ends, and `llm.note` says so.
async fn usage(state: web::Data<AppState>, who: AdminTenant) -> Result<HttpResponse, ApiError> {
    let tenant = state.store.get_tenant(&who.0).await?.ok_or_else(ApiError::not_found)?;
    let now = chrono::Utc::now();
    let start = month_start(now);
    let end = month_start(start + chrono::Duration::days(32));
    let conversations = state.store.count_conversations(&who.0, start).await?;
    let messages = state.store.count_shopper_messages(&who.0, start).await?;
    let llm = state.store.llm_usage(&who.0, start).await?;
    let token_quota = monthly_token_quota(&tenant.plan);
    let over = token_quota.is_some_and(|q| llm.total_tokens() >= q as i64);
    let note = over.then(|| {
        format!(
            "This period's LLM tokens reached the {} plan's quota: the offline assistant answers shoppers until {}.",
            tenant.plan,
            end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    });
    Ok(HttpResponse::Ok().json(json!({
        "period_start": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "period_end": end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "plan": tenant.plan,
        "conversations": conversations,
        "messages": messages,
        "message_quota": monthly_message_quota(&tenant.plan),
        "llm": {
            "prompt_tokens": llm.prompt_tokens,
            "completion_tokens": llm.completion_tokens,
            "total_tokens": llm.total_tokens(),
            "calls": llm.calls,
            "token_quota": token_quota,
            "over_quota": over,
            "note": note,
        },
    })))
}

/// `POST /v1/admin/catalog/import`: the CSV body becomes a job; `202 {"job_id"}`.
async fn import(
    state: web::Data<AppState>,
    who: AdminTenant,
    req: actix_web::HttpRequest,
    mut body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
    let csv_like = matches!(
        content_type.as_deref(),
        None | Some("text/csv" | "application/csv" | "text/plain" | "application/octet-stream" | "application/vnd.ms-excel")
    );
    if !csv_like {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            format!("the catalog is sent as CSV (Content-Type: text/csv), not {}", content_type.unwrap_or_default()),
        ));
    }
    if let Some(length) = req.headers().get(actix_web::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && length > MAX_IMPORT_BYTES
    {
        return Err(too_large());
    }
    let mut csv = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| crate::request_guard::body_error(&e))?;
        if csv.len() + chunk.len() > MAX_IMPORT_BYTES {
            return Err(too_large());
        }
        csv.extend_from_slice(&chunk);
    }
    if csv.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::new(ErrorCode::BadRequest, "the CSV body is empty"));
    }
    let job = state.jobs.submit_import(&who.0, csv).await.map_err(jobs_error)?;
    Ok(HttpResponse::Accepted().json(json!({"job_id": job.id.as_str(), "status": job.status.as_str()})))
}

fn too_large() -> ApiError {
    ApiError::new(ErrorCode::TooLarge, format!("a catalog file is at most {} MiB", MAX_IMPORT_BYTES / (1024 * 1024)))
}

fn jobs_error(e: engine::jobs::JobsError) -> ApiError {
    use engine::jobs::JobsError;
    match e {
        JobsError::Store(s) => s.into(),
        JobsError::TooLarge { cap, .. } => {
            ApiError::new(ErrorCode::TooLarge, format!("a catalog file is at most {cap} bytes on this server (AISLE_IMPORT_QUEUE_BYTES)"))
        }
        JobsError::QueueFull { queued, cap, retry_after, .. } => ApiError::rate_limited(
            format!(
                "this shop already has {queued} bytes of catalog imports queued or running (at most {cap}); wait for them to finish and send it again"
            ),
            retry_after,
        ),
        other => {
            tracing::error!(error = %other, "job system error");
            ApiError::new(ErrorCode::Unavailable, "the job queue is unavailable")
        }
    }
}

/// A job as the API shows it: the contract's fields, then progress and detail.
pub fn job_json(job: &JobRecord) -> Value {
    let detail: Value = serde_json::from_str(&job.detail).unwrap_or_else(|_| json!({}));
    json!({
        "id": job.id.as_str(),
        "kind": job.kind.as_str(),
        "status": job.status.as_str(),
        "imported": job.imported,
        "errors": job.errors.iter().map(|e| json!({"line": e.line, "message": e.message})).collect::<Vec<_>>(),
        "progress": {"done": job.done, "total": job.total},
        "attempts": job.attempts,
        "detail": detail,
        "created_at": job.created_at.to_rfc3339(),
        "updated_at": job.updated_at.to_rfc3339(),
    })
}

async fn job(state: web::Data<AppState>, who: AdminTenant, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = JobId::parse(path.into_inner()).map_err(|_| ApiError::not_found())?;
    let job = state.jobs.get(&who.0, &id).await.map_err(jobs_error)?.ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(job_json(&job)))
}

#[derive(Deserialize)]
struct ProductsQuery {
    q: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn parse_limit(limit: Option<&str>) -> Result<usize, ApiError> {
    let Some(raw) = limit.map(str::trim).filter(|l| !l.is_empty()) else { return Ok(DEFAULT_LIMIT) };
    match raw.parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::new(ErrorCode::BadRequest, format!("limit is a number from 1 to {MAX_LIMIT}, not {raw:?}"))),
    }
}

/// `GET /v1/admin/products?q=&limit=&cursor=`: by SKU without `q` (the cursor is the
/// last SKU seen); ranked by the assistant's retrieval with `q` (the cursor is the
/// number of hits already seen).
async fn products(state: web::Data<AppState>, who: AdminTenant, query: web::Query<ProductsQuery>) -> Result<HttpResponse, ApiError> {
    let limit = parse_limit(query.limit.as_deref())?;
    let tenant: &TenantId = &who.0;
    let text = query.q.as_deref().map(str::trim).unwrap_or("");
    if text.is_empty() {
        let after = query.cursor.as_deref().filter(|c| !c.is_empty());
        let mut page = state.store.list_products(tenant, after, (limit + 1) as u32).await?;
        let more = page.len() > limit;
        page.truncate(limit);
        let next = if more { page.last().map(|p| p.sku.to_string()) } else { None };
        let items: Vec<ProductView> = page.iter().map(ProductView::from).collect();
        return Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next})));
    }
    if text.chars().count() > 500 {
        return Err(ApiError::new(ErrorCode::BadRequest, "q is at most 500 characters"));
    }
    let offset = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => c
            .parse::<usize>()
            .ok()
            .filter(|&o| o < MAX_SEARCH_DEPTH)
            .ok_or_else(|| ApiError::new(ErrorCode::BadRequest, format!("cursor {c:?} is not one this search gave")))?,
    };
    let depth = (offset + limit + 1).min(MAX_SEARCH_DEPTH);
    let search = SearchQuery { text: text.to_string(), filters: SearchFilters::default(), limit: depth };
    let hits = state.retriever.search(tenant, &search).await.map_err(|e| {
        tracing::error!(error = %e, "admin product search failed");
        ApiError::new(ErrorCode::Unavailable, "search is unavailable")
    })?;
    let items: Vec<ProductView> = hits.iter().skip(offset).take(limit).map(|h| ProductView::from(h.product.as_ref())).collect();
    let seen = offset + items.len();
    let next = (hits.len() > seen && seen < MAX_SEARCH_DEPTH).then(|| seen.to_string());
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": next})))
}

async fn product(state: web::Data<AppState>, who: AdminTenant, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = ProductId::parse(path.into_inner()).map_err(|_| ApiError::not_found())?;
    let p = state.store.get_product(&who.0, &id).await?.ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(ProductView::from(&p)))
}
