//! A conversation's events, as the contract (§1) puts them on the wire.
//!
//! An event gets its `seq` from its conversation and is persisted before any socket
//! sees it; replay re-sends the stored JSON unchanged.

use serde::{Deserialize, Serialize};

use crate::domain::CartNotice;
use crate::views::{CartView, ProductView};

/// The contract's error codes (§1). Each has one HTTP status and one meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    OutOfStock,
    /// A contract extension: a checkout found a price that changed since the shopper
    /// last saw the cart; nothing was charged, and a `cart` event with the new prices
    /// (and `notices`) follows.
    PriceChanged,
    VariantRequired,
    EmptyCart,
    RateLimited,
    QuotaExceeded,
    TooLarge,
    Unavailable,
    Internal,
    /// HTTP only (a project extension): the request body did not arrive in time.
    RequestTimeout,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::OutOfStock => "out_of_stock",
            ErrorCode::PriceChanged => "price_changed",
            ErrorCode::VariantRequired => "variant_required",
            ErrorCode::EmptyCart => "empty_cart",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
            ErrorCode::RequestTimeout => "request_timeout",
        }
    }
}

/// The body of an event; `seq` is added by [`SeqEvent`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "ack")]
    Ack { id: String },
    #[serde(rename = "assistant.start")]
    AssistantStart { turn: u64 },
    #[serde(rename = "assistant.delta")]
    AssistantDelta { turn: u64, text: String },
    #[serde(rename = "assistant.end")]
    AssistantEnd { turn: u64, text: String },
    #[serde(rename = "products")]
    Products { turn: u64, items: Vec<ProductView> },
    /// `notices` (a contract extension) says what changed in the cart's lines because
    /// the shop's prices or stock changed since the shopper last saw it; empty when
    /// nothing did. Sent once, with the cart that first shows the change.
    #[serde(rename = "cart")]
    Cart {
        cart: CartView,
        #[serde(default)]
        notices: Vec<CartNotice>,
    },
    #[serde(rename = "order")]
    Order { order_id: String, total_minor: i64, currency: String, payment_url: Option<String> },
    #[serde(rename = "error")]
    Error { code: ErrorCode, message: String, id: Option<String> },
    #[serde(rename = "handover")]
    Handover { state: String },
    #[serde(rename = "staff.message")]
    StaffMessage { name: String, text: String },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Ack { .. } => "ack",
            Event::AssistantStart { .. } => "assistant.start",
            Event::AssistantDelta { .. } => "assistant.delta",
            Event::AssistantEnd { .. } => "assistant.end",
            Event::Products { .. } => "products",
            Event::Cart { .. } => "cart",
            Event::Order { .. } => "order",
            Event::Error { .. } => "error",
            Event::Handover { .. } => "handover",
            Event::StaffMessage { .. } => "staff.message",
        }
    }
}

/// An event with its place in the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeqEvent {
    pub seq: i64,
    #[serde(flatten)]
    pub event: Event,
}

impl SeqEvent {
    pub fn to_json(&self) -> String {
        // Serialising these plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_as_the_contract_says() {
        let e = SeqEvent { seq: 7, event: Event::Ack { id: "c1".into() } };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v, serde_json::json!({"type":"ack","id":"c1","seq":7}));
        let e = SeqEvent {
            seq: 8,
            event: Event::Error { code: ErrorCode::VariantRequired, message: "m".into(), id: None },
        };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v, serde_json::json!({"type":"error","code":"variant_required","message":"m","id":null,"seq":8}));
        let e = SeqEvent { seq: 9, event: Event::Error { code: ErrorCode::PriceChanged, message: "m".into(), id: None } };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["code"], "price_changed");
    }

    #[test]
    fn cart_notices_serialise_flat_with_a_code() {
        use crate::domain::{Cart, Currency, ProductId, Sku, VariantId};
        let notice = CartNotice::PriceChanged {
            product_id: ProductId::parse("p1").unwrap(),
            variant_id: VariantId::parse("v1").unwrap(),
            sku: Sku::parse("TEE-M").unwrap(),
            title: "Tee".into(),
            old_unit_price_minor: 1500,
            new_unit_price_minor: 1800,
        };
        let e = SeqEvent {
            seq: 3,
            event: Event::Cart { cart: CartView::from(&Cart::empty(Currency::USD)), notices: vec![notice] },
        };
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(
            v["notices"],
            serde_json::json!([{"code":"price_changed","product_id":"p1","variant_id":"v1","sku":"TEE-M","title":"Tee",
                "old_unit_price_minor":1500,"new_unit_price_minor":1800}])
        );
        // A stored cart event from before notices existed still reads.
        let old: SeqEvent = serde_json::from_str(
            r#"{"type":"cart","seq":1,"cart":{"version":0,"currency":"USD","subtotal_minor":0,"items":[]}}"#,
        )
        .unwrap();
        assert!(matches!(old.event, Event::Cart { notices, .. } if notices.is_empty()));
    }
}
