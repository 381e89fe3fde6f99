//! The reads the `Store` impl (`queries.rs`) shares: products of a tenant with their
//! variants in one statement, orders with their lines in one snapshot, and the
//! transaction every write opens. Same `where` clause as `queries.rs`.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Transaction, Type};

use crate::domain::{Order, OrderId, Product, TenantId};
use crate::ports::store::StoreResult;
use crate::rows::{OrderLineJoinRow, PRODUCT_COLUMNS, ProductVariantRow, assemble_orders, assemble_products, db_err};
use crate::{Backend, SqlStore};

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
    /// Opens a transaction that will write.
    pub(crate) async fn write_tx(&self) -> StoreResult<Transaction<'static, DB>> {
        self.writer.begin_with(DB::BEGIN_WRITE).await.map_err(db_err)
    }

    pub(crate) async fn products_where(
        &self,
        tenant: &TenantId,
        from: &str,
        binds: &[&str],
        limit: Option<i64>,
    ) -> StoreResult<Vec<Product>> {
        let sql = format!(
            "SELECT {PRODUCT_COLUMNS} FROM {from} p \
             JOIN variants v ON v.product_id = p.id AND v.tenant_id = p.tenant_id \
             WHERE p.tenant_id = $1 ORDER BY p.sku, v.position"
        );
        let mut q = sqlx::query_as::<_, ProductVariantRow>(&sql).bind(tenant.as_str());
        for b in binds {
            q = q.bind(*b);
        }
        if let Some(limit) = limit {
            q = q.bind(limit);
        }
        let rows = q.fetch_all(&self.pool).await.map_err(db_err)?;
        assemble_products(tenant, rows)
    }

    pub(crate) async fn orders_where(&self, tenant: &TenantId, id: Option<&OrderId>, limit: i64) -> StoreResult<Vec<Order>> {
        // One statement, so the orders and their lines come from one snapshot.
        // `$2` is an order id, or NULL for the newest `$3` orders.
        let rows = sqlx::query_as::<_, OrderLineJoinRow>(
            "SELECT o.id, o.tenant_id, o.conversation_id, o.total_minor, o.currency, o.status, o.created_at, \
               l.product_id, l.variant_id, l.sku, l.title, l.options, l.quantity, l.unit_price_minor \
             FROM (SELECT * FROM orders WHERE tenant_id = $1 AND ($2 IS NULL OR id = $2) \
                   ORDER BY created_at DESC, id DESC LIMIT $3) o \
             LEFT JOIN order_lines l ON l.order_id = o.id AND l.tenant_id = o.tenant_id \
             ORDER BY o.created_at DESC, o.id DESC, l.position",
        )
        .bind(tenant.as_str())
        .bind(id.map(OrderId::as_str))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        assemble_orders(rows)
    }
}
