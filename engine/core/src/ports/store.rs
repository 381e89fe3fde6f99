//! The relational store port. Two adapters implement it, SQLite (embedded default) and
//! PostgreSQL, and one conformance suite (`engine/tests/it/store.rs`) runs on both.
//!
//! Architecture invariant: every method that touches a tenant's data takes that
//! `TenantId` and scopes its query by it; a row of another tenant is never read,
//! changed or counted.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Cart, CommandId, ConversationId, Currency, DeploymentId, JobId, Order, OrderId, Product, ProductId, Sku,
    TenantId, UserId, VariantId, VariantState,
};
use crate::ports::jobs::JobRecord;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A checkout found a variant with less stock than the cart holds.
    #[error("only {available} of {sku} in stock")]
    OutOfStock { sku: String, available: i64 },
    /// A checkout found a variant whose price is no longer the one in the cart (it
    /// changed after the cart was last validated): nothing was charged.
    #[error("the price of {sku} changed to {price_minor}")]
    PriceChanged { sku: String, price_minor: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Tokens a remote model used, and in how many model calls (turns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmUsage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub calls: i64,
}

impl LlmUsage {
    pub fn total_tokens(&self) -> i64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// The shop's bot and catalog settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    pub bot_name: String,
    pub greeting: String,
    pub persona: String,
    pub language: String,
    pub currency: Currency,
    /// The tenant's own language model, when it brings one (Groq key and model);
    /// empty: the deployment's (`GROQ_API_KEY`, `AISLE_GROQ_MODEL`).
    #[serde(default, skip_serializing_if = "LlmSettings::is_empty")]
    pub llm: LlmSettings,
}

/// A tenant's own language-model account. The key is a secret: admin views show only
/// whether one is set (`LlmSettings::redacted`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

impl LlmSettings {
    pub fn is_empty(&self) -> bool {
        self.api_key.is_none() && self.model.is_none()
    }
}

impl std::fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSettings")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .finish()
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            bot_name: "Aisle".into(),
            greeting: "Hi! I can help you find products, answer questions and check out.".into(),
            persona: String::new(),
            language: "en".into(),
            currency: Currency::USD,
            llm: LlmSettings::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub plan: String,
    pub status: String,
    pub settings: TenantSettings,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub id: DeploymentId,
    pub tenant_id: TenantId,
    pub name: String,
    /// `pk_…`: public, shipped in the shop's page.
    pub key: String,
    /// Exact origins (`https://shop.example`); empty allows any.
    pub allowed_origins: Vec<String>,
    pub revoked: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub tenant_id: TenantId,
    pub deployment_id: DeploymentId,
    pub started_at: DateTime<Utc>,
    pub last_message_at: Option<DateTime<Utc>>,
    pub messages: i64,
    /// The assistant's dialogue state (last products shown, a pending question),
    /// opaque JSON owned by the turn pipeline.
    pub dialogue_state: String,
}

/// One event of a conversation's log, as sent on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub kind: String,
    pub json: String,
    /// The client command this event acknowledges (only `ack` events carry one).
    pub command_id: Option<String>,
    /// For the `ack` of a cart command that changes the cart: the command itself
    /// (`CartOp` as JSON), so a conversation rebuilt after a crash can apply what was
    /// acknowledged but not yet applied (see `Cart::applied_seq`).
    pub command: Option<String>,
}

/// An acknowledged cart command, as `Store::pending_commands` finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCommand {
    /// The `seq` of its `ack`.
    pub seq: i64,
    pub command_id: String,
    /// The `CartOp` as JSON.
    pub command: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Shopper,
    Assistant,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Shopper => "shopper",
            Role::Assistant => "assistant",
            Role::Staff => "staff",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "shopper" => Some(Role::Shopper),
            "assistant" => Some(Role::Assistant),
            "staff" => Some(Role::Staff),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptMessage {
    pub role: Role,
    pub text: String,
    pub at: DateTime<Utc>,
}

