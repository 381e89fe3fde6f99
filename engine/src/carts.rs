//! Applying one cart operation: validate against the catalog with the pure cart rules,
//! persist, and say what happened. The cart actor calls this for shopper commands and
//! for the assistant's tool calls alike, so both paths share every rule.
//!
//! Stock and prices are read fresh per command: the catalog snapshot (trusted for a
//! moment, see `CatalogCache`) gives titles, options and which variant a command
//! means, and one indexed read (`Store::variant_states`) gives the current price and
//! stock of the command's variant and of every line. So another shopper's order, an
//! import or an edit is seen by the very next command, and what changed in the cart
//! because of it is told once, as `CartNotice`s.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;

use crate::catalog::CatalogCache;
use crate::domain::{
    Cart, CartNotice, ConversationId, DomainError, Order, OrderId, ProductId, Quantity, SetQuantity,
    TenantId, VariantId, VariantState,
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
    /// The cart after the operation (for `Get`, unchanged unless the shop's prices or
    /// stock moved), and what changed in its lines because the shop's prices or stock
    /// did (for the `cart` event's `notices`).
    Cart { cart: Cart, notices: Vec<CartNotice> },
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

/// What deciding one operation (`CartService::decide_unsaved`) gave: its outcome and
/// the cart it leaves, not yet saved (unchanged when the store was unavailable).
#[derive(Clone, Debug)]
pub struct Decided {
    pub result: Result<CartOutcome, CartFailure>,
    pub cart: Cart,
}

/// What applying one operation did: its outcome, and the cart as it now is in the
/// store (for a refused shopper command, its lines — updated if prices or stock
/// moved — with `applied_seq` moved on).
#[derive(Clone, Debug)]
pub struct Applied {
    pub result: Result<CartOutcome, CartFailure>,
    pub cart: Cart,
}

impl From<Cart> for CartOutcome {
    /// A cart with nothing to tell.
    fn from(cart: Cart) -> Self {
        CartOutcome::Cart { cart, notices: Vec::new() }
    }
}

impl CartOutcome {
    pub fn cart(&self) -> &Cart {
        match self {
            CartOutcome::Cart { cart, .. } => cart,
            CartOutcome::Placed { cart, .. } => cart,
        }
    }
}

/// Why an operation was refused. The cart is unchanged, except when `cart` is set.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CartFailure {
    pub code: ErrorCode,
    pub message: String,
    /// For `variant_required`: the product and its option values.
    pub product_id: Option<ProductId>,
    pub options: Vec<(String, Vec<String>)>,
    /// A checkout refused because prices or stock moved since the shopper last saw the
    /// cart: the cart brought up to date (saved), to be shown with `notices` after the
    /// error. `None` otherwise.
    pub cart: Option<Box<Cart>>,
    pub notices: Vec<CartNotice>,
}

impl CartFailure {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), product_id: None, options: Vec::new(), cart: None, notices: Vec::new() }
    }
}

impl From<DomainError> for CartFailure {
    fn from(e: DomainError) -> Self {
        let options = match &e {
            DomainError::VariantRequired { options, .. } => options.clone(),
            _ => Vec::new(),
        };
        CartFailure { options, ..CartFailure::new(ErrorCode::from(&e), e.to_string()) }
    }
}

