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

impl From<&Product> for ProductView {
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
