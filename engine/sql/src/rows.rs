//! Rows as they come out of either engine, and their conversion into domain values.
//!
//! The row structs derive `sqlx::FromRow`, whose generated impl is generic over the
//! row type, so one struct serves SQLite and PostgreSQL alike. Everything read back is
//! parsed again (ids, currencies, JSON, times): a bad value is `StoreError::Corrupt`,
//! never a panic.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::FromRow;

use crate::domain::{
    CartLine, ConversationId, Currency, DeploymentId, JobId, Order, OrderId, Product, ProductId, Sku, TenantId,
    UserId, Variant, VariantId,
};
use crate::ports::jobs::{JobKind, JobLineError, JobRecord, JobStatus};
use crate::ports::store::{
    ConversationRecord, Deployment, PortalUser, Role, StoreError, StoreResult, StoredEvent, Tenant, TenantSettings,
    TranscriptMessage,
};

/// Maps an sqlx error onto the port's error, once for every query.
pub(super) fn db_err(e: sqlx::Error) -> StoreError {
    use sqlx::error::ErrorKind;
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(d) => match d.kind() {
            ErrorKind::UniqueViolation | ErrorKind::CheckViolation => StoreError::Conflict(d.message().to_string()),
            // Every foreign key points at the owner of a row (a tenant, a conversation,
            // a product): a missing owner is a missing resource.
            ErrorKind::ForeignKeyViolation => StoreError::NotFound,
            _ => StoreError::Database(d.to_string()),
        },
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
        sqlx::Error::Migrate(m) => StoreError::Migration(m.to_string()),
        other => StoreError::Database(other.to_string()),
    }
}

pub(super) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {detail}"))
}

