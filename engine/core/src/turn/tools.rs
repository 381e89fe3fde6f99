//! The tools a model may call during a turn, and what each returns. The Groq adapter
//! describes these to the model as JSON schemas; the offline assistant emits the same
//! calls. Every call is executed by the pipeline through the cart actor, exactly like
//! a shopper's command: a model never sets a price or names another tenant.

use serde::{Deserialize, Serialize};

use crate::domain::{ProductId, VariantId};
use crate::events::ErrorCode;
use crate::views::{CartView, ProductView};

pub const SEARCH_PRODUCTS: &str = "search_products";
pub const SHOW_PRODUCTS: &str = "show_products";
pub const ADD_TO_CART: &str = "add_to_cart";
pub const SET_QUANTITY: &str = "set_quantity";
pub const REMOVE_FROM_CART: &str = "remove_from_cart";
pub const VIEW_CART: &str = "view_cart";
pub const CHECKOUT: &str = "checkout";
pub const RECOMMEND_PRODUCTS: &str = "recommend_products";

/// A parsed tool call. Unknown tools or bad arguments are answered with an error
/// result to the model, never executed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", content = "arguments", rename_all = "snake_case")]
pub enum Tool {
    SearchProducts(SearchArgs),
    /// Attach these products to the reply (a `products` event).
    ShowProducts { product_ids: Vec<ProductId> },
    AddToCart(LineArgs),
    SetQuantity(LineArgs),
    RemoveFromCart { product_id: ProductId, variant_id: Option<VariantId> },
    ViewCart {},
    Checkout {},
    /// Products that go well with these ("you might also like"; without ids: with the
    /// cart's), never one already in the cart. Shown as a `products` event.
    RecommendProducts {
        #[serde(default)]
        product_ids: Vec<ProductId>,
        #[serde(default)]
        limit: Option<u32>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchArgs {
    pub query: String,
    #[serde(default)]
    pub max_price_minor: Option<i64>,
    #[serde(default)]
    pub min_price_minor: Option<i64>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub in_stock_only: bool,
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineArgs {
    pub product_id: ProductId,
    #[serde(default)]
    pub variant_id: Option<VariantId>,
    /// 1..=99 for add, 0..=99 for set; checked by the cart rules, not here.
    pub quantity: i64,
}

impl Tool {
    /// Parses a model's call by name and JSON arguments.
    pub fn parse(name: &str, arguments: &serde_json::Value) -> Result<Tool, String> {
        let v = serde_json::json!({"name": name, "arguments": arguments});
        serde_json::from_value(v).map_err(|e| format!("bad call to {name}: {e}"))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Tool::SearchProducts(_) => SEARCH_PRODUCTS,
            Tool::ShowProducts { .. } => SHOW_PRODUCTS,
            Tool::AddToCart(_) => ADD_TO_CART,
            Tool::SetQuantity(_) => SET_QUANTITY,
            Tool::RemoveFromCart { .. } => REMOVE_FROM_CART,
            Tool::ViewCart {} => VIEW_CART,
            Tool::Checkout {} => CHECKOUT,
            Tool::RecommendProducts { .. } => RECOMMEND_PRODUCTS,
        }
    }

    /// The JSON arguments of this call, as a model would send them.
    pub fn arguments(&self) -> serde_json::Value {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("arguments").cloned())
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

/// What a tool call returned, serialised as the tool message's content.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ToolResult {
    Products { items: Vec<ProductView> },
    Cart { cart: CartView },
    Order { order_id: String, total_minor: i64, currency: String },
    Error {
        code: ErrorCode,
        message: String,
        /// For `variant_required`: the product and its option values.
        #[serde(default)]
        product_id: Option<String>,
        #[serde(default)]
        options: Vec<(String, Vec<String>)>,
    },
}

impl ToolResult {
    pub fn to_content(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    pub fn from_content(s: &str) -> Option<ToolResult> {
        serde_json::from_str(s).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tools_round_trip_through_name_and_arguments() {
        let t = Tool::AddToCart(LineArgs {
            product_id: ProductId::parse("p_1").unwrap(),
            variant_id: None,
            quantity: 2,
        });
        let back = Tool::parse(t.name(), &t.arguments()).unwrap();
        assert_eq!(back, t);
        assert_eq!(Tool::parse("view_cart", &serde_json::json!({})).unwrap(), Tool::ViewCart {});
        let r = Tool::RecommendProducts { product_ids: vec![ProductId::parse("p_1").unwrap()], limit: Some(3) };
        assert_eq!(Tool::parse(r.name(), &r.arguments()).unwrap(), r);
        assert_eq!(
            Tool::parse("recommend_products", &serde_json::json!({})).unwrap(),
            Tool::RecommendProducts { product_ids: vec![], limit: None }
        );
        assert!(Tool::parse("set_price", &serde_json::json!({"price": 1})).is_err());
        assert!(Tool::parse("add_to_cart", &serde_json::json!({"product_id": "bad id!", "quantity": 1})).is_err());
    }
}
