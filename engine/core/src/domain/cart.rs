//! Cart rules as pure functions: every change is checked here, against the catalog,
//! and either yields the next cart or a reason, leaving the cart as it was.
//!
//! Prices are copied from the catalog's variant each time a line is touched and
//! brought to the store's present by [`Cart::reconcile`], which also says what changed
//! ([`CartNotice`]); nothing a shopper or a model says reaches them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Currency, DomainError, MAX_LINE_QUANTITY, Product, ProductId, Quantity, SetQuantity, Sku,
    Variant, VariantId,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: ProductId,
    pub variant_id: VariantId,
    pub sku: Sku,
    /// The product's title (the variant's options are in `options`).
    pub title: String,
    pub options: BTreeMap<String, String>,
    pub quantity: u32,
    pub unit_price_minor: i64,
}

impl CartLine {
    pub fn line_total_minor(&self) -> i64 {
        self.unit_price_minor.saturating_mul(self.quantity as i64)
    }
}

/// A variant's price and stock as the store holds them at this moment
/// (`Store::variant_states`), as opposed to a catalog snapshot's copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantState {
    pub variant_id: VariantId,
    pub price_minor: i64,
    pub stock: i64,
}

impl VariantState {
    /// The state a catalog value holds (for rules applied to a product as given).
    pub fn of(v: &Variant) -> Self {
        Self { variant_id: v.id.clone(), price_minor: v.price_minor, stock: v.stock }
    }
}

/// What happened to a cart line since the shopper last saw the cart, because the
/// shop's price or stock changed (an import, an edit, another shopper's order). Sent
/// once, in the `cart` event that follows the change (`notices`, a contract extension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CartNotice {
    /// The line now costs `new_unit_price_minor` each.
    PriceChanged {
        product_id: ProductId,
        variant_id: VariantId,
        sku: Sku,
        title: String,
        old_unit_price_minor: i64,
        new_unit_price_minor: i64,
    },
    /// Fewer are left than the line held: the line now holds all that is left.
    QuantityReduced {
        product_id: ProductId,
        variant_id: VariantId,
        sku: Sku,
        title: String,
        old_quantity: u32,
        new_quantity: u32,
    },
    /// None are left: the line was removed.
    OutOfStock { product_id: ProductId, variant_id: VariantId, sku: Sku, title: String, old_quantity: u32 },
    /// The product or variant is no longer sold: the line was removed.
    Removed { product_id: ProductId, variant_id: VariantId, sku: Sku, title: String, old_quantity: u32 },
}