pub(super) fn to_json<T: Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("cannot encode JSON: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

pub(super) fn millis(t: &DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(what: &str, ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt(what, format!("timestamp {ms} out of range")))
}

fn id<T, E: std::fmt::Display>(what: &str, parse: impl FnOnce(String) -> Result<T, E>, s: String) -> StoreResult<T> {
    parse(s).map_err(|e| corrupt(what, e))
}

fn currency(s: &str) -> StoreResult<Currency> {
    Currency::parse(s).map_err(|e| corrupt("currency", e))
}

#[derive(FromRow)]
pub(super) struct TenantRow {
    id: String,
    name: String,
    plan: String,
    status: String,
    settings: String,
    created_at: i64,
}

impl TenantRow {
    pub(super) fn into_domain(self) -> StoreResult<Tenant> {
        Ok(Tenant {
            id: id("tenant id", TenantId::parse, self.id)?,
            name: self.name,
            plan: self.plan,
            status: self.status,
            settings: from_json::<TenantSettings>("tenant settings", &self.settings)?,
            created_at: time("tenant created_at", self.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(super) struct DeploymentRow {
    id: String,
    tenant_id: String,
    name: String,
    deployment_key: String,
    allowed_origins: String,
    revoked: bool,
    created_at: i64,
}

impl DeploymentRow {
    pub(super) fn into_domain(self) -> StoreResult<Deployment> {
        Ok(Deployment {
            id: id("deployment id", DeploymentId::parse, self.id)?,
            tenant_id: id("tenant id", TenantId::parse, self.tenant_id)?,
            name: self.name,
            key: self.deployment_key,
            allowed_origins: from_json("allowed_origins", &self.allowed_origins)?,
            revoked: self.revoked,
            created_at: time("deployment created_at", self.created_at)?,
        })
    }
}

/// One variant joined with its product: product reads are a single statement, so
/// they see one consistent snapshot of the product and its variants.
#[derive(FromRow)]
pub(super) struct ProductVariantRow {
    p_id: String,
    p_sku: String,
    p_title: String,
    description_html: String,
    description_text: String,
    category: String,
    tags: String,
    image_url: Option<String>,
    p_options: String,
    currency: String,
    v_id: String,
    v_sku: String,
    v_title: String,
    v_options: String,
    price_minor: i64,
    stock: i64,
}

/// The product columns and the variant columns of [`ProductVariantRow`], in that order.
pub(super) const PRODUCT_COLUMNS: &str = "p.id AS p_id, p.sku AS p_sku, p.title AS p_title, \
     p.description_html, p.description_text, p.category, p.tags, p.image_url, \
     p.options AS p_options, p.currency, v.id AS v_id, v.sku AS v_sku, v.title AS v_title, \
     v.options AS v_options, v.price_minor, v.stock";

/// Groups rows ordered by product (then variant position) into products.
pub(super) fn assemble_products(tenant: &TenantId, rows: Vec<ProductVariantRow>) -> StoreResult<Vec<Product>> {
    let mut out: Vec<Product> = Vec::new();
    for row in rows {
        let variant = Variant {
            id: id("variant id", VariantId::parse, row.v_id)?,
            sku: Sku::parse(&row.v_sku).map_err(|e| corrupt("variant sku", e))?,
            title: row.v_title,
            options: from_json::<BTreeMap<String, String>>("variant options", &row.v_options)?,
            price_minor: row.price_minor,
            stock: row.stock,
        };
        if let Some(last) = out.last_mut()
            && last.id.as_str() == row.p_id
        {
            last.variants.push(variant);
            continue;
        }
        out.push(Product {
            id: id("product id", ProductId::parse, row.p_id)?,
            tenant_id: tenant.clone(),
            sku: Sku::parse(&row.p_sku).map_err(|e| corrupt("product sku", e))?,
            title: row.p_title,
            description_html: row.description_html,
            description_text: row.description_text,
            category: row.category,
            tags: from_json("product tags", &row.tags)?,
            image_url: row.image_url,
            options: from_json("product options", &row.p_options)?,
            currency: currency(&row.currency)?,
            variants: vec![variant],
        });
    }
    Ok(out)
}

#[derive(FromRow)]
pub(super) struct ConversationRow {
    id: String,
    tenant_id: String,
    deployment_id: String,
    started_at: i64,
    last_message_at: Option<i64>,
    messages: i64,
    dialogue_state: String,
}

impl ConversationRow {
    pub(super) fn into_domain(self) -> StoreResult<ConversationRecord> {
        Ok(ConversationRecord {
            id: id("conversation id", ConversationId::parse, self.id)?,
            tenant_id: id("tenant id", TenantId::parse, self.tenant_id)?,
            deployment_id: id("deployment id", DeploymentId::parse, self.deployment_id)?,
            started_at: time("conversation started_at", self.started_at)?,
            last_message_at: self.last_message_at.map(|ms| time("last_message_at", ms)).transpose()?,
            messages: self.messages,
            dialogue_state: self.dialogue_state,
        })
    }
}

#[derive(FromRow)]
pub(super) struct EventRow {
    seq: i64,
    kind: String,
    payload: String,
    command_id: Option<String>,
    command: Option<String>,
}

impl EventRow {
    pub(super) fn into_domain(self) -> StoredEvent {
        StoredEvent { seq: self.seq, kind: self.kind, json: self.payload, command_id: self.command_id, command: self.command }
    }
}

#[derive(FromRow)]
pub(super) struct MessageRow {
    role: String,
    body: String,
    created_at: i64,
}

impl MessageRow {
    pub(super) fn into_domain(self) -> StoreResult<TranscriptMessage> {
        Ok(TranscriptMessage {
            role: Role::parse(&self.role).ok_or_else(|| corrupt("message role", &self.role))?,
            text: self.body,
            at: time("message time", self.created_at)?,
        })
    }
}

#[derive(FromRow)]
pub(super) struct CartRow {
    version: i64,
    currency: String,
    lines: String,
    applied_seq: i64,
}

impl CartRow {
    pub(super) fn into_domain(self) -> StoreResult<crate::domain::Cart> {
        Ok(crate::domain::Cart {
            version: self.version,
            currency: currency(&self.currency)?,
            lines: from_json("cart lines", &self.lines)?,
            applied_seq: self.applied_seq,
        })
    }
}

/// An order joined with one of its lines (the line columns are NULL for an order
/// without lines, which the store never writes but still reads back).
#[derive(FromRow)]
pub(super) struct OrderLineJoinRow {
    id: String,
    tenant_id: String,
    conversation_id: String,
    total_minor: i64,
    currency: String,
    status: String,
    created_at: i64,
    product_id: Option<String>,
    variant_id: Option<String>,
    sku: Option<String>,
    title: Option<String>,
    options: Option<String>,
    quantity: Option<i64>,
    unit_price_minor: Option<i64>,
}

/// Groups rows ordered by order (then line position) into orders.
pub(super) fn assemble_orders(rows: Vec<OrderLineJoinRow>) -> StoreResult<Vec<Order>> {
    let mut out: Vec<Order> = Vec::new();
    for row in rows {
        let line = match (row.product_id, row.variant_id, row.sku, row.title, row.options, row.quantity) {
            (Some(product_id), Some(variant_id), Some(sku), Some(title), Some(options), Some(quantity)) => {
                Some(CartLine {
                    product_id: id("product id", ProductId::parse, product_id)?,
                    variant_id: id("variant id", VariantId::parse, variant_id)?,
                    sku: Sku::parse(&sku).map_err(|e| corrupt("order line sku", e))?,
                    title,
                    options: from_json("order line options", &options)?,
                    quantity: u32::try_from(quantity).map_err(|e| corrupt("order line quantity", e))?,
                    unit_price_minor: row.unit_price_minor.ok_or_else(|| corrupt("order line", "no unit price"))?,
                })
            }
            _ => None,
        };
        if let Some(last) = out.last_mut()
            && last.id.as_str() == row.id
        {
            last.lines.extend(line);
            continue;
        }
        out.push(Order {
            id: id("order id", OrderId::parse, row.id)?,
            tenant_id: id("tenant id", TenantId::parse, row.tenant_id)?,
            conversation_id: id("conversation id", ConversationId::parse, row.conversation_id)?,
            lines: line.into_iter().collect(),
            total_minor: row.total_minor,
            currency: currency(&row.currency)?,
            status: row.status,
            created_at: time("order created_at", row.created_at)?,
        });
    }
    Ok(out)
}

#[derive(FromRow)]
pub(super) struct JobRow {
    id: String,
    tenant_id: String,
    kind: String,
    status: String,
    imported: i64,
    total: i64,
    done: i64,
    attempts: i64,
    errors: String,
    detail: String,
    created_at: i64,
    updated_at: i64,
    instance_id: Option<String>,
}

pub(super) const JOB_COLUMNS: &str =
    "id, tenant_id, kind, status, imported, total, done, attempts, errors, detail, created_at, updated_at, instance_id";

impl JobRow {
    pub(super) fn into_domain(self) -> StoreResult<JobRecord> {
        Ok(JobRecord {
            id: id("job id", JobId::parse, self.id)?,
            tenant_id: id("job tenant id", TenantId::parse, self.tenant_id)?,
            kind: JobKind::parse(&self.kind).ok_or_else(|| corrupt("job kind", &self.kind))?,
            status: JobStatus::parse(&self.status).ok_or_else(|| corrupt("job status", &self.status))?,
            imported: self.imported,
            total: self.total,
            done: self.done,
            attempts: self.attempts,
            errors: from_json::<Vec<JobLineError>>("job errors", &self.errors)?,
            detail: self.detail,
            created_at: time("job created_at", self.created_at)?,
            updated_at: time("job updated_at", self.updated_at)?,
            instance_id: self.instance_id,
        })
    }
}

#[derive(FromRow)]
pub(super) struct UserRow {
    id: String,
    tenant_id: String,
    email: String,
    password_hash: String,
    role: String,
    created_at: i64,
}

pub(super) const USER_COLUMNS: &str = "id, tenant_id, email, password_hash, role, created_at";

impl UserRow {
    pub(super) fn into_domain(self) -> StoreResult<PortalUser> {
        Ok(PortalUser {
            id: id("user id", UserId::parse, self.id)?,
            tenant_id: id("user tenant id", TenantId::parse, self.tenant_id)?,
            email: self.email,
            password_hash: self.password_hash,
            role: self.role,
            created_at: time("user created_at", self.created_at)?,
        })
    }
}
