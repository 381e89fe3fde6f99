//! The `Store` implementation, written once for both engines.
//!
//! `impl<DB> Store for SqlStore<DB>` is ordinary generic code: the SQL is shared
//! (sqlx-sqlite accepts `$1` parameters; statements built at run time use
//! `sqlx::QueryBuilder`, which writes each engine's own placeholders), and what differs
//! — the engine's name and the statement that opens a write transaction — comes from
//! [`Backend`]. Writes go through `self.writer`: on SQLite a pool of ONE connection, so
//! writers queue fairly in the pool instead of sleeping in SQLite's busy handler
//! (which backs off in steps of up to 100 ms and wrecked tail latency under load);
//! it opens writes with `BEGIN IMMEDIATE`, taking the write lock up front; PostgreSQL uses a
//! plain `BEGIN` and relies on row locks (`UPDATE ... WHERE stock >= $q` re-checks its
//! condition after waiting, so checkouts never oversell).
//!
//! The `where` clause on each `impl` block says what sqlx must provide for the SQL to
//! run on an engine: executing on a connection, and encoding and decoding the few
//! column types the schema uses (text, BIGINT, boolean). Both engines satisfy it;
//! Rust does not carry such bounds from a trait to its users, so each `impl` block of
//! the store (here, `admin_queries.rs`, `command_queries.rs`, `cart_queries.rs`,
//! `event_groups.rs`) states the same list.
//!
//! Architecture invariant: every statement on tenant data has `tenant_id = $n` in its
//! `WHERE` (or writes the tenant id it was given); a row of another tenant is never
//! read, changed or counted. The only lookup not scoped by tenant is
//! `deployment_by_key`, which is how a tenant is found in the first place.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use crate::domain::{
    Cart, CartLine, CommandId, ConversationId, DeploymentId, JobId, Order, OrderId, Product, ProductId, Sku,
    TenantId, UserId, VariantId, VariantState,
};
use crate::ports::jobs::JobRecord;
use crate::ports::store::{
    CartSave, ConversationRecord, ConversationSummary, Deployment, EventGroup, LlmUsage, PendingCommand, PortalUser, Store, StoreError, StoreResult,
    StoredEvent, Tenant, TenantSettings, TranscriptMessage, Upserted,
};
use crate::rows::{
    CartRow, ConversationRow, DeploymentRow, EventRow, MessageRow,
    TenantRow, corrupt, db_err, millis, to_json,
};
use crate::{Backend, SqlStore, VariantWrite, check_product, found, plan_variants};

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Backend,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    fn backend(&self) -> &'static str {
        DB::BACKEND_NAME
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    // --- tenants and deployments ----------------------------------------------

    async fn create_tenant(&self, tenant: &Tenant) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, name, plan, status, settings, catalog_version, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(&tenant.plan)
        .bind(&tenant.status)
        .bind(to_json(&tenant.settings)?)
        .bind(millis(&tenant.created_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn get_tenant(&self, id: &TenantId) -> StoreResult<Option<Tenant>> {
        sqlx::query_as::<_, TenantRow>(
            "SELECT id, name, plan, status, settings, created_at FROM tenants WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(TenantRow::into_domain)
        .transpose()
    }

    async fn update_tenant_settings(&self, id: &TenantId, settings: &TenantSettings) -> StoreResult<()> {
        let done = sqlx::query("UPDATE tenants SET settings = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(to_json(settings)?)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        found(DB::rows_affected(&done))
    }

    async fn set_tenant_status(&self, id: &TenantId, status: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE tenants SET status = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(status)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        found(DB::rows_affected(&done))
    }

    async fn create_deployment(&self, d: &Deployment) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO deployments (id, tenant_id, name, deployment_key, allowed_origins, revoked, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(d.id.as_str())
        .bind(d.tenant_id.as_str())
        .bind(&d.name)
        .bind(&d.key)
        .bind(to_json(&d.allowed_origins)?)
        .bind(d.revoked)
        .bind(millis(&d.created_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn deployment_by_key(&self, key: &str) -> StoreResult<Option<Deployment>> {
        sqlx::query_as::<_, DeploymentRow>(
            "SELECT id, tenant_id, name, deployment_key, allowed_origins, revoked, created_at \
             FROM deployments WHERE deployment_key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(DeploymentRow::into_domain)
        .transpose()
    }

    async fn list_deployments(&self, tenant: &TenantId) -> StoreResult<Vec<Deployment>> {
        sqlx::query_as::<_, DeploymentRow>(
            "SELECT id, tenant_id, name, deployment_key, allowed_origins, revoked, created_at \
             FROM deployments WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(DeploymentRow::into_domain)
        .collect()
    }

    async fn revoke_deployment(&self, tenant: &TenantId, id: &DeploymentId) -> StoreResult<()> {
        let done = sqlx::query("UPDATE deployments SET revoked = TRUE WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        found(DB::rows_affected(&done))
    }

    // --- tenant admin API keys -------------------------------------------------

    async fn create_api_key(&self, tenant: &TenantId, key_hash: &str, prefix: &str) -> StoreResult<()> {
        self.insert_api_key(tenant, key_hash, prefix).await
    }

    async fn tenant_by_api_key(&self, key_hash: &str) -> StoreResult<Option<TenantId>> {
        self.select_api_key_tenant(key_hash).await
    }

    // --- portal users ---------------------------------------------------------------

    async fn create_user(&self, user: &PortalUser) -> StoreResult<()> {
        self.insert_user(user).await
    }

    async fn users_by_email(&self, email: &str, limit: u32) -> StoreResult<Vec<PortalUser>> {
        self.select_users_by_email(email, limit).await
    }

    async fn tenant_user_by_email(&self, tenant: &TenantId, email: &str) -> StoreResult<Option<PortalUser>> {
        self.select_tenant_user_by_email(tenant, email).await
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<PortalUser>> {
        self.select_user(tenant, id).await
    }

    // --- background jobs ----------------------------------------------------------

    async fn create_job(&self, job: &JobRecord) -> StoreResult<()> {
        self.insert_job(job).await
    }

    async fn save_job(&self, job: &JobRecord) -> StoreResult<()> {
        self.update_job(job).await
    }

    async fn get_job(&self, tenant: &TenantId, id: &JobId) -> StoreResult<Option<JobRecord>> {
        self.select_job(tenant, id).await
    }

    // --- catalog ----------------------------------------------------------------

    async fn fail_unfinished_jobs(&self, instance: &str, reason: &str) -> StoreResult<u64> {
        self.fail_unfinished(instance, reason).await
    }

    async fn upsert_product(&self, product: &mut Product) -> StoreResult<Upserted> {
        check_product(product)?;
        let tenant = product.tenant_id.clone();
        let mut tx = self.write_tx().await?;
        // Written first: it takes the tenant's row lock, so upserts of one tenant
        // run one at a time and the read-then-write below cannot race.
        let bumped = sqlx::query("UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        found(DB::rows_affected(&bumped))?;

        let existing: Option<String> =
            sqlx::query_scalar("SELECT id FROM products WHERE tenant_id = $1 AND sku = $2")
                .bind(tenant.as_str())
                .bind(product.sku.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let outcome = match existing {
            Some(stored) => {
                product.id = ProductId::parse(stored).map_err(|e| corrupt("product id", e))?;
                Upserted::Updated
            }
            None => Upserted::Created,
        };
        let columns = (
            to_json(&product.tags)?,
            to_json(&product.options)?,
        );
        let sql = match outcome {
            Upserted::Created => {
                "INSERT INTO products (id, tenant_id, sku, title, description_html, description_text, \
                 category, tags, image_url, options, currency) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            }
            Upserted::Updated => {
                "UPDATE products SET sku = $3, title = $4, description_html = $5, description_text = $6, \
                 category = $7, tags = $8, image_url = $9, options = $10, currency = $11 \
                 WHERE id = $1 AND tenant_id = $2"
            }
        };
        sqlx::query(sql)
            .bind(product.id.as_str())
            .bind(tenant.as_str())
            .bind(product.sku.as_str())
            .bind(&product.title)
            .bind(&product.description_html)
            .bind(&product.description_text)
            .bind(&product.category)
            .bind(&columns.0)
            .bind(product.image_url.as_deref())
            .bind(&columns.1)
            .bind(product.currency.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;

        // Variants: keep the ids of SKUs already stored, drop the SKUs that left.
        let stored: Vec<(String, String)> =
            sqlx::query_as("SELECT sku, id FROM variants WHERE tenant_id = $1 AND product_id = $2")
                .bind(tenant.as_str())
                .bind(product.id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        // In row-id order, the order checkouts lock variants in (no deadlocks).
        for write in plan_variants(&mut product.variants, &stored)? {
            let (sql, position) = match write {
                VariantWrite::Delete(gone) => {
                    sqlx::query("DELETE FROM variants WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_str())
                        .bind(gone.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    continue;
                }
                VariantWrite::Update(position) => (
                    "UPDATE variants SET sku = $4, title = $5, options = $6, price_minor = $7, stock = $8, \
                     position = $9 WHERE id = $1 AND tenant_id = $2 AND product_id = $3",
                    position,
                ),
                VariantWrite::Insert(position) => (
                    "INSERT INTO variants (id, tenant_id, product_id, sku, title, options, price_minor, stock, \
                     position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    position,
                ),
            };
            let variant = &product.variants[position];
            sqlx::query(sql)
                .bind(variant.id.as_str())
                .bind(tenant.as_str())
                .bind(product.id.as_str())
                .bind(variant.sku.as_str())
                .bind(&variant.title)
                .bind(to_json(&variant.options)?)
                .bind(variant.price_minor)
                .bind(variant.stock)
                .bind(position as i64)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(outcome)
    }

    async fn get_product(&self, tenant: &TenantId, id: &ProductId) -> StoreResult<Option<Product>> {
        let found = self
            .products_where(tenant, "(SELECT * FROM products WHERE tenant_id = $1 AND id = $2)", &[id.as_str()], None)
            .await?;
        Ok(found.into_iter().next())
    }

    async fn product_by_sku(&self, tenant: &TenantId, sku: &Sku) -> StoreResult<Option<Product>> {
        let found = self
            .products_where(tenant, "(SELECT * FROM products WHERE tenant_id = $1 AND sku = $2)", &[sku.as_str()], None)
            .await?;
        Ok(found.into_iter().next())
    }

    async fn list_products(
        &self,
        tenant: &TenantId,
        after_sku: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Product>> {
        // SKUs are never empty, so "" is before the first one (bytewise on both engines).
        self.products_where(
            tenant,
            "(SELECT * FROM products WHERE tenant_id = $1 AND sku > $2 ORDER BY sku LIMIT $3)",
            &[after_sku.unwrap_or("")],
            Some(i64::from(limit)),
        )
        .await
    }

    async fn delete_product(&self, tenant: &TenantId, id: &ProductId) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        // Locks in the order every catalog write takes them: the tenant row
        // first (as upserts do), then variants by id (as checkouts do).
        let bumped = sqlx::query("UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        found(DB::rows_affected(&bumped))?;
        let mut variants: Vec<String> =
            sqlx::query_scalar("SELECT id FROM variants WHERE tenant_id = $1 AND product_id = $2")
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        variants.sort();
        for variant in &variants {
            sqlx::query("DELETE FROM variants WHERE tenant_id = $1 AND id = $2")
                .bind(tenant.as_str())
                .bind(variant.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        let done = sqlx::query("DELETE FROM products WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        found(DB::rows_affected(&done))?;
        tx.commit().await.map_err(db_err)
    }

    async fn catalog_version(&self, tenant: &TenantId) -> StoreResult<i64> {
        sqlx::query_scalar::<_, i64>("SELECT catalog_version FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound)
    }

    // --- conversations and their event log ------------------------------------

    async fn create_conversation(&self, r: &ConversationRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO conversations (id, tenant_id, deployment_id, started_at, last_message_at, messages, dialogue_state) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(r.id.as_str())
        .bind(r.tenant_id.as_str())
        .bind(r.deployment_id.as_str())
        .bind(millis(&r.started_at))
        .bind(r.last_message_at.as_ref().map(millis))
        .bind(r.messages)
        .bind(&r.dialogue_state)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn get_conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> StoreResult<Option<ConversationRecord>> {
        sqlx::query_as::<_, ConversationRow>(
            "SELECT id, tenant_id, deployment_id, started_at, last_message_at, messages, dialogue_state \
             FROM conversations WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(ConversationRow::into_domain)
        .transpose()
    }

    async fn save_dialogue_state(&self, tenant: &TenantId, id: &ConversationId, state: &str) -> StoreResult<()> {
        let done = sqlx::query("UPDATE conversations SET dialogue_state = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id.as_str())
            .bind(state)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        found(DB::rows_affected(&done))
    }

    async fn append_events(&self, tenant: &TenantId, conversation: &ConversationId, events: &[StoredEvent]) -> StoreResult<()> {
        self.insert_events(tenant, conversation, events).await
    }

    async fn append_event_groups(&self, groups: &[EventGroup<'_>]) -> StoreResult<()> {
        self.insert_event_groups(groups).await
    }

    async fn events_after(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        let rows = sqlx::query_as::<_, EventRow>(
            "SELECT seq, kind, payload, command_id, command FROM events \
             WHERE tenant_id = $1 AND conversation_id = $2 AND seq > $3 ORDER BY seq LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(EventRow::into_domain).collect())
    }

    async fn last_seq(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<i64> {
        sqlx::query_scalar::<_, i64>(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE tenant_id = $1 AND conversation_id = $2",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn command_acks(&self, tenant: &TenantId, conversation: &ConversationId, limit: u32) -> StoreResult<Vec<(String, i64)>> {
        self.select_command_acks(tenant, conversation, limit).await
    }

    async fn command_ack(&self, tenant: &TenantId, conversation: &ConversationId, command_id: &str) -> StoreResult<Option<i64>> {
        self.select_command_ack(tenant, conversation, command_id).await
    }

    async fn pending_commands(&self, tenant: &TenantId, conversation: &ConversationId, after: i64) -> StoreResult<Vec<PendingCommand>> {
        self.select_pending_commands(tenant, conversation, after).await
    }

    async fn count_shopper_messages(&self, tenant: &TenantId, since: DateTime<Utc>) -> StoreResult<i64> {
        self.count_shopper_messages_since(tenant, since).await
    }


    async fn count_conversations(&self, tenant: &TenantId, since: DateTime<Utc>) -> StoreResult<i64> {

        self.count_conversations_since(tenant, since).await

    }


    async fn add_llm_usage(

        &self,

        tenant: &TenantId,

        conversation: &ConversationId,

        period: DateTime<Utc>,

        usage: &LlmUsage,

    ) -> StoreResult<()> {

        self.upsert_llm_usage(tenant, conversation, period, usage).await

    }


    async fn llm_usage(&self, tenant: &TenantId, period: DateTime<Utc>) -> StoreResult<LlmUsage> {

        self.sum_llm_usage(tenant, None, Some(period)).await

    }


    async fn conversation_llm_usage(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<LlmUsage> {

        self.sum_llm_usage(tenant, Some(conversation), None).await

    }


    async fn put_conversation_summary(

        &self,

        tenant: &TenantId,

        conversation: &ConversationId,

        summary: &ConversationSummary,

    ) -> StoreResult<()> {

        self.upsert_conversation_summary(tenant, conversation, summary).await

    }


    async fn conversation_summary(

        &self,

        tenant: &TenantId,

        conversation: &ConversationId,

    ) -> StoreResult<Option<ConversationSummary>> {

        self.select_conversation_summary(tenant, conversation).await

    }

    async fn append_message(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        message: &TranscriptMessage,
    ) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let at = millis(&message.at);
        let done = sqlx::query(
            "UPDATE conversations SET messages = messages + 1, \
             last_message_at = CASE WHEN last_message_at IS NULL OR last_message_at < $3 \
                                    THEN $3 ELSE last_message_at END \
             WHERE tenant_id = $1 AND id = $2",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        found(DB::rows_affected(&done))?;
        sqlx::query(
            "INSERT INTO messages (tenant_id, conversation_id, role, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(message.role.as_str())
        .bind(&message.text)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn transcript(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<TranscriptMessage>> {
        sqlx::query_as::<_, MessageRow>(
            "SELECT role, body, created_at FROM messages \
             WHERE tenant_id = $1 AND conversation_id = $2 ORDER BY id",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(MessageRow::into_domain)
        .collect()
    }

    async fn list_conversations(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<ConversationRecord>> {
        sqlx::query_as::<_, ConversationRow>(
            "SELECT id, tenant_id, deployment_id, started_at, last_message_at, messages, dialogue_state \
             FROM conversations WHERE tenant_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(ConversationRow::into_domain)
        .collect()
    }

    async fn variant_states(&self, tenant: &TenantId, ids: &[VariantId]) -> StoreResult<Vec<VariantState>> {
        self.select_variant_states(tenant, ids).await
    }

    // --- carts and orders -------------------------------------------------------

    async fn load_cart(&self, tenant: &TenantId, conversation: &ConversationId) -> StoreResult<Option<Cart>> {
        sqlx::query_as::<_, CartRow>(
            "SELECT version, currency, lines, applied_seq FROM carts WHERE tenant_id = $1 AND conversation_id = $2",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(CartRow::into_domain)
        .transpose()
    }

    async fn cart_command(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        command: &CommandId,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar::<_, i64>(
            "SELECT version FROM cart_commands \
             WHERE tenant_id = $1 AND conversation_id = $2 AND command_id = $3",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(command.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn save_cart(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cart: &Cart,
        command: Option<&CommandId>,
    ) -> StoreResult<()> {
        if command.is_none() {
            // A single statement: no transaction round trips needed.
            let mut conn = self.writer.acquire().await.map_err(db_err)?;
            Self::put_cart(&mut *conn, tenant, conversation, cart, command).await?;
            return Ok(());
        }
        let mut tx = self.write_tx().await?;
        Self::put_cart(&mut *tx, tenant, conversation, cart, command).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn save_carts(&self, carts: &[CartSave<'_>]) -> StoreResult<()> {
        self.upsert_carts(carts).await
    }

    async fn place_order(&self, order: &Order, emptied_cart: &Cart, command: Option<&CommandId>) -> StoreResult<()> {
        let tenant = &order.tenant_id;
        let mut tx = self.write_tx().await?;
        // Variants in id order: two checkouts lock shared rows in the same order,
        // so PostgreSQL never has to break a deadlock between them.
        let mut lines: Vec<&CartLine> = order.lines.iter().collect();
        lines.sort_by(|a, b| a.variant_id.cmp(&b.variant_id));
        for line in lines {
            // The price guard: a price changed since the cart was validated fails
            // the order rather than charging what the shopper was not shown.
            let done = sqlx::query(
                "UPDATE variants SET stock = stock - $1 \
                 WHERE tenant_id = $2 AND id = $3 AND stock >= $1 AND price_minor = $4",
            )
            .bind(i64::from(line.quantity))
            .bind(tenant.as_str())
            .bind(line.variant_id.as_str())
            .bind(line.unit_price_minor)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if DB::rows_affected(&done) == 0 {
                let now: Option<(i64, i64)> =
                    sqlx::query_as("SELECT stock, price_minor FROM variants WHERE tenant_id = $1 AND id = $2")
                        .bind(tenant.as_str())
                        .bind(line.variant_id.as_str())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_err)?;
                tx.rollback().await.map_err(db_err)?;
                return Err(match now {
                    Some((_, price_minor)) if price_minor != line.unit_price_minor => {
                        StoreError::PriceChanged { sku: line.sku.to_string(), price_minor }
                    }
                    now => StoreError::OutOfStock { sku: line.sku.to_string(), available: now.map_or(0, |(stock, _)| stock) },
                });
            }
        }
        sqlx::query(
            "INSERT INTO orders (id, tenant_id, conversation_id, total_minor, currency, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(order.id.as_str())
        .bind(tenant.as_str())
        .bind(order.conversation_id.as_str())
        .bind(order.total_minor)
        .bind(order.currency.as_str())
        .bind(&order.status)
        .bind(millis(&order.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        for (position, line) in order.lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_lines (order_id, tenant_id, position, product_id, variant_id, sku, title, \
                 options, quantity, unit_price_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(order.id.as_str())
            .bind(tenant.as_str())
            .bind(position as i64)
            .bind(line.product_id.as_str())
            .bind(line.variant_id.as_str())
            .bind(line.sku.as_str())
            .bind(&line.title)
            .bind(to_json(&line.options)?)
            .bind(i64::from(line.quantity))
            .bind(line.unit_price_minor)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        Self::put_cart(&mut *tx, tenant, &order.conversation_id, emptied_cart, command).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get_order(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Option<Order>> {
        Ok(self.orders_where(tenant, Some(id), 1).await?.into_iter().next())
    }

    async fn list_orders(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<Order>> {
        self.orders_where(tenant, None, i64::from(limit)).await
    }
}
