//! `TenantActor`: one per active tenant. Holds the tenant's settings (bot name,
//! greeting, currency) and last seen catalog version, so conversations read them
//! without a store round trip; admin changes reach it as messages.

use std::sync::Arc;

use engine::domain::TenantId;
use engine::ports::store::{Store, TenantSettings};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub enum TenantMsg {
    Settings(RpcReplyPort<TenantSettings>),
    SetSettings(TenantSettings),
    CatalogChanged(i64),
    CatalogVersion(RpcReplyPort<i64>),
}

pub struct TenantActor;

pub struct TenantState {
    pub settings: TenantSettings,
    pub catalog_version: i64,
}

impl Actor for TenantActor {
    type Msg = TenantMsg;
    type State = TenantState;
    type Arguments = (TenantId, Arc<dyn Store>);

    async fn pre_start(&self, _myself: ActorRef<TenantMsg>, (tenant, store): Self::Arguments) -> Result<TenantState, ActorProcessingErr> {
        let t = store.get_tenant(&tenant).await?.ok_or_else(|| format!("unknown tenant {tenant}"))?;
        let catalog_version = store.catalog_version(&tenant).await?;
        Ok(TenantState { settings: t.settings, catalog_version })
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
        }
        Ok(())
    }
}
