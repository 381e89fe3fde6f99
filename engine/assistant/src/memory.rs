//! What the offline assistant remembers, carried by the pipeline as opaque JSON
//! (`DialogueState::memory`): between turns, the questions it is waiting on and what
//! the conversation is about ("it", "the second one", "any in blue?"); within a turn,
//! the plan its later rounds finish (`TurnPlan`).
//!
//! Unknown or old shapes read as empty memory rather than failing a turn; the worst a
//! lost memory costs is asking the shopper again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{ProductId, VariantId};

/// A question the assistant asked and the next message may answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Pending {
    /// "Which size and color?" for an add (or for a line whose variant changes).
    Options {
        product_id: ProductId,
        quantity: i64,
        /// Option values already chosen, by option name.
        #[serde(default)]
        chosen: BTreeMap<String, String>,
        /// The cart line this choice replaces ("in L instead").
        #[serde(default)]
        replaces: Option<VariantId>,
    },
    /// "Which one do you mean: A, B or C?" for an add or a question.
    Choice {
        candidates: Vec<ProductId>,
        quantity: i64,
        /// The words of the request, so options said with it still count.
        #[serde(default)]
        said: String,
        #[serde(default)]
        add: bool,
    },
    /// "Shall I add it at that price?" after the shopper named a price of their own.
    Confirm { product_id: ProductId, variant_id: Option<VariantId>, quantity: i64 },
}

impl Pending {
    pub fn product(&self) -> Option<&ProductId> {
        match self {
            Pending::Options { product_id, .. } | Pending::Confirm { product_id, .. } => Some(product_id),
            Pending::Choice { .. } => None,
        }
    }
}

/// The last search, for follow-ups that only change its filters ("any in blue?").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchMemo {
    pub query: String,
    #[serde(default)]
    pub min_price: Option<i64>,
    #[serde(default)]
    pub max_price: Option<i64>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub in_stock: bool,
    /// The page of results shown last ("show me more").
    #[serde(default)]
    pub page: usize,
}

/// What a list position ("the second one") points into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Listed {
    #[default]
    Products,
    Cart,
}

/// The kind of the last thing done, for messages that go on with it ("and in yellow").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Added,
    Changed,
    Removed,
    Searched,
    Described,
}

/// One step of a turn's reply: text, or the report of the n-th tool call of the round
/// that planned it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Say { text: String },
    Result { call: usize, report: bool },
}

/// What the rounds after the first still have to say and do.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnPlan {
    pub steps: Vec<Step>,
    /// Check out once every cart change before it went through.
    #[serde(default)]
    pub checkout: bool,
}

/// An add the cart refused for its quantity, to retry with another ("99 then").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    pub product_id: ProductId,
    pub variant_id: Option<VariantId>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// The product last talked about or acted on: what "it" means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<ProductId>,
    /// The cart line last added to or changed: what "make it 2" changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus_line: Option<VariantId>,
    /// The products last listed, in order: what "the second one" means.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<ProductId>,
    #[serde(default)]
    pub listed: Listed,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchMemo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// Options the shopper asked about for the product talked about ("do you have it
    /// in XL?"), kept for the add that may follow ("I'll take two in black").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<(ProductId, BTreeMap<String, String>)>,
    /// Products already recommended for ("you might also like"): not again for the
    /// same product ("add two more").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggested: Vec<ProductId>,
    /// The last "you might also like" products, in order: what "the second one" means
    /// when no list was shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<ProductId>,
    /// Only between the rounds of one turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<TurnPlan>,
}

impl Memory {
    pub fn from_json(v: &serde_json::Value) -> Memory {
        if v.is_null() {
            return Memory::default();
        }
        // Read in place: the memory is read on every round of every turn.
        Memory::deserialize(v).unwrap_or_default()
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
            pending: vec![Pending::Options {
                product_id: ProductId::parse("p_1").unwrap(),
                quantity: 2,
                chosen: BTreeMap::from([("color".into(), "Black".into())]),
                replaces: None,
            }],
            search: Some(SearchMemo { query: "hoodie".into(), max_price: Some(5000), ..SearchMemo::default() }),
            last: Some(Action::Searched),
            ..Memory::default()
        };
        assert_eq!(Memory::from_json(&m.to_json()), m);
        assert_eq!(Memory::from_json(&serde_json::json!({"pending": 3})), Memory::default());
        assert_eq!(Memory::from_json(&serde_json::json!("x")), Memory::default());
        assert_eq!(Memory::default().to_json(), serde_json::json!({"listed": "products"}));
    }
}
