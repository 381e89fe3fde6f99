//! Writing events in SQL: a conversation's events (`Store::append_events`) and the
//! group commit of the events of many conversations in one statement
//! (`Store::append_event_groups`), so that under load they share trips to SQLite's
//! one writer. Each row is guarded by its conversation's tenant; the `Store` impl in
//! `queries.rs` delegates to these (and explains the `where` clause). Carts have
//! their group commit in `cart_queries.rs`.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Type};

use crate::domain::{ConversationId, TenantId};
use crate::ports::store::{CartSave, EventGroup, StoreError, StoreResult, StoredEvent};
use crate::rows::db_err;
use crate::{Backend, SqlStore};

/// Events written by one statement at most (7 parameters each, far below both
/// engines' parameter limits).
const EVENT_CHUNK: usize = 64;

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
    pub(crate) async fn insert_events(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        events: &[StoredEvent],
    ) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        // One statement per chunk (one round trip to SQLite's worker thread, which
        // is what the event path costs), guarded by the ownership check: another
        // tenant's log is never written to, even when it guesses the id.
        let mut tx = if events.len() > EVENT_CHUNK { Some(self.write_tx().await?) } else { None };
        for chunk in events.chunks(EVENT_CHUNK) {
            // The tenant and conversation are bound twice, for the rows and for the
            // check: each placeholder `QueryBuilder` writes is a new parameter.
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO events (tenant_id, conversation_id, seq, kind, payload, command_id, command) SELECT ",
            );
            q.push_bind(tenant.as_str()).push(", ").push_bind(conversation.as_str());
            q.push(", v.column1, v.column2, v.column3, v.column4, v.column5 FROM (");
            q.push_values(chunk, |mut row, e| {
                row.push_bind(e.seq)
                    .push_bind(e.kind.as_str())
                    .push_bind(e.json.as_str())
                    .push_bind(e.command_id.as_deref())
                    .push_bind(e.command.as_deref());
            });
            q.push(") AS v WHERE EXISTS (SELECT 1 FROM conversations WHERE tenant_id = ")
                .push_bind(tenant.as_str())
                .push(" AND id = ")
                .push_bind(conversation.as_str())
                .push(")");
            let done = match tx.as_mut() {
                Some(tx) => DB::execute_built(&mut q, &mut **tx).await,
                None => DB::execute_built(&mut q, &self.writer).await,
            }
            .map_err(db_err)?;
            if DB::rows_affected(&done) == 0 {
                return Err(StoreError::NotFound);
            }
        }
        if let Some(tx) = tx {
            tx.commit().await.map_err(db_err)?;
        }
        Ok(())
    }

    pub(crate) async fn insert_event_groups(&self, groups: &[EventGroup<'_>]) -> StoreResult<()> {
        let rows: Vec<(&TenantId, &ConversationId, &StoredEvent)> =
            groups.iter().flat_map(|g| g.events.iter().map(move |e| (g.tenant, g.conversation, e))).collect();
        if rows.is_empty() && groups.iter().all(|g| g.cart.is_none()) {
            return Ok(());
        }
        // One statement per chunk, each row guarded by its own ownership check;
        // a row that fails it makes the count short, and the whole write is
        // undone (the caller then writes group by group). One chunk (the usual
        // case) needs no transaction: the statement is atomic, and a short count
        // is undone by deleting its rows (any row with those keys is one it
        // inserted: an existing one would have failed the whole statement).
        // A group with its cart is one transaction: the events and the cart
        // rows they go with are durable together or not at all.
        let carts: Vec<CartSave<'_>> = groups
            .iter()
            .filter_map(|g| g.cart.map(|cart| CartSave { tenant: g.tenant, conversation: g.conversation, cart }))
            .collect();
        let mut tx =
            if rows.len() > EVENT_CHUNK || !carts.is_empty() { Some(self.write_tx().await?) } else { None };
        for chunk in rows.chunks(EVENT_CHUNK) {
            // Each row guarded by its own conversation's tenant.
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO events (tenant_id, conversation_id, seq, kind, payload, command_id, command) \
                 SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM (",
            );
            q.push_values(chunk, |mut row, (tenant, conversation, e)| {
                row.push_bind(tenant.as_str())
                    .push_bind(conversation.as_str())
                    .push_bind(e.seq)
                    .push_bind(e.kind.as_str())
                    .push_bind(e.json.as_str())
                    .push_bind(e.command_id.as_deref())
                    .push_bind(e.command.as_deref());
            });
            q.push(") AS v WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.tenant_id = v.column1 AND c.id = v.column2)");
            let done = match tx.as_mut() {
                Some(tx) => DB::execute_built(&mut q, &mut **tx).await,
                None => DB::execute_built(&mut q, &self.writer).await,
            }
            .map_err(db_err)?;
            if DB::rows_affected(&done) != chunk.len() as u64 {
                if tx.is_none() {
                    for (tenant, conversation, e) in chunk {
                        sqlx::query("DELETE FROM events WHERE tenant_id = $1 AND conversation_id = $2 AND seq = $3")
                            .bind(tenant.as_str())
                            .bind(conversation.as_str())
                            .bind(e.seq)
                            .execute(&self.writer)
                            .await
                            .map_err(db_err)?;
                    }
                }
                return Err(StoreError::NotFound); // a `tx` is rolled back when dropped
            }
        }
        match tx {
            Some(mut tx) => {
                self.upsert_cart_chunks(Some(&mut tx), &carts).await?;
                tx.commit().await.map_err(db_err)
            }
            None => Ok(()),
        }
    }
}