impl From<StoreError> for CartFailure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::OutOfStock { sku, available } => CartFailure::new(
                ErrorCode::OutOfStock,
                format!("only {available} of {sku} in stock"),
            ),
            StoreError::PriceChanged { sku, price_minor } => CartFailure::new(
                ErrorCode::PriceChanged,
                format!("the price of {sku} changed to {price_minor}; nothing was charged"),
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
    /// when the command is refused (the lines unchanged, or brought up to date), so each
    /// acknowledged command is decided exactly once — a conversation rebuilt after a
    /// crash re-applies only the acknowledged commands above its cart's `applied_seq`.
    /// A command at or below it was already applied and changes nothing. A failure to
    /// reach the store is `unavailable` and writes nothing: the caller may try again.
    ///
    /// Prices and stock are the store's at this moment (one read for the command's
    /// variant and every line): a quantity above what is left is `out_of_stock`, every
    /// line takes its current price and is cut to what is left, and a checkout whose
    /// cart was not up to date is refused with the updated cart, so an order never
    /// charges a price the shopper was not shown.
    pub async fn apply(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cart: &Cart,
        op: &CartOp,
        applied: Option<i64>,
    ) -> Applied {
        let applied = applied.filter(|_| op.changes_cart());
        if let Some(seq) = applied
            && seq <= cart.applied_seq
        {
            return Applied { result: Ok(cart.clone().into()), cart: cart.clone() };
        }
        match self.decide(tenant, conversation, cart, op, applied, true).await {
            Ok(outcome) => Applied { cart: outcome.cart().clone(), result: Ok(outcome) },
            // The store did not answer: nothing was decided.
            Err(f) if f.code == ErrorCode::Unavailable => Applied { result: Err(f), cart: cart.clone() },
            Err(f) => {
                let now = f.cart.as_deref().cloned().unwrap_or_else(|| cart.clone());
                match applied {
                    // A refused shopper command is decided too: record that with the cart.
                    Some(seq) if now.applied_seq < seq => {
                        let mut marked = now;
                        marked.applied_seq = seq;
                        match self.save(tenant, conversation, marked).await {
                            Ok(marked) => Applied { result: Err(f), cart: marked },
                            Err(e) => Applied { result: Err(CartFailure::from(e)), cart: cart.clone() },
                        }
                    }
                    _ => Applied { result: Err(f), cart: now },
                }
            }
        }
    }

    /// Decides `op` on `cart` as `apply` does, but saves nothing: the caller writes
    /// the cart it leaves (`Decided::cart`) together with the command's `ack` and
    /// outcome events, in one transaction (`Store::append_event_groups`), so a shopper
    /// command's acknowledgement and its effect are durable together. A checkout writes
    /// its order itself: use `apply` for it.
    pub async fn decide_unsaved(&self, tenant: &TenantId, conversation: &ConversationId, cart: &Cart, op: &CartOp) -> Decided {
        debug_assert!(!matches!(op, CartOp::Checkout), "a checkout is applied, not decided");
        match self.decide(tenant, conversation, cart, op, None, false).await {
            Ok(outcome) => Decided { cart: outcome.cart().clone(), result: Ok(outcome) },
            Err(f) if f.code == ErrorCode::Unavailable => Decided { result: Err(f), cart: cart.clone() },
            Err(f) => Decided { cart: f.cart.as_deref().cloned().unwrap_or_else(|| cart.clone()), result: Err(f) },
        }
    }

    async fn decide(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cart: &Cart,
        op: &CartOp,
        applied: Option<i64>,
        persist: bool,
    ) -> Result<CartOutcome, CartFailure> {
        let catalog = self.catalog.get(tenant).await?;
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
        // What the command asks, checked as far as it can be without the store: `base`
        // is the cart it starts from, `target` the variant an add or set is about.
        let (base, target) = match op {
            CartOp::Get if cart.is_empty() => return Ok(cart.clone().into()),
            CartOp::Get => (cart.clone(), None),
            CartOp::Checkout if cart.is_empty() => return Err(DomainError::EmptyCart.into()),
            CartOp::Checkout => (cart.clone(), None),
            CartOp::Remove { product_id, variant_id } => {
                (cart.remove(product_id, variant_id.as_ref()).map_err(|e| with_product(product_id, e))?, None)
            }
            CartOp::Add { product_id, variant_id, quantity } => {
                let p = product(product_id)?;
                let q = Quantity::parse(*quantity)?;
                let v = cart.resolve(&p, variant_id.as_ref()).map_err(|e| with_product(product_id, e))?.id.clone();
                (cart.clone(), Some((p, v, Wanted::Add(q))))
            }
            CartOp::Set { product_id, variant_id, quantity } => {
                let p = product(product_id)?;
                let q = SetQuantity::parse(*quantity)?;
                let v = cart.resolve(&p, variant_id.as_ref()).map_err(|e| with_product(product_id, e))?.id.clone();
                (cart.clone(), Some((p, v, Wanted::Set(q))))
            }
        };
        // The store's present for every variant involved, in one read.
        let mut ids: Vec<VariantId> = base.lines.iter().map(|l| l.variant_id.clone()).collect();
        if let Some((_, v, _)) = &target {
            ids.push(v.clone());
        }
        let states = self.states(tenant, &ids).await?;
        let next = match target {
            None => base,
            Some((p, v, q)) => {
                let gone = || CartFailure::new(ErrorCode::NotFound, "no such product in this shop");
                let variant = p.variant(&v).ok_or_else(gone)?;
                let changed = match q {
                    // Removing a line needs no stock (and works for a variant just deleted).
                    Wanted::Set(q) if q.get() == 0 => base.set_now(&p, variant, &VariantState::of(variant), q),
                    Wanted::Set(q) => base.set_now(&p, variant, states.get(&v).ok_or_else(gone)?, q),
                    Wanted::Add(q) => base.add_now(&p, variant, states.get(&v).ok_or_else(gone)?, q),
                };
                changed.map_err(|e| with_product(&p.id, e))?
            }
        };
        // Every line at its current price and within its stock; what changed is told.
        let (mut next, notices) = next.reconcile(cart, |id| states.get(id));
        if let Some(seq) = applied {
            next.applied_seq = seq;
        }
        if let CartOp::Checkout = op {
            if !notices.is_empty() {
                let saved = self.save(tenant, conversation, next).await?;
                return Err(refusal(saved, notices));
            }
            return self.place(tenant, conversation, &next).await;
        }
        if next == *cart {
            return Ok(next.into());
        }
        let next = if persist { self.save(tenant, conversation, next).await? } else { next };
        Ok(CartOutcome::Cart { cart: next, notices })
    }

    /// The current price and stock of `ids`, by variant (one read; none when empty).
    async fn states(&self, tenant: &TenantId, ids: &[VariantId]) -> Result<HashMap<VariantId, VariantState>, CartFailure> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let states = self.store().variant_states(tenant, ids).await?;
        Ok(states.into_iter().map(|s| (s.variant_id.clone(), s)).collect())
    }

    /// Places the order of a cart just checked against the store's prices and stock.
    /// The store checks both again as it writes: a price or stock that moved in
    /// between refuses the order, and the cart is brought up to date as above.
    async fn place(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cart: &Cart,
    ) -> Result<CartOutcome, CartFailure> {
        let order = Order {
            id: OrderId::generate(),
            tenant_id: tenant.clone(),
            conversation_id: conversation.clone(),
            lines: cart.lines.clone(),
            total_minor: cart.subtotal_minor(),
            currency: cart.currency,
            status: "placed".into(),
            created_at: Utc::now(),
        };
        let emptied = cart.cleared();
        match self.store().place_order(&order, &emptied, None).await {
            Ok(()) => Ok(CartOutcome::Placed { order, cart: emptied }),
            Err(e @ (StoreError::PriceChanged { .. } | StoreError::OutOfStock { .. })) => {
                let ids: Vec<VariantId> = cart.lines.iter().map(|l| l.variant_id.clone()).collect();
                let states = self.states(tenant, &ids).await?;
                let (next, notices) = cart.reconcile(cart, |id| states.get(id));
                if notices.is_empty() {
                    return Err(e.into());
                }
                let saved = self.save(tenant, conversation, next).await?;
                Err(refusal(saved, notices))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The quantity an add or set asks for.
enum Wanted {
    Add(Quantity),
    Set(SetQuantity),
}

/// A checkout refused because the cart was not up to date: `out_of_stock` when a line
/// lost units, else `price_changed`; the updated cart goes with it.
fn refusal(cart: Cart, notices: Vec<CartNotice>) -> CartFailure {
    let stock = notices.iter().find(|n| n.is_stock());
    let (code, what) = match stock.or(notices.first()) {
        Some(CartNotice::QuantityReduced { sku, new_quantity, .. }) => {
            (ErrorCode::OutOfStock, format!("only {new_quantity} of {sku} in stock"))
        }
        Some(CartNotice::OutOfStock { sku, .. }) => (ErrorCode::OutOfStock, format!("{sku} is out of stock")),
        Some(CartNotice::Removed { sku, .. }) => (ErrorCode::OutOfStock, format!("{sku} is no longer sold")),
        Some(CartNotice::PriceChanged { sku, old_unit_price_minor, new_unit_price_minor, .. }) => (
            ErrorCode::PriceChanged,
            format!("the price of {sku} changed from {old_unit_price_minor} to {new_unit_price_minor}"),
        ),
        None => (ErrorCode::Internal, "the cart changed".to_string()),
    };
    CartFailure {
        cart: Some(Box::new(cart)),
        notices,
        ..CartFailure::new(code, format!("{what}; nothing was charged: the cart is updated, check out again to accept it"))
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
