//! Applying one cart operation: validate against the catalog with the pure cart rules,
//! persist, and say what happened. The cart actor calls this for shopper commands and
//! for the assistant's tool calls alike, so both paths share every rule.

use std::sync::Arc;

use chrono::Utc;

use crate::catalog::CatalogCache;
use crate::domain::{
    Cart, ConversationId, DomainError, Order, OrderId, ProductId, Quantity, SetQuantity,
    TenantId, VariantId,
};
use crate::events::ErrorCode;
use crate::group_commit::{GroupCommit, GroupWrite};
use crate::ports::store::{CartSave, Store, StoreError, StoreResult};

/// A change (or read) of one cart. Serialised (JSON) into the `ack` event of a
/// shopper's command, so an acknowledged command can be applied after a crash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CartOp {
    Add { product_id: ProductId, variant_id: Option<VariantId>, quantity: i64 },
    Set { product_id: ProductId, variant_id: Option<VariantId>, quantity: i64 },
    Remove { product_id: ProductId, variant_id: Option<VariantId> },
    Get,
    Checkout,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CartOutcome {
    /// The cart after the operation (unchanged for `Get`).
    Cart(Cart),
    /// An order was placed; the cart is now empty.
    Placed { order: Order, cart: Cart },
}

impl CartOp {
    /// Whether applying it may change the cart (a `Get` never does, so its `ack`
    /// carries no command and nothing re-applies it after a crash).
    pub fn changes_cart(&self) -> bool {
        !matches!(self, CartOp::Get)
    }
}

/// What applying one operation did: its outcome, and the cart as it now is in the
/// store (for a refused shopper command, the same lines with `applied_seq` moved on).
#[derive(Clone, Debug)]
pub struct Applied {
    pub result: Result<CartOutcome, CartFailure>,
    pub cart: Cart,
}

impl CartOutcome {
    pub fn cart(&self) -> &Cart {
        match self {
            CartOutcome::Cart(c) => c,
            CartOutcome::Placed { cart, .. } => cart,
        }
    }
}

/// Why an operation was refused; the cart is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CartFailure {
    pub code: ErrorCode,
    pub message: String,
    /// For `variant_required`: the product and its option values.
    pub product_id: Option<ProductId>,
    pub options: Vec<(String, Vec<String>)>,
}

impl CartFailure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), product_id: None, options: Vec::new() }
    }
}

impl From<DomainError> for CartFailure {
    fn from(e: DomainError) -> Self {
        let options = match &e {
            DomainError::VariantRequired { options, .. } => options.clone(),
            _ => Vec::new(),
        };
        CartFailure { code: ErrorCode::from(&e), message: e.to_string(), product_id: None, options }
    }
}

impl From<StoreError> for CartFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::OutOfStock { sku, available } => CartFailure::new(
                ErrorCode::OutOfStock,
                format!("only {available} of {sku} in stock"),
            ),
            StoreError::NotFound => CartFailure::new(ErrorCode::NotFound, "not found"),
            other => {
                tracing::error!(error = %other, "store failure in a cart operation");
                CartFailure::new(ErrorCode::Unavailable, "the shop is unavailable, try again")
            }
        }
    }
}

/// Applies operations to carts of one store and catalog.
pub struct CartService {
    catalog: Arc<CatalogCache>,
    /// Group commit of cart saves, started on first use (it needs a runtime).
    writer: std::sync::OnceLock<CartWriter>,
}

impl CartService {
    pub fn new(catalog: Arc<CatalogCache>) -> Self {
        Self { catalog, writer: std::sync::OnceLock::new() }
    }

