//! Group commit of events in SQL: the events of many conversations in one statement
//! (`Store::append_event_groups`), so that under load they share trips to SQLite's
//! one writer. Each row is guarded by its conversation's tenant; the `Store` impl in
//! `queries.rs` delegates to this. (Carts have theirs in `cart_queries.rs`.)

/// The multi-row event insert of `Store::append_event_groups`: `n` rows of (tenant,
/// conversation, seq, kind, payload, command id, command), each written only if its
/// conversation belongs to its tenant.
pub(super) fn group_events_sql(n: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO events (tenant_id, conversation_id, seq, kind, payload, command_id, command) \
         SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7 FROM (VALUES ",
    );
    for i in 0..n {
        let b = 1 + 7 * i;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("(${}, ${}, ${}, ${}, ${}, ${}, ${})", b, b + 1, b + 2, b + 3, b + 4, b + 5, b + 6));
    }
    sql.push_str(") AS v WHERE EXISTS (SELECT 1 FROM conversations c WHERE c.tenant_id = v.column1 AND c.id = v.column2)");
    sql
}

macro_rules! impl_event_groups {
    ($store:ty) => {
        impl $store {
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
                    let sql = group_events_sql(chunk.len());
                    let mut q = sqlx::query(&sql);
                    for (tenant, conversation, e) in chunk {
                        q = q
                            .bind(tenant.as_str())
                            .bind(conversation.as_str())
                            .bind(e.seq)
                            .bind(&e.kind)
                            .bind(&e.json)
                            .bind(e.command_id.as_deref())
                            .bind(e.command.as_deref());
                    }
                    let done = match tx.as_mut() {
                        Some(tx) => q.execute(&mut **tx).await,
                        None => q.execute(&self.writer).await,
                    }
                    .map_err(db_err)?;
                    if done.rows_affected() != chunk.len() as u64 {
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
    };
}

pub(super) use impl_event_groups;
