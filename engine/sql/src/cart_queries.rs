//! Writing carts in SQL: one cart with its command record (`put_cart`, used by
//! `save_cart` and `place_order` in `queries.rs`) and the group commit of many carts
//! (`Store::save_carts`). Written once for both engines (`queries.rs` explains the
//! `where` clause). Every row is guarded by its conversation's tenant.

use chrono::Utc;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, QueryBuilder, Transaction, Type};

use crate::domain::{Cart, CommandId, ConversationId, TenantId};
use crate::ports::store::{CartSave, StoreError, StoreResult};
use crate::rows::{db_err, millis, to_json};
use crate::{Backend, SqlStore, found};

/// Carts written by one statement at most (7 parameters each).
const CART_CHUNK: usize = 64;

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
    /// Saves a cart on `conn` (an open write transaction when there is a command, or
    /// the writer itself for the cart alone), with its command id if any. The
    /// conversation must be the tenant's (else `NotFound`, and nothing is written), and
    /// the upsert only ever replaces a cart of the same tenant. A command id already
    /// applied is a `Conflict`; the caller's transaction then rolls back, leaving the
    /// cart as it was.
    pub(crate) async fn put_cart(
        conn: &mut DB::Connection,
        tenant: &TenantId,
        conversation: &ConversationId,
        cart: &Cart,
        command: Option<&CommandId>,
    ) -> StoreResult<()> {
        // The ownership check rides in the statement: no row of another tenant's (or a
        // missing) conversation is written, and nothing is inserted then.
        let done = sqlx::query(
            "INSERT INTO carts (conversation_id, tenant_id, version, currency, lines, updated_at, applied_seq) \
             SELECT $1, $2, $3, $4, $5, $6, $7 \
             WHERE EXISTS (SELECT 1 FROM conversations WHERE tenant_id = $2 AND id = $1) \
             ON CONFLICT (conversation_id) DO UPDATE SET version = excluded.version, \
               currency = excluded.currency, lines = excluded.lines, updated_at = excluded.updated_at, \
               applied_seq = excluded.applied_seq \
             WHERE carts.tenant_id = excluded.tenant_id",
        )
        .bind(conversation.as_str())
        .bind(tenant.as_str())
        .bind(cart.version)
        .bind(cart.currency.as_str())
        .bind(to_json(&cart.lines)?)
        .bind(millis(&Utc::now()))
        .bind(cart.applied_seq)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        found(DB::rows_affected(&done))?;
        if let Some(command) = command {
            sqlx::query("INSERT INTO cart_commands (conversation_id, command_id, tenant_id, version) VALUES ($1, $2, $3, $4)")
                .bind(conversation.as_str())
                .bind(command.as_str())
                .bind(tenant.as_str())
                .bind(cart.version)
                .execute(&mut *conn)
                .await
                .map_err(|e| match db_err(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(format!("cart command {} was already applied", command.as_str())),
                    other => other,
                })?;
        }
        Ok(())
    }

    pub(crate) async fn upsert_carts(&self, carts: &[CartSave<'_>]) -> StoreResult<()> {
        if carts.len() > CART_CHUNK {
            let mut tx = self.write_tx().await?;
            self.upsert_cart_chunks(Some(&mut tx), carts).await?;
            return tx.commit().await.map_err(db_err);
        }
        // One chunk (the usual case) is one statement with no transaction; a short
        // count leaves the good rows saved, which the port allows (saving a cart again
        // is harmless).
        self.upsert_cart_chunks(None, carts).await
    }

    /// The statements of `upsert_carts`, in `tx` when given (a short count is
    /// `NotFound`; the caller's transaction is then rolled back).
    pub(crate) async fn upsert_cart_chunks(
        &self,
        mut tx: Option<&mut Transaction<'static, DB>>,
        carts: &[CartSave<'_>],
    ) -> StoreResult<()> {
        if carts.is_empty() {
            return Ok(());
        }
        let now = millis(&Utc::now());
        for chunk in carts.chunks(CART_CHUNK) {
            let lines = chunk.iter().map(|c| to_json(&c.cart.lines)).collect::<StoreResult<Vec<String>>>()?;
            // As `put_cart`, for many rows: each guarded by its conversation's tenant; a
            // short count means one was refused.
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO carts (conversation_id, tenant_id, version, currency, lines, updated_at, applied_seq) \
                 SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM (",
            );
            q.push_values(chunk.iter().zip(lines), |mut row, (c, lines)| {
                row.push_bind(c.conversation.as_str())
                    .push_bind(c.tenant.as_str())
                    .push_bind(c.cart.version)
                    .push_bind(c.cart.currency.as_str())
                    .push_bind(lines)
                    .push_bind(now)
                    .push_bind(c.cart.applied_seq);
            });
            q.push(
                ") AS v WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.tenant_id = v.column2 AND c.id = v.column1) \
                 ON CONFLICT (conversation_id) DO UPDATE SET version = excluded.version, \
                   currency = excluded.currency, lines = excluded.lines, updated_at = excluded.updated_at, \
                   applied_seq = excluded.applied_seq \
                 WHERE carts.tenant_id = excluded.tenant_id",
            );
            let done = match tx.as_deref_mut() {
                Some(tx) => DB::execute_built(&mut q, &mut **tx).await,
                None => DB::execute_built(&mut q, &self.writer).await,
            }
            .map_err(db_err)?;
            if DB::rows_affected(&done) != chunk.len() as u64 {
                return Err(StoreError::NotFound); // a `tx` is rolled back when dropped
            }
        }
        Ok(())
    }
}
