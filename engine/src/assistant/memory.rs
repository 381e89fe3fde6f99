//! What the offline assistant remembers from one turn to the next, carried by the
//! pipeline as opaque JSON (`DialogueState::memory`): a question it is waiting on and
//! the product the conversation is about.
//!
//! Unknown or old shapes read as empty memory rather than failing a turn; the worst a
//! lost memory costs is asking the shopper again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::ProductId;

/// An add that waits for the shopper to choose options ("Which size and color?").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAdd {
    pub product_id: ProductId,
    pub quantity: i64,
    /// Option values already chosen, by option name.
    #[serde(default)]
    pub chosen: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingAdd>,
    /// The product last talked about or acted on: what "it" means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<ProductId>,
}

impl Memory {
    pub fn from_json(v: &serde_json::Value) -> Memory {
        if v.is_null() {
            return Memory::default();
        }
        serde_json::from_value(v.clone()).unwrap_or_default()
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let m = Memory {
            pending: Some(PendingAdd {
                product_id: ProductId::parse("p_1").unwrap(),
                quantity: 2,
                chosen: BTreeMap::from([("color".into(), "Black".into())]),
            }),
            focus: None,
        };
        assert_eq!(Memory::from_json(&m.to_json()), m);
        assert_eq!(Memory::from_json(&serde_json::json!({"pending": 3})), Memory::default());
        assert_eq!(Memory::from_json(&serde_json::json!("x")), Memory::default());
    }
}
