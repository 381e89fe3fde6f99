//! Tenant administration in SQL: API keys, portal users, jobs, and the usage counts
//! plan quotas are checked against — written once for both engines, like the rest of
//! the store (see `queries.rs` for the `where` clause); the `Store` impl there
//! delegates to these.
//!
//! Architecture invariant: as in `queries.rs`, every statement on a tenant's rows has
//! `tenant_id = $n`; the two lookups that find a tenant in the first place (an API
//! key's hash, a login's email: `select_users_by_email`) are the only ones that do not.

use chrono::{DateTime, Utc};
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use crate::domain::{ConversationId, JobId, TenantId, UserId};
use crate::ports::jobs::JobRecord;
use crate::ports::store::{ConversationSummary, LlmUsage, PortalUser, StoreResult};
use crate::rows::{JOB_COLUMNS, JobRow, USER_COLUMNS, UserRow, corrupt, db_err, millis, to_json};
use crate::{Backend, SqlStore, found};

impl<DB> SqlStore<DB>
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
    pub(crate) async fn insert_api_key(&self, tenant: &TenantId, key_hash: &str, prefix: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO api_keys (key_hash, tenant_id, prefix, revoked, created_at) VALUES ($1, $2, $3, FALSE, $4)")
            .bind(key_hash)
            .bind(tenant.as_str())
            .bind(prefix)
            .bind(millis(&Utc::now()))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn select_api_key_tenant(&self, key_hash: &str) -> StoreResult<Option<TenantId>> {
        let tenant: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM api_keys WHERE key_hash = $1 AND revoked = FALSE")
                .bind(key_hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        tenant.map(|t| TenantId::parse(t).map_err(|e| corrupt("api key tenant id", e))).transpose()
    }

    pub(crate) async fn insert_user(&self, user: &PortalUser) -> StoreResult<()> {
        sqlx::query(&format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
            .bind(user.id.as_str())
            .bind(user.tenant_id.as_str())
            .bind(&user.email)
            .bind(&user.password_hash)
            .bind(&user.role)
            .bind(millis(&user.created_at))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Every tenant's user with this email (an email is unique per tenant only),
    /// oldest first; the login checks the password against each.
    pub(crate) async fn select_users_by_email(&self, email: &str, limit: u32) -> StoreResult<Vec<PortalUser>> {
        sqlx::query_as::<_, UserRow>(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1 ORDER BY created_at, id LIMIT $2"
        ))
        .bind(email)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(UserRow::into_domain)
        .collect()
    }

    pub(crate) async fn select_tenant_user_by_email(&self, tenant: &TenantId, email: &str) -> StoreResult<Option<PortalUser>> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND email = $2"))
            .bind(tenant.as_str())
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(UserRow::into_domain)
            .transpose()
    }

    pub(crate) async fn select_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<PortalUser>> {
        sqlx::query_as::<_, UserRow>(&format!("SELECT {USER_COLUMNS} FROM users WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(UserRow::into_domain)
            .transpose()
    }

    pub(crate) async fn insert_job(&self, job: &JobRecord) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO jobs ({JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ))
        .bind(job.id.as_str())
        .bind(job.tenant_id.as_str())
        .bind(job.kind.as_str())
        .bind(job.status.as_str())
        .bind(job.imported)
        .bind(job.total)
        .bind(job.done)
        .bind(job.attempts)
        .bind(to_json(&job.errors)?)
        .bind(&job.detail)
        .bind(millis(&job.created_at))
        .bind(millis(&job.updated_at))
        .bind(job.instance_id.as_deref())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn update_job(&self, job: &JobRecord) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE jobs SET status = $3, imported = $4, total = $5, done = $6, attempts = $7, errors = $8, \
             detail = $9, updated_at = $10 WHERE tenant_id = $1 AND id = $2",
        )
        .bind(job.tenant_id.as_str())
        .bind(job.id.as_str())
        .bind(job.status.as_str())
        .bind(job.imported)
        .bind(job.total)
        .bind(job.done)
        .bind(job.attempts)
        .bind(to_json(&job.errors)?)
        .bind(&job.detail)
        .bind(millis(&job.updated_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        found(DB::rows_affected(&done))
    }

    pub(crate) async fn select_job(&self, tenant: &TenantId, id: &JobId) -> StoreResult<Option<JobRecord>> {
        sqlx::query_as::<_, JobRow>(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant.as_str())
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(JobRow::into_domain)
            .transpose()
    }

    pub(crate) async fn count_shopper_messages_since(&self, tenant: &TenantId, since: DateTime<Utc>) -> StoreResult<i64> {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM messages WHERE tenant_id = $1 AND role = 'shopper' AND created_at >= $2",
        )
        .bind(tenant.as_str())
        .bind(millis(&since))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    pub(crate) async fn count_conversations_since(&self, tenant: &TenantId, since: DateTime<Utc>) -> StoreResult<i64> {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM conversations WHERE tenant_id = $1 AND started_at >= $2")
            .bind(tenant.as_str())
            .bind(millis(&since))
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    /// One atomic upsert: concurrent turns (on any node) each add their own.
    pub(crate) async fn upsert_llm_usage(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        period: DateTime<Utc>,
        usage: &LlmUsage,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO llm_usage (tenant_id, conversation_id, period_start, prompt_tokens, completion_tokens, calls, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, period_start, conversation_id) DO UPDATE SET \
               prompt_tokens = llm_usage.prompt_tokens + excluded.prompt_tokens, \
               completion_tokens = llm_usage.completion_tokens + excluded.completion_tokens, \
               calls = llm_usage.calls + excluded.calls, \
               updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(millis(&period))
        .bind(usage.prompt_tokens)
        .bind(usage.completion_tokens)
        .bind(usage.calls)
        .bind(millis(&Utc::now()))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// `conversation`: one conversation's, all periods; `period`: the tenant's of one period.
    pub(crate) async fn sum_llm_usage(
        &self,
        tenant: &TenantId,
        conversation: Option<&ConversationId>,
        period: Option<DateTime<Utc>>,
    ) -> StoreResult<LlmUsage> {
        let (prompt_tokens, completion_tokens, calls): (i64, i64, i64) = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(prompt_tokens), 0) AS BIGINT), CAST(COALESCE(SUM(completion_tokens), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(calls), 0) AS BIGINT) \
             FROM llm_usage WHERE tenant_id = $1 AND ($2 IS NULL OR conversation_id = $2) AND ($3 IS NULL OR period_start = $3)",
        )
        .bind(tenant.as_str())
        .bind(conversation.map(ConversationId::as_str))
        .bind(period.map(|p| millis(&p)))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(LlmUsage { prompt_tokens, completion_tokens, calls })
    }

    /// A summary covering fewer messages than the stored one never replaces it (two
    /// jobs may finish out of order).
    pub(crate) async fn upsert_conversation_summary(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        summary: &ConversationSummary,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO conversation_summaries (tenant_id, conversation_id, summary, covers_messages, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET \
               summary = excluded.summary, covers_messages = excluded.covers_messages, updated_at = excluded.updated_at \
             WHERE conversation_summaries.covers_messages <= excluded.covers_messages",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(&summary.text)
        .bind(summary.covers_messages)
        .bind(millis(&summary.at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub(crate) async fn select_conversation_summary(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ConversationSummary>> {
        let row: Option<(String, i64, i64)> = sqlx::query_as(
            "SELECT summary, covers_messages, updated_at FROM conversation_summaries \
             WHERE tenant_id = $1 AND conversation_id = $2",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(|(text, covers_messages, at)| ConversationSummary {
            text,
            covers_messages,
            at: DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default(),
        }))
    }

    /// Not scoped by tenant (it is about a process, not a tenant): scoped by the
    /// instance that queued the jobs instead. NULL is a job from before
    /// instances were recorded, the single-node install's own.
    pub(crate) async fn fail_unfinished(&self, instance: &str, reason: &str) -> StoreResult<u64> {
        let detail = serde_json::json!({ "error": reason }).to_string();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'failed', detail = $1, updated_at = $2 \
             WHERE status IN ('queued', 'running') AND (instance_id = $3 OR instance_id IS NULL)",
        )
        .bind(detail)
        .bind(millis(&Utc::now()))
        .bind(instance)
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(DB::rows_affected(&done))
    }
}
