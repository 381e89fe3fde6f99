//! The domain: values parsed once, and the rules over them as pure functions.
//! Nothing here knows about HTTP, actors or SQL.

mod cart;
mod ids;
mod money;
mod order;
mod product;
mod quantity;

pub use cart::{Cart, CartLine, CartNotice, VariantState, options_label};
pub use ids::{
    CommandId, ConversationId, DeploymentId, JobId, MAX_ID_LEN, OrderId, ProductId, Sku, TenantId, UserId, VariantId,
};
pub use money::{Currency, Money};
pub use order::Order;
pub use product::{Product, Variant, describe_options};
pub use quantity::{MAX_LINE_QUANTITY, Quantity, SetQuantity};

/// Why a value or a change was refused. Each maps to one wire code in the gateway.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid {kind}")]
    InvalidId { kind: &'static str },
    #[error("invalid SKU {0:?}")]
    InvalidSku(String),
    #[error("invalid currency {0:?}")]
    InvalidCurrency(String),
    #[error("invalid price {0}")]
    InvalidPrice(String),
    #[error("quantity must be between {min} and 99, got {got}")]
    InvalidQuantity { got: i64, min: u32 },
    #[error("invalid product: {0}")]
    InvalidProduct(String),
    #[error("a cart line holds at most {max} of one variant")]
    LineLimit { max: u32 },
    #[error("only {available} of {sku} in stock")]
    OutOfStock { sku: String, available: i64 },
    #[error("{product} comes in several variants; choose {}", describe_options(.options))]
    VariantRequired { product: String, options: Vec<(String, Vec<String>)> },
    #[error("no such variant for this product")]
    VariantNotFound,
    #[error("that item is not in the cart")]
    NotInCart,
    #[error("the product is priced in another currency than the cart")]
    CurrencyMismatch,
    #[error("the cart is empty")]
    EmptyCart,
}