/// A summary of a conversation's older messages: the first `covers_messages` of its
/// transcript (`engine::turn::summary`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationSummary {
    pub text: String,
    pub covers_messages: i64,
    pub at: DateTime<Utc>,
}

/// A person who signs in to the tenant's admin portal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortalUser {
    pub id: UserId,
    pub tenant_id: TenantId,
    /// Lower-case; unique within the tenant (the same address may have a login in
    /// several tenants).
    pub email: String,
    /// Argon2id, PHC string format. Never the password.
    pub password_hash: String,
    /// `owner` (may add users) or `staff`.
    pub role: String,
    pub created_at: DateTime<Utc>,
}

/// Events of one conversation, for `Store::append_event_groups`, and the cart they
/// leave it with: a shopper command's `ack`, its outcome and the cart row it changed
/// are one write, so none is durable without the others.
#[derive(Clone, Copy, Debug)]
pub struct EventGroup<'a> {
    pub tenant: &'a TenantId,
    pub conversation: &'a ConversationId,
    pub events: &'a [StoredEvent],
    /// Saved (as `save_carts` does) in the same transaction as `events`.
    pub cart: Option<&'a Cart>,
}

/// A cart of one conversation, for `Store::save_carts`.
#[derive(Clone, Copy, Debug)]
pub struct CartSave<'a> {
    pub tenant: &'a TenantId,
    pub conversation: &'a ConversationId,
    pub cart: &'a Cart,
}

