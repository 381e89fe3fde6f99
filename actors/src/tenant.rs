//! `TenantActor`: one per active tenant. Holds the tenant's settings (bot name,
//! greeting, currency), last seen catalog version and this month's use of its plan's
//! message quota and of its LLM token quota, so conversations read them without a store
//! round trip; admin changes reach it as messages. Tokens are counted durably by the
//! turns themselves (`Store::add_llm_usage`, one atomic increment each); the count here
//! is this process's view, refreshed from the store at most every
//! [`TOKENS_REFRESH`], so several processes on one database agree within that time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use engine::domain::TenantId;
use engine::plans::{month_start, monthly_message_quota, monthly_token_quota};
use engine::ports::store::{Store, TenantSettings};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub enum TenantMsg {
    Settings(RpcReplyPort<TenantSettings>),
    SetSettings(TenantSettings),
    CatalogChanged(i64),
    CatalogVersion(RpcReplyPort<i64>),
    /// Counts one shopper message against the plan's monthly quota; `false` when the
    /// quota is used up (the message is then not answered).
    UseMessage(RpcReplyPort<bool>),
    /// Whether the remote model may answer: `false` once this month's tokens reach the
    /// plan's token quota (the offline assistant answers instead).
    LlmAllowed(RpcReplyPort<bool>),
    /// A turn used these tokens (already added to the store by the turn).
    UsedTokens(i64),
    /// The store's count of this month's tokens, read in the background.
    TokensRefreshed { month: DateTime<Utc>, used: i64 },
}

/// How stale this process's count of the month's tokens may get before it is read
/// from the store again (what other processes used shows up within this time).
pub const TOKENS_REFRESH: Duration = Duration::from_secs(30);

pub struct TenantActor;

/// A tenant actor was asked for a tenant the store does not have.
#[derive(Debug, thiserror::Error)]
#[error("unknown tenant {0}")]
pub struct UnknownTenant(pub TenantId);

pub struct TenantState {
    pub settings: TenantSettings,
    pub catalog_version: i64,
    quota: Option<u64>,
    /// The billing month counted, and the shopper messages of it so far.
    month: DateTime<Utc>,
    used: u64,
    token_quota: Option<u64>,
    tokens_used: i64,
    tokens_read_at: Instant,
    refreshing: bool,
    tenant: TenantId,
    store: Arc<dyn Store>,
}

impl Actor for TenantActor {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = (TenantId, Arc<dyn Store>);

    async fn pre_start(&self, _myself: ActorRef<TenantMsg>, (tenant, store): Self::Arguments) -> Result<TenantState, ActorProcessingErr> {
        let t = store.get_tenant(&tenant).await?.ok_or_else(|| UnknownTenant(tenant.clone()))?;
        let catalog_version = store.catalog_version(&tenant).await?;
        let month = month_start(Utc::now());
        let used = store.count_shopper_messages(&tenant, month).await?.max(0) as u64;
        let tokens_used = store.llm_usage(&tenant, month).await?.total_tokens();
        Ok(TenantState {
            settings: t.settings,
            catalog_version,
            quota: monthly_message_quota(&t.plan),
            month,
            used,
            token_quota: monthly_token_quota(&t.plan),
            tokens_used,
            tokens_read_at: Instant::now(),
            refreshing: false,
            tenant,
            store,
        })
    }

    async fn handle(&self, myself: ActorRef<TenantMsg>, msg: TenantMsg, state: &mut TenantState) -> Result<(), ActorProcessingErr> {
        match msg {
            TenantMsg::Settings(reply) => {
                let _ = reply.send(state.settings.clone());
            }
            TenantMsg::SetSettings(s) => state.settings = s,
            TenantMsg::CatalogChanged(v) => state.catalog_version = state.catalog_version.max(v),
            TenantMsg::CatalogVersion(reply) => {
                let _ = reply.send(state.catalog_version);
            }
            TenantMsg::UseMessage(reply) => {
                let month = month_start(Utc::now());
                if month != state.month {
                    state.month = month;
                    state.used = 0;
                }
                let allowed = state.quota.is_none_or(|q| state.used < q);
                if allowed {
                    state.used += 1;
                }
                let _ = reply.send(allowed);
            }
            TenantMsg::LlmAllowed(reply) => {
                let month = month_start(Utc::now());
                if month != state.month {
                    state.month = month;
                    state.used = 0;
                    state.tokens_used = 0;
                }
                if state.token_quota.is_some() && !state.refreshing && state.tokens_read_at.elapsed() >= TOKENS_REFRESH {
                    // Read in the background: this handler answers at once.
                    state.refreshing = true;
                    let (store, tenant) = (state.store.clone(), state.tenant.clone());
                    tokio::spawn(async move {
                        match store.llm_usage(&tenant, month).await {
                            Ok(u) => {
                                let _ = myself.send_message(TenantMsg::TokensRefreshed { month, used: u.total_tokens() });
                            }
                            Err(e) => {
                                tracing::warn!(tenant = %tenant, error = %e, "reading the month's LLM tokens failed");
                                let _ = myself.send_message(TenantMsg::TokensRefreshed { month, used: -1 });
                            }
                        }
                    });
                }
                let allowed = state.token_quota.is_none_or(|q| state.tokens_used < q as i64);
                let _ = reply.send(allowed);
            }
            TenantMsg::UsedTokens(n) => state.tokens_used = state.tokens_used.saturating_add(n),
            TenantMsg::TokensRefreshed { month, used } => {
                state.refreshing = false;
                state.tokens_read_at = Instant::now();
                // The store's count includes this process's own turns; a failed read
                // (`-1`) keeps the local count.
                if month == state.month && used >= 0 {
                    state.tokens_used = state.tokens_used.max(used);
                }
            }
        }
        Ok(())
    }
}
