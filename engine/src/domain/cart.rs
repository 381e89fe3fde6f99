//! Cart rules as pure functions: every change is checked here, against the catalog,
//! and either yields the next cart or a reason, leaving the cart as it was.
//!
//! Prices are copied from the catalog's variant each time a line is touched and
//! refreshed by [`Cart::reprice`]; nothing a shopper or a model says reaches them.

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

    /// Adds `qty` of a product's variant (creating the line).
    pub fn add(&self, product: &Product, variant: Option<&VariantId>, qty: Quantity) -> Result<Cart, DomainError> {
        let v = self.check_product(product, variant)?;
        let current = self.line(&v.id).map_or(0, |l| l.quantity);
        let wanted = current + qty.get();
        self.with_quantity(product, v, wanted)
    }

    /// Sets a line's quantity; 0 removes it.
    pub fn set(&self, product: &Product, variant: Option<&VariantId>, qty: SetQuantity) -> Result<Cart, DomainError> {
        let v = self.check_product(product, variant)?;
        if qty.get() == 0 {
            return self.remove_variant(&product.id, &v.id);
        }
        self.with_quantity(product, v, qty.get())
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

    /// Refreshes titles and prices from the catalog (a product that is gone keeps its
    /// last known line; checkout refuses it through the stock check).
    pub fn reprice<'a>(&self, lookup: impl Fn(&VariantId) -> Option<(&'a Product, &'a Variant)>) -> Cart {
        let mut next = self.clone();
        let mut changed = false;
        for line in &mut next.lines {
            if let Some((p, v)) = lookup(&line.variant_id)
                && (line.unit_price_minor != v.price_minor || line.title != p.title)
            {
                line.unit_price_minor = v.price_minor;
                line.title = p.title.clone();
                changed = true;
            }
        }
        if changed {
            next.version += 1;
        }
        next
    }

    fn check_product<'p>(&self, product: &'p Product, variant: Option<&VariantId>) -> Result<&'p Variant, DomainError> {
        if product.currency != self.currency {
            return Err(DomainError::CurrencyMismatch);
        }
        product.resolve_variant(variant)
    }

    fn with_quantity(&self, product: &Product, v: &Variant, wanted: u32) -> Result<Cart, DomainError> {
        if wanted > MAX_LINE_QUANTITY {
            return Err(DomainError::LineLimit { max: MAX_LINE_QUANTITY });
        }
        if wanted as i64 > v.stock {
            return Err(DomainError::OutOfStock { sku: v.sku.to_string(), available: v.stock.max(0) });
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
            unit_price_minor: v.price_minor,
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
