//! The command log and the cart command's fresh read, in SQL: the acks of a
//! conversation with the commands they carry (what a conversation rebuilt after a
//! crash re-applies, ARCHITECTURE.md "acknowledged means applied"), and the current
//! price and stock of the variants one cart command touches. Written once for both
//! engines, like the rest of the store (`queries.rs`, whose `Store` impl delegates to
//! these and whose docs explain the `where` clause). Every statement is scoped by `tenant_id`.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Type};

use crate::domain::{ConversationId, TenantId, VariantId, VariantState};
use crate::ports::store::{PendingCommand, StoreResult};
use crate::rows::{corrupt, db_err};
use crate::{Backend, SqlStore};

/// Variant ids asked for by one `variant_states` statement at most.
const VARIANT_STATE_CHUNK: usize = 500;

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
    pub(crate) async fn select_command_acks(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        limit: u32,
    ) -> StoreResult<Vec<(String, i64)>> {
        let mut acks = sqlx::query_as::<_, (String, i64)>(
            "SELECT command_id, seq FROM events \
             WHERE tenant_id = $1 AND conversation_id = $2 AND command_id IS NOT NULL \
             ORDER BY seq DESC LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        acks.reverse();
        Ok(acks)
    }

    pub(crate) async fn select_command_ack(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        command_id: &str,
    ) -> StoreResult<Option<i64>> {
        sqlx::query_scalar::<_, i64>(
            "SELECT seq FROM events WHERE tenant_id = $1 AND conversation_id = $2 AND command_id = $3",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(command_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)
    }

    pub(crate) async fn select_pending_commands(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: i64,
    ) -> StoreResult<Vec<PendingCommand>> {
        Ok(sqlx::query_as::<_, (i64, String, String)>(
            "SELECT seq, command_id, command FROM events \
             WHERE tenant_id = $1 AND conversation_id = $2 AND seq > $3 \
               AND command IS NOT NULL AND command_id IS NOT NULL ORDER BY seq",
        )
        .bind(tenant.as_str())
        .bind(conversation.as_str())
        .bind(after)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(|(seq, command_id, command)| PendingCommand { seq, command_id, command })
        .collect())
    }

    pub(crate) async fn select_variant_states(&self, tenant: &TenantId, ids: &[VariantId]) -> StoreResult<Vec<VariantState>> {
        let mut ids: Vec<&str> = ids.iter().map(VariantId::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut states = Vec::with_capacity(ids.len());
        // A cart has few lines; the chunks only bound the parameter count.
        for chunk in ids.chunks(VARIANT_STATE_CHUNK) {
            let mut q = QueryBuilder::<DB>::new("SELECT id, price_minor, stock FROM variants WHERE tenant_id = ");
            q.push_bind(tenant.as_str()).push(" AND id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            list.push_unseparated(")");
            let rows: Vec<(String, i64, i64)> = DB::fetch_all_built(&mut q, &self.pool).await.map_err(db_err)?;
            for (id, price_minor, stock) in rows {
                let variant_id = VariantId::parse(id).map_err(|e| corrupt("variant id", e))?;
                states.push(VariantState { variant_id, price_minor, stock });
            }
        }
        Ok(states)
    }
}
