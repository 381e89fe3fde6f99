//! The JSON shapes of products, carts and orders that the contract (§1) fixes.
//! Built from domain values in one place so every path (WebSocket, admin API,
//! assistant) shows the same thing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Cart, Currency, Product};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceView {
    pub amount_minor: i64,
    pub currency: Currency,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantView {
    pub id: String,
    pub sku: String,
    pub title: String,
    pub options: BTreeMap<String, String>,
    pub price: PriceView,
    pub in_stock: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    pub id: String,
    pub sku: String,
    pub title: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub price: PriceView,
    pub in_stock: bool,
    pub image_url: Option<String>,
    pub options: Vec<String>,
    pub variants: Vec<VariantView>,
}

/// A description sent to shoppers (`products` events, the assistant's tool results) is
/// cut to this many characters, at a character boundary, ending with `…`. The admin
/// API shows the whole description (at most 64 KiB, the import limit).
pub const WIRE_DESCRIPTION_CHARS: usize = 1_000;

/// A `products` event of 10 products at every import limit (see `catalog::limits`),
/// in ASCII, serialises to at most this many bytes (checked by a test).
pub const MAX_PRODUCTS_EVENT_BYTES: usize = 1024 * 1024;

impl ProductView {
    /// The PRODUCT a shopper is sent: its description cut to [`WIRE_DESCRIPTION_CHARS`].
    pub fn for_shopper(p: &Product) -> Self {
        let mut view = ProductView::from(p);
        view.description = cut_for_wire(&p.description_html, WIRE_DESCRIPTION_CHARS);
        view
    }
}

/// `s` whole when it has at most `max` characters; else its first `max - 1` and `…`.
pub fn cut_for_wire(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some(_) => {
            let end = s.char_indices().nth(max.saturating_sub(1)).map_or(s.len(), |(i, _)| i);
            format!("{}…", &s[..end])
        }
    }
}

impl From<&Product> for ProductView {
    /// The whole product (the admin API's view); shoppers get [`ProductView::for_shopper`].
    fn from(p: &Product) -> Self {
        ProductView {
            id: p.id.to_string(),
            sku: p.sku.to_string(),
            title: p.title.clone(),
            description: p.description_html.clone(),
            category: p.category.clone(),
            tags: p.tags.clone(),
            price: PriceView { amount_minor: p.price().minor, currency: p.currency },
            in_stock: p.in_stock(),
            image_url: p.image_url.clone(),
            options: p.options.clone(),
            variants: p
                .variants
                .iter()
                .map(|v| VariantView {
                    id: v.id.to_string(),
                    sku: v.sku.to_string(),
                    title: v.title.clone(),
                    options: v.options.clone(),
                    price: PriceView { amount_minor: v.price_minor, currency: p.currency },
                    in_stock: v.in_stock(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartItemView {
    pub product_id: String,
    pub variant_id: String,
    pub sku: String,
    pub title: String,
    pub options: BTreeMap<String, String>,
    pub quantity: u32,
    pub unit_price_minor: i64,
    pub line_total_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartView {
    pub version: i64,
    pub currency: Currency,
    pub subtotal_minor: i64,
    pub items: Vec<CartItemView>,
}

impl From<&Cart> for CartView {
    fn from(c: &Cart) -> Self {
        CartView {
            version: c.version,
            currency: c.currency,
            subtotal_minor: c.subtotal_minor(),
            items: c
                .lines
                .iter()
                .map(|l| CartItemView {
                    product_id: l.product_id.to_string(),
                    variant_id: l.variant_id.to_string(),
                    sku: l.sku.to_string(),
                    title: l.title.clone(),
                    options: l.options.clone(),
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price_minor,
                    line_total_minor: l.line_total_minor(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_cut_at_a_char_boundary() {
        assert_eq!(cut_for_wire("short", 10), "short");
        assert_eq!(cut_for_wire("exactly10!", 10), "exactly10!");
        assert_eq!(cut_for_wire("eleven chars", 10), "eleven ch…");
        let cut = cut_for_wire(&"é".repeat(50), 10);
        assert_eq!(cut.chars().count(), 10);
        assert!(cut.ends_with("é…"));
        assert_eq!(cut_for_wire("", 0), "");
    }
}
