//! Products, sold through their variants.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Currency, DomainError, Money, ProductId, Sku, TenantId, VariantId};

/// A variant: one sellable combination of a product's options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    pub id: VariantId,
    pub sku: Sku,
    /// `M / Black`; the product's title when it has no options.
    pub title: String,
    /// Option name (lower-case, e.g. `size`) to value (`M`).
    pub options: BTreeMap<String, String>,
    pub price_minor: i64,
    /// Units available; never negative.
    pub stock: i64,
}

impl Variant {
    pub fn in_stock(&self) -> bool {
        self.stock > 0
    }
}

/// A product of one tenant's catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub tenant_id: TenantId,
    pub sku: Sku,
    /// Cleaned once at import: entities decoded, whitespace collapsed.
    pub title: String,
    /// As the shop wrote it, for display.
    pub description_html: String,
    /// Tags stripped, for search and for the assistant's words.
    pub description_text: String,
    pub category: String,
    pub tags: Vec<String>,
    pub image_url: Option<String>,
    /// Option names in the shop's order (`size`, `color`); empty for a simple product.
    pub options: Vec<String>,
    pub currency: Currency,
    /// At least one. A product without options has exactly one.
    pub variants: Vec<Variant>,
}

impl Product {
    /// The lowest variant price (the contract's product `price`).
    pub fn price(&self) -> Money {
        let minor = self.variants.iter().map(|v| v.price_minor).min().unwrap_or(0);
        Money::new(minor, self.currency)
    }

    pub fn in_stock(&self) -> bool {
        self.variants.iter().any(Variant::in_stock)
    }

    pub fn variant(&self, id: &VariantId) -> Option<&Variant> {
        self.variants.iter().find(|v| &v.id == id)
    }

    /// The variant a cart command means: the given one, or the only one.
    pub fn resolve_variant(&self, id: Option<&VariantId>) -> Result<&Variant, DomainError> {
        match id {
            Some(id) => self.variant(id).ok_or(DomainError::VariantNotFound),
            None if self.variants.len() == 1 => Ok(&self.variants[0]),
            None => Err(DomainError::VariantRequired {
                product: self.title.clone(),
                options: self.option_values(),
            }),
        }
    }

    /// Each option name with its distinct values, in first-seen order.
    pub fn option_values(&self) -> Vec<(String, Vec<String>)> {
        self.options
            .iter()
            .map(|name| {
                let mut values: Vec<String> = Vec::new();
                for v in &self.variants {
                    if let Some(val) = v.options.get(name)
                        && !values.contains(val)
                    {
                        values.push(val.clone());
                    }
                }
                (name.clone(), values)
            })
            .collect()
    }

    /// Checks the invariants every stored product keeps.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.title.trim().is_empty() {
            return Err(DomainError::InvalidProduct("title is empty".into()));
        }
        if self.variants.is_empty() {
            return Err(DomainError::InvalidProduct("a product needs at least one variant".into()));
        }
        if self.options.is_empty() && self.variants.len() != 1 {
            return Err(DomainError::InvalidProduct(
                "a product without options has exactly one variant".into(),
            ));
        }
        for v in &self.variants {
            if v.price_minor < 0 {
                return Err(DomainError::InvalidProduct(format!("variant {} has a negative price", v.sku)));
            }
            if v.stock < 0 {
                return Err(DomainError::InvalidProduct(format!("variant {} has negative stock", v.sku)));
            }
        }
        Ok(())
    }
}

/// Lists option values for a human: `size (XS, S, M), color (Black, Blue)`.
pub fn describe_options(options: &[(String, Vec<String>)]) -> String {
    options
        .iter()
        .map(|(name, values)| format!("{name} ({})", values.join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}