    /// Persists a cart with no command record, sharing the write with the other carts
    /// saved at the same moment.
    async fn save(&self, tenant: &TenantId, conversation: &ConversationId, cart: Cart) -> StoreResult<Cart> {
        let writer = self.writer.get_or_init(|| GroupCommit::start(CartSaves(self.store().clone()), GROUP_COMMIT_CARTS));
        match writer.submit((tenant.clone(), conversation.clone(), cart)).await {
            (Some((_, _, cart)), Ok(())) => Ok(cart),
            (_, Ok(())) => Err(StoreError::Database("the cart writer lost a cart".into())),
            (_, Err(e)) => Err(e),
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.catalog.store()
    }

    /// Loads a conversation's cart (empty in the tenant's currency if it has none).
    pub async fn load(&self, tenant: &TenantId, conversation: &ConversationId, currency: crate::domain::Currency) -> Result<Cart, CartFailure> {
        Ok(self.store().load_cart(tenant, conversation).await?.unwrap_or_else(|| Cart::empty(currency)))
    }

    /// Applies `op` to `cart` and persists the result.
    ///
    /// `applied` is the `seq` of the `ack` of the shopper command this is (`None` for
    /// an assistant's tool call): the cart is saved with it as its `applied_seq`, also
    /// when the command is refused (the lines unchanged), so each acknowledged command
    /// is decided exactly once — a conversation rebuilt after a crash re-applies only
    /// the acknowledged commands above its cart's `applied_seq`. A command at or below
    /// it was already applied and changes nothing. A failure to reach the store is
    /// `unavailable` and writes nothing: the caller may try again.
    pub async fn apply(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cart: &Cart,
        op: &CartOp,
        applied: Option<i64>,
    ) -> Applied {
        if let Some(seq) = applied
            && seq <= cart.applied_seq
            && op.changes_cart()
        {
            return Applied { result: Ok(CartOutcome::Cart(cart.clone())), cart: cart.clone() };
        }
        match self.decide(tenant, conversation, cart, op, applied).await {
            Ok(outcome) => Applied { cart: outcome.cart().clone(), result: Ok(outcome) },
            Err(Refusal::Store(f)) => Applied { result: Err(f), cart: cart.clone() },
            Err(Refusal::Rule(f)) => match applied {
                // A refused shopper command is decided too: record that with the cart.
                Some(seq) if op.changes_cart() => {
                    let mut marked = cart.clone();
                    marked.applied_seq = seq;
                    match self.save(tenant, conversation, marked).await {
                        Ok(marked) => Applied { result: Err(f), cart: marked },
                        Err(e) => Applied { result: Err(CartFailure::from(e)), cart: cart.clone() },
                    }
                }
                _ => Applied { result: Err(f), cart: cart.clone() },
            },
        }
    }

    async fn decide(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cart: &Cart,
        op: &CartOp,
        applied: Option<i64>,
    ) -> Result<CartOutcome, Refusal> {
        let catalog = self.catalog.get(tenant).await.map_err(Refusal::store)?;
        let product = |id: &ProductId| {
            catalog
                .product(id)
                .cloned()
                .ok_or_else(|| CartFailure::new(ErrorCode::NotFound, "no such product in this shop"))
        };
        let with_product = |id: &ProductId, e: DomainError| {
            let mut f = CartFailure::from(e);
            if f.code == ErrorCode::VariantRequired {
                f.product_id = Some(id.clone());
            }
            f
        };
        let mut next = match op {
            CartOp::Get => return Ok(CartOutcome::Cart(cart.clone())),
            CartOp::Add { product_id, variant_id, quantity } => {
                let p = product(product_id)?;
                let q = Quantity::parse(*quantity).map_err(CartFailure::from)?;
                cart.add(&p, variant_id.as_ref(), q).map_err(|e| with_product(product_id, e))?
            }
            CartOp::Set { product_id, variant_id, quantity } => {
                let p = product(product_id)?;
                let q = SetQuantity::parse(*quantity).map_err(CartFailure::from)?;
                cart.set(&p, variant_id.as_ref(), q).map_err(|e| with_product(product_id, e))?
            }
            CartOp::Remove { product_id, variant_id } => {
                cart.remove(product_id, variant_id.as_ref()).map_err(|e| with_product(product_id, e))?
            }
            CartOp::Checkout => {
                if cart.is_empty() {
                    return Err(CartFailure::from(DomainError::EmptyCart).into());
                }
                // Prices come from the catalog at the moment of the order.
                let priced = cart.reprice(|v| catalog.variant(v));
                let order = Order {
                    id: OrderId::generate(),
                    tenant_id: tenant.clone(),
                    conversation_id: conversation.clone(),
                    lines: priced.lines.clone(),
                    total_minor: priced.subtotal_minor(),
                    currency: priced.currency,
                    status: "placed".into(),
                    created_at: Utc::now(),
                };
                let mut emptied = priced.cleared();
                if let Some(seq) = applied {
                    emptied.applied_seq = seq;
                }
                self.store().place_order(&order, &emptied, None).await.map_err(Refusal::from_store)?;
                return Ok(CartOutcome::Placed { order, cart: emptied });
            }
        };
        if let Some(seq) = applied {
            next.applied_seq = seq;
        }
        let next = self.save(tenant, conversation, next).await.map_err(Refusal::store)?;
        Ok(CartOutcome::Cart(next))
    }
}

/// Why `decide` did not change the cart: a rule refused it (a decision, recorded for a
/// shopper's command), or the store could not be reached (nothing decided).
enum Refusal {
    Rule(CartFailure),
    Store(CartFailure),
}

impl Refusal {
    fn store(e: StoreError) -> Self {
        Refusal::Store(CartFailure::from(e))
    }

    /// A store error at checkout: out of stock is a decision, the rest is not.
    fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::OutOfStock { .. } | StoreError::NotFound => Refusal::Rule(CartFailure::from(e)),
            other => Refusal::store(other),
        }
    }
}

impl From<CartFailure> for Refusal {
    fn from(f: CartFailure) -> Self {
        Refusal::Rule(f)
    }
}

/// Carts saved together at most.
const GROUP_COMMIT_CARTS: usize = 256;

/// Group commit of cart saves (`crate::group_commit`): the carts of many
/// conversations saved at one moment go in one statement (`Store::save_carts`). A
/// cart actor waits for its save before the next change, so a cart is never twice in
/// one group.
type CartWriter = GroupCommit<CartSaves>;

struct CartSaves(Arc<dyn Store>);

#[async_trait::async_trait]
impl GroupWrite for CartSaves {
    type Item = (TenantId, ConversationId, Cart);

    fn weight(_: &Self::Item) -> usize {
        1
    }

    async fn write_group(&self, items: &[Self::Item]) -> StoreResult<()> {
        let saves: Vec<CartSave<'_>> = items.iter().map(|(tenant, conversation, cart)| CartSave { tenant, conversation, cart }).collect();
        self.0.save_carts(&saves).await
    }

    async fn write_one(&self, (tenant, conversation, cart): &Self::Item) -> StoreResult<()> {
        self.0.save_cart(tenant, conversation, cart, None).await
    }
}