impl CartNotice {
    /// The wire code (`price_changed`, `quantity_reduced`, `out_of_stock`, `removed`).
    pub fn code(&self) -> &'static str {
        match self {
            CartNotice::PriceChanged { .. } => "price_changed",
            CartNotice::QuantityReduced { .. } => "quantity_reduced",
            CartNotice::OutOfStock { .. } => "out_of_stock",
            CartNotice::Removed { .. } => "removed",
        }
    }

    /// Whether the line lost units (stock fell, or the item is gone), as opposed to a
    /// price change.
    pub fn is_stock(&self) -> bool {
        !matches!(self, CartNotice::PriceChanged { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// Bumped by every change; lets clients and the store order snapshots.
    pub version: i64,
    pub currency: Currency,
    pub lines: Vec<CartLine>,
    /// The `seq` of the `ack` of the last shopper command this cart has applied (or
    /// refused): saved with the cart, so a conversation rebuilt after a crash knows
    /// which acknowledged commands it still has to apply. Not part of the wire view.
    #[serde(default)]
    pub applied_seq: i64,
}

impl Cart {
    pub fn empty(currency: Currency) -> Self {
        Self { version: 0, currency, lines: Vec::new(), applied_seq: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn subtotal_minor(&self) -> i64 {
        self.lines.iter().map(CartLine::line_total_minor).fold(0i64, i64::saturating_add)
    }

    pub fn item_count(&self) -> u32 {
        self.lines.iter().map(|l| l.quantity).sum()
    }

    pub fn line(&self, variant: &VariantId) -> Option<&CartLine> {
        self.lines.iter().find(|l| &l.variant_id == variant)
    }

    /// Adds `qty` of a product's variant (creating the line), at the price and stock
    /// the product value holds.
    pub fn add(&self, product: &Product, variant: Option<&VariantId>, qty: Quantity) -> Result<Cart, DomainError> {
        let v = self.resolve(product, variant)?;
        self.add_now(product, v, &VariantState::of(v), qty)
    }

    /// Sets a line's quantity; 0 removes it.
    pub fn set(&self, product: &Product, variant: Option<&VariantId>, qty: SetQuantity) -> Result<Cart, DomainError> {
        let v = self.resolve(product, variant)?;
        self.set_now(product, v, &VariantState::of(v), qty)
    }

    /// The variant of `product` a command means (checking the product's currency).
    pub fn resolve<'p>(&self, product: &'p Product, variant: Option<&VariantId>) -> Result<&'p Variant, DomainError> {
        if product.currency != self.currency {
            return Err(DomainError::CurrencyMismatch);
        }
        product.resolve_variant(variant)
    }

    /// [`Cart::add`] of a resolved variant, at its price and stock `now` (the store's
    /// present, which a catalog snapshot may not have caught up with).
    pub fn add_now(&self, product: &Product, v: &Variant, now: &VariantState, qty: Quantity) -> Result<Cart, DomainError> {
        let current = self.line(&v.id).map_or(0, |l| l.quantity);
        let wanted = current + qty.get();
        self.with_quantity(product, v, now, wanted)
    }

    /// [`Cart::set`] of a resolved variant, at its price and stock `now`.
    pub fn set_now(&self, product: &Product, v: &Variant, now: &VariantState, qty: SetQuantity) -> Result<Cart, DomainError> {
        if qty.get() == 0 {
            return self.remove_variant(&product.id, &v.id);
        }
        self.with_quantity(product, v, now, qty.get())
    }

    /// Removes a product's line. Without a variant id, the product's only line in the
    /// cart is meant (several lines of one product need the variant id).
    pub fn remove(&self, product_id: &ProductId, variant: Option<&VariantId>) -> Result<Cart, DomainError> {
        let matching: Vec<&CartLine> = self
            .lines
            .iter()
            .filter(|l| &l.product_id == product_id && variant.is_none_or(|v| &l.variant_id == v))
            .collect();
        match matching.as_slice() {
            [] => Err(DomainError::NotInCart),
            [one] => self.remove_variant(product_id, &one.variant_id.clone()),
            many => Err(DomainError::VariantRequired {
                product: many[0].title.clone(),
                options: vec![(
                    "variant".into(),
                    many.iter().map(|l| options_label(&l.options)).collect(),
                )],
            }),
        }
    }

    /// The empty cart that follows a placed order.
    pub fn cleared(&self) -> Cart {
        Cart { version: self.version + 1, currency: self.currency, lines: Vec::new(), applied_seq: self.applied_seq }
    }

    /// Brings every line to the store's present: `now` gives each variant's current
    /// price and stock (`None`: the variant is gone). A line above its stock is cut to
    /// it (removed at 0), a gone line is removed, and every price becomes the current
    /// one. `shown` is the cart the shopper last saw: a notice is made for each line
    /// whose price differs from the one shown there, or that lost units. The version
    /// moves on when anything changed.
    pub fn reconcile<'s>(&self, shown: &Cart, now: impl Fn(&VariantId) -> Option<&'s VariantState>) -> (Cart, Vec<CartNotice>) {
        let mut next = self.clone();
        let mut notices = Vec::new();
        let mut changed = false;
        next.lines.retain_mut(|line| {
            let (product_id, variant_id, sku, title) =
                (line.product_id.clone(), line.variant_id.clone(), line.sku.clone(), line.title.clone());
            let old_quantity = line.quantity;
            let Some(state) = now(&line.variant_id) else {
                notices.push(CartNotice::Removed { product_id, variant_id, sku, title, old_quantity });
                changed = true;
                return false;
            };
            if state.stock <= 0 {
                notices.push(CartNotice::OutOfStock { product_id, variant_id, sku, title, old_quantity });
                changed = true;
                return false;
            }
            if i64::from(line.quantity) > state.stock {
                // `stock` is below the quantity, itself a u32.
                let new_quantity = state.stock as u32;
                line.quantity = new_quantity;
                notices.push(CartNotice::QuantityReduced {
                    product_id: product_id.clone(),
                    variant_id: variant_id.clone(),
                    sku: sku.clone(),
                    title: title.clone(),
                    old_quantity,
                    new_quantity,
                });
                changed = true;
            }
            let shown_price = shown.line(&line.variant_id).map_or(line.unit_price_minor, |l| l.unit_price_minor);
            if shown_price != state.price_minor {
                notices.push(CartNotice::PriceChanged {
                    product_id,
                    variant_id,
                    sku,
                    title,
                    old_unit_price_minor: shown_price,
                    new_unit_price_minor: state.price_minor,
                });
            }
            if line.unit_price_minor != state.price_minor {
                line.unit_price_minor = state.price_minor;
                changed = true;
            }
            true
        });
        if changed {
            next.version = next.version.max(shown.version + 1);
        }
        (next, notices)
    }

    fn with_quantity(&self, product: &Product, v: &Variant, now: &VariantState, wanted: u32) -> Result<Cart, DomainError> {
        if wanted > MAX_LINE_QUANTITY {
            return Err(DomainError::LineLimit { max: MAX_LINE_QUANTITY });
        }
        if wanted as i64 > now.stock {
            return Err(DomainError::OutOfStock { sku: v.sku.to_string(), available: now.stock.max(0) });
        }
        let mut next = self.clone();
        next.version += 1;
        let line = CartLine {
            product_id: product.id.clone(),
            variant_id: v.id.clone(),
            sku: v.sku.clone(),
            title: product.title.clone(),
            options: v.options.clone(),
            quantity: wanted,
            unit_price_minor: now.price_minor,
        };
        match next.lines.iter_mut().find(|l| l.variant_id == v.id) {
            Some(existing) => *existing = line,
            None => next.lines.push(line),
        }
        Ok(next)
    }

    fn remove_variant(&self, product_id: &ProductId, variant: &VariantId) -> Result<Cart, DomainError> {
        if !self.lines.iter().any(|l| &l.product_id == product_id && &l.variant_id == variant) {
            return Err(DomainError::NotInCart);
        }
        let mut next = self.clone();
        next.version += 1;
        next.lines.retain(|l| &l.variant_id != variant);
        Ok(next)
    }
}

/// `M / Black` from a line's options.
pub fn options_label(options: &BTreeMap<String, String>) -> String {
    options.values().cloned().collect::<Vec<_>>().join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TenantId;

    fn product(sku: &str, price_minor: i64, stock: i64) -> Product {
        Product {
            id: ProductId::generate(),
            tenant_id: TenantId::generate(),
            sku: Sku::parse(sku).unwrap(),
            title: format!("Product {sku}"),
            description_html: String::new(),
            description_text: String::new(),
            category: String::new(),
            tags: Vec::new(),
            image_url: None,
            options: Vec::new(),
            currency: Currency::USD,
            variants: vec![Variant {
                id: VariantId::generate(),
                sku: Sku::parse(sku).unwrap(),
                title: format!("Product {sku}"),
                options: BTreeMap::new(),
                price_minor,
                stock,
            }],
        }
    }

    fn state(p: &Product, price_minor: i64, stock: i64) -> VariantState {
        VariantState { variant_id: p.variants[0].id.clone(), price_minor, stock }
    }

    #[test]
    fn add_and_set_check_the_stock_now_not_the_products() {
        let tee = product("TEE", 1500, 10);
        let v = &tee.variants[0];
        let cart = Cart::empty(Currency::USD).add(&tee, None, Quantity::parse(2).unwrap()).unwrap();
        let now = state(&tee, 1700, 3);
        let err = cart.add_now(&tee, v, &now, Quantity::parse(2).unwrap()).unwrap_err();
        assert_eq!(err, DomainError::OutOfStock { sku: "TEE".into(), available: 3 });
        let err = cart.set_now(&tee, v, &now, SetQuantity::parse(4).unwrap()).unwrap_err();
        assert_eq!(err, DomainError::OutOfStock { sku: "TEE".into(), available: 3 });
        let next = cart.add_now(&tee, v, &now, Quantity::ONE).unwrap();
        assert_eq!((next.lines[0].quantity, next.lines[0].unit_price_minor), (3, 1700));
        let removed = cart.set_now(&tee, v, &state(&tee, 1500, 0), SetQuantity::parse(0).unwrap()).unwrap();
        assert!(removed.is_empty(), "setting 0 needs no stock");
    }

    #[test]
    fn reconcile_reprices_cuts_and_removes_with_notices() {
        let (tee, mug, cap, gone) = (product("TEE", 1500, 10), product("MUG", 800, 10), product("CAP", 900, 10), product("GONE", 500, 10));
        let q = |n| Quantity::parse(n).unwrap();
        let shown = Cart::empty(Currency::USD)
            .add(&tee, None, q(2))
            .and_then(|c| c.add(&mug, None, q(5)))
            .and_then(|c| c.add(&cap, None, q(1)))
            .and_then(|c| c.add(&gone, None, q(1)))
            .unwrap();
        let states = [state(&tee, 1800, 10), state(&mug, 800, 3), state(&cap, 900, 0)];
        let now = |id: &VariantId| states.iter().find(|s| &s.variant_id == id);
        let (next, notices) = shown.reconcile(&shown, now);
        let lines: Vec<(&str, u32, i64)> = next.lines.iter().map(|l| (l.sku.as_str(), l.quantity, l.unit_price_minor)).collect();
        assert_eq!(lines, vec![("TEE", 2, 1800), ("MUG", 3, 800)]);
        assert_eq!(next.version, shown.version + 1);
        let codes: Vec<&str> = notices.iter().map(CartNotice::code).collect();
        assert_eq!(codes, vec!["price_changed", "quantity_reduced", "out_of_stock", "removed"]);
        assert!(matches!(&notices[0], CartNotice::PriceChanged { old_unit_price_minor: 1500, new_unit_price_minor: 1800, .. }));
        assert!(matches!(&notices[1], CartNotice::QuantityReduced { old_quantity: 5, new_quantity: 3, .. }));
        assert_eq!(notices.iter().filter(|n| n.is_stock()).count(), 3);

        // Up to date: nothing to tell, nothing changes.
        let (again, none) = next.reconcile(&next, now);
        assert_eq!((again, none), (next.clone(), Vec::new()));

        // A line just touched at the current price is still told against the one shown.
        let touched = shown.add_now(&tee, &tee.variants[0], &states[0], q(1)).unwrap();
        let (_, notices) = touched.reconcile(&shown, now);
        assert!(matches!(&notices[0], CartNotice::PriceChanged { old_unit_price_minor: 1500, new_unit_price_minor: 1800, .. }));
    }
}
