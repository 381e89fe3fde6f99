//! Writing carts in SQL: one cart with its command record (`put_cart!`, used by
//! `save_cart` and `place_order` in `queries.rs`) and the group commit of many carts
//! (`Store::save_carts`). Every row is guarded by its conversation's tenant.

/// Carts written by one statement at most (7 parameters each).
pub(super) const CART_CHUNK: usize = 64;

/// Saves a cart inside an open write transaction, with its command id if any. The
/// conversation must be the tenant's (else `NotFound`, and nothing is written), and
/// the upsert only ever replaces a cart of the same tenant. A command id already
/// applied is a `Conflict`; the caller's transaction then rolls back, leaving the
/// cart as it was.
macro_rules! put_cart {
    ($tx:ident, $tenant:expr, $conversation:expr, $cart:expr, $command:expr) => {{
        let (tenant, conversation, cart): (&TenantId, &ConversationId, &Cart) = ($tenant, $conversation, $cart);
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
        .execute(&mut *$tx)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())?;
        if let Some(command) = $command {
            sqlx::query(
                "INSERT INTO cart_commands (conversation_id, command_id, tenant_id, version) VALUES ($1, $2, $3, $4)",
            )
            .bind(conversation.as_str())
            .bind(command.as_str())
            .bind(tenant.as_str())
            .bind(cart.version)
            .execute(&mut *$tx)
            .await
            .map_err(|e| match db_err(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("cart command {} was already applied", command.as_str()))
                }
                other => other,
            })?;
        }
    }};
}

macro_rules! impl_cart_groups {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(crate) async fn upsert_carts(&self, carts: &[CartSave<'_>]) -> StoreResult<()> {
                if carts.len() > CART_CHUNK {
                    let mut tx = self.write_tx().await?;
                    self.upsert_cart_chunks(Some(&mut tx), carts).await?;
                    return tx.commit().await.map_err(db_err);
                }
                // One chunk (the usual case) is one statement with no transaction; a
                // short count leaves the good rows saved, which the port allows (saving
                // a cart again is harmless).
                self.upsert_cart_chunks(None, carts).await
            }

            /// The statements of `upsert_carts`, in `tx` when given (a short count is
            /// `NotFound`; the caller's transaction is then rolled back).
            pub(crate) async fn upsert_cart_chunks(
                &self,
                mut tx: Option<&mut sqlx::Transaction<'static, $db>>,
                carts: &[CartSave<'_>],
            ) -> StoreResult<()> {
                if carts.is_empty() {
                    return Ok(());
                }
                let now = millis(&Utc::now());
                for chunk in carts.chunks(CART_CHUNK) {
                    // As `put_cart`, for many rows: each guarded by its conversation's
                    // tenant; a short count means one was refused.
                    let mut sql = String::from(
                        "INSERT INTO carts (conversation_id, tenant_id, version, currency, lines, updated_at, applied_seq) \
                         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM (VALUES ",
                    );
                    for i in 0..chunk.len() {
                        let b = 1 + 7 * i;
                        if i > 0 {
                            sql.push_str(", ");
                        }
                        sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6));
                    }
                    sql.push_str(
                        ") AS v WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.tenant_id = v.column2 AND c.id = v.column1) \
                         ON CONFLICT (conversation_id) DO UPDATE SET version = excluded.version, \
                           currency = excluded.currency, lines = excluded.lines, updated_at = excluded.updated_at, \
                           applied_seq = excluded.applied_seq \
                         WHERE carts.tenant_id = excluded.tenant_id",
                    );
                    let mut q = sqlx::query(&sql);
                    for c in chunk {
                        q = q
                            .bind(c.conversation.as_str())
                            .bind(c.tenant.as_str())
                            .bind(c.cart.version)
                            .bind(c.cart.currency.as_str())
                            .bind(to_json(&c.cart.lines)?)
                            .bind(now)
                            .bind(c.cart.applied_seq);
                    }
                    let done = match tx.as_deref_mut() {
                        Some(tx) => q.execute(&mut **tx).await,
                        None => q.execute(&self.writer).await,
                    }
                    .map_err(db_err)?;
                    if done.rows_affected() != chunk.len() as u64 {
                        return Err(StoreError::NotFound); // a `tx` is rolled back when dropped
                    }
                }
                Ok(())
            }
        }
    };
}

pub(super) use {impl_cart_groups, put_cart};
