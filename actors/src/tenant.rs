//! `TenantActor`: one per active tenant. Holds the tenant's settings (bot name,
//! greeting, currency), last seen catalog version and this month's use of its plan's
//! message quota, so conversations read them without a store round trip; admin
//! changes reach it as messages.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use engine::domain::TenantId;
use engine::plans::{month_start, monthly_message_quota};
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
}

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
        Ok(TenantState { settings: t.settings, catalog_version, quota: monthly_message_quota(&t.plan), month, used })
    }

    async fn handle(&self, _myself: ActorRef<TenantMsg>, msg: TenantMsg, state: &mut TenantState) -> Result<(), ActorProcessingErr> {
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
        }
        Ok(())
    }
}