/// The outcome of importing one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    Created,
    Updated,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which engine this is (`sqlite`, `postgres`), for logs and `/readyz`.
    fn backend(&self) -> &'static str;

    /// Cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    // --- tenants and deployments -------------------------------------------------
    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()>;
    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>>;
    async fn update_tenant_settings(&self, id: &TenantId, settings: &TenantSettings) -> StoreResult<()>;
    /// Sets the tenant's subscription status (`active`, `past_due`, `canceled`).
    async fn set_tenant_status(&self, id: &TenantId, status: &str) -> StoreResult<()>;
    async fn create_deployment(&self, deployment: &Deployment) -> StoreResult<()>;
    async fn deployment_by_key(&self, key: &str) -> StoreResult<Option<Deployment>>;
    async fn list_deployments(&self, tenant: &TenantId) -> StoreResult<Vec<Deployment>>;
    async fn revoke_deployment(&self, tenant: &TenantId, id: &DeploymentId) -> StoreResult<()>;

    // --- tenant admin API keys -----------------------------------------------------
    /// Records a `sk_…` key by its SHA-256 (hex); `prefix` is its first characters,
    /// kept to tell keys apart in a list.
    async fn create_api_key(&self, tenant: &TenantId, key_hash: &str, prefix: &str) -> StoreResult<()>;
    /// The tenant of a live key, by the key's hash. Like `deployment_by_key`, this is
    /// how a tenant is found in the first place, so it is not scoped by one.
    async fn tenant_by_api_key(&self, key_hash: &str) -> StoreResult<Option<TenantId>>;

    // --- portal users ---------------------------------------------------------------
    /// A second user with the same email in the same tenant is a `Conflict`; the same
    /// email in another tenant is another user.
    async fn create_user(&self, user: &PortalUser) -> StoreResult<()>;
    /// The users with this (lower-case) email, in every tenant, oldest first, at most
    /// `limit`. Not scoped by tenant: a login is how the tenant is found.
    async fn users_by_email(&self, email: &str, limit: u32) -> StoreResult<Vec<PortalUser>>;
    /// The tenant's user with this (lower-case) email.
    async fn tenant_user_by_email(&self, tenant: &TenantId, email: &str) -> StoreResult<Option<PortalUser>>;
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<PortalUser>>;

    // --- background jobs -----------------------------------------------------------
    async fn create_job(&self, job: &JobRecord) -> StoreResult<()>;
    /// Writes the job's status, counts, errors and detail (`NotFound` if the tenant
    /// has no such job).
    async fn save_job(&self, job: &JobRecord) -> StoreResult<()>;
    async fn get_job(&self, tenant: &TenantId, id: &JobId) -> StoreResult<Option<JobRecord>>;
    /// Marks every `queued` or `running` job that `instance` queued `failed` with
    /// `reason`, returning how many; jobs with no instance (recorded before instances
    /// were, migration 0006) count as this instance's. For start-up with the in-process
    /// queue, whose messages die with the process: a job left unfinished then will
    /// never run, and its record must say so. Another instance's jobs on a shared
    /// database are left alone. (Not scoped by tenant: it is about the process.)
    async fn fail_unfinished_jobs(&self, instance: &str, reason: &str) -> StoreResult<u64>;

    // --- catalog -----------------------------------------------------------------
    /// Inserts or, when the tenant already has a product with this SKU, updates it
    /// (keeping its id and the ids of variants whose SKU is unchanged). The product's
    /// `id`, and its variants' ids, are replaced by the stored ones where they exist.
    /// Bumps the tenant's catalog version.
    async fn upsert_product(&self, product: &mut Product) -> StoreResult<Upserted>;
    async fn get_product(&self, tenant: &TenantId, id: &ProductId) -> StoreResult<Option<Product>>;
    async fn product_by_sku(&self, tenant: &TenantId, sku: &Sku) -> StoreResult<Option<Product>>;
    /// Products ordered by SKU, after `after_sku` (a cursor), at most `limit`.
    async fn list_products(&self, tenant: &TenantId, after_sku: Option<&str>, limit: u32) -> StoreResult<Vec<Product>>;
    async fn delete_product(&self, tenant: &TenantId, id: &ProductId) -> StoreResult<()>;
    /// Increases on every catalog change; caches compare it to know they are stale.
    async fn catalog_version(&self, tenant: &TenantId) -> StoreResult<i64>;
    /// The current price and stock of these variants of `tenant`, in one read (cart
    /// commands validate against it, not against a catalog snapshot). A variant the
    /// tenant does not have (deleted, unknown, another tenant's) is absent; the order
    /// of the result is unspecified.
    async fn variant_states(&self, tenant: &TenantId, ids: &[VariantId]) -> StoreResult<Vec<VariantState>>;

    // --- conversations and their event log ----------------------------------------
    async fn create_conversation(&self, record: &ConversationRecord) -> StoreResult<()>;
    async fn get_conversation(&self, tenant: &TenantId, id: &ConversationId) -> StoreResult<Option<ConversationRecord>>;
    async fn save_dialogue_state(&self, tenant: &TenantId, id: &ConversationId, state: &str) -> StoreResult<()>;
    /// Appends events in one transaction. A `seq` already used is a `Conflict`.
    async fn append_events(&self, tenant: &TenantId, conversation: &ConversationId, events: &[StoredEvent]) -> StoreResult<()>;
    /// The events of several conversations in one write (group commit: one statement
    /// instead of one per conversation). All or nothing: on an error nothing was
    /// written, and the caller may append the groups one by one to find the culprit.
    ///
    /// A group's `cart` is saved in the same transaction as its events. The default
    /// (one call per group) is not atomic; the SQL stores override it.
    async fn append_event_groups(&self, groups: &[EventGroup<'_>]) -> StoreResult<()> {
        for g in groups {
            self.append_events(g.tenant, g.conversation, g.events).await?;
            if let Some(cart) = g.cart {
                self.save_cart(g.tenant, g.conversation, cart, None).await?;
            }
        }
        Ok(())
    }
    /// Events with `seq > after`, in order, at most `limit`.
    async fn events_after(&self, tenant: &TenantId, conversation: &ConversationId, after: i64, limit: u32) -> StoreResult<Vec<StoredEvent>>;
    async fn last_seq(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<i64>;
    /// The command ids the conversation acknowledged last (at most `limit`, the newest),
    /// with their acks' `seq`, in `seq` order.
    async fn command_acks(&self, tenant: &TenantId, conversation: &ConversationId, limit: u32) -> StoreResult<Vec<(String, i64)>>;
    /// The `seq` of the ack of one command id, if the conversation acknowledged it.
    async fn command_ack(&self, tenant: &TenantId, conversation: &ConversationId, command_id: &str) -> StoreResult<Option<i64>>;
    /// The acknowledged cart commands that carry a command body and whose ack's `seq`
    /// is above `after` (a cart's `applied_seq`), in `seq` order.
    async fn pending_commands(&self, tenant: &TenantId, conversation: &ConversationId, after: i64) -> StoreResult<Vec<PendingCommand>>;
    async fn append_message(&self, tenant: &TenantId, conversation: &ConversationId, message: &TranscriptMessage) -> StoreResult<()>;
    async fn transcript(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<Vec<TranscriptMessage>>;
    /// Replaces the summary of the conversation's older messages (written by the
    /// summary job; a summary covering fewer messages than the stored one is ignored).
    async fn put_conversation_summary(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        summary: &ConversationSummary,
    ) -> StoreResult<()>;
    async fn conversation_summary(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<Option<ConversationSummary>>;
    /// How many shopper messages the tenant's conversations received since `since`.
    async fn count_shopper_messages(&self, tenant: &TenantId, since: DateTime<Utc>) -> StoreResult<i64>;
    /// Conversations started at or after `since`.
    async fn count_conversations(&self, tenant: &TenantId, since: DateTime<Utc>) -> StoreResult<i64>;

    // --- LLM usage -------------------------------------------------------------------
    /// Adds one turn's tokens to the conversation's count of the billing period that
    /// starts at `period`: one atomic increment (never a read-modify-write).
    async fn add_llm_usage(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        period: DateTime<Utc>,
        usage: &LlmUsage,
    ) -> StoreResult<()>;
    /// The tenant's tokens in the billing period that starts at `period`.
    async fn llm_usage(&self, tenant: &TenantId, period: DateTime<Utc>) -> StoreResult<LlmUsage>;
    /// One conversation's tokens, all periods.
    async fn conversation_llm_usage(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<LlmUsage>;
    async fn list_conversations(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<ConversationRecord>>;

    // --- carts and orders ----------------------------------------------------------
    /// The conversation's cart, or `None` if it never had one.
    async fn load_cart(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<Option<Cart>>;
    /// Whether this cart command id was already applied (and the cart version it made).
    async fn cart_command(&self, tenant: &TenantId, conversation: &ConversationId, command: &CommandId) -> StoreResult<Option<i64>>;
    /// Saves the cart (with its `applied_seq`), recording `command` as applied in the
    /// same transaction.
    async fn save_cart(&self, tenant: &TenantId, conversation: &ConversationId, cart: &Cart, command: Option<&CommandId>) -> StoreResult<()>;
    /// Saves the carts of several conversations in one write (group commit), with no
    /// command records. A cart that is not its tenant's is never written; on an error
    /// the others may or may not have been, and the caller saves them one by one
    /// (saving a cart again writes the same row) to find the culprit.
    async fn save_carts(&self, carts: &[CartSave<'_>]) -> StoreResult<()> {
        for c in carts {
            self.save_cart(c.tenant, c.conversation, c.cart, None).await?;
        }
        Ok(())
    }
    /// Places an order from `cart`: in one transaction, decrements every line's stock
    /// (failing with `OutOfStock` and changing nothing if any would go below zero, and
    /// with `PriceChanged` if a line's `unit_price_minor` is no longer the variant's
    /// price, so an order never charges a price the shopper was not shown), inserts
    /// the order and its lines, and saves the emptied cart.
    async fn place_order(&self, order: &Order, emptied_cart: &Cart, command: Option<&CommandId>) -> StoreResult<()>;
    async fn get_order(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Option<Order>>;
    async fn list_orders(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<Order>>;
}
