//! What a turn's model sees and remembers, whatever model answers: the tools it may
//! call (`tools`) and the dialogue state kept between turns. The pipeline that runs a
//! turn is the application's (`engine::turn`).

pub mod tools;

use serde::{Deserialize, Serialize};

use crate::domain::ProductId;

/// What the pipeline remembers between turns, whatever model answers. Persisted with
/// the conversation, so a passivated conversation resumes where it was.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DialogueState {
    /// The products of the last `products` event, in the order shown ("the second one").
    #[serde(default)]
    pub last_products: Vec<ProductId>,
    /// Private memory of the model adapter (the offline assistant keeps a pending
    /// question here); passed back unchanged on the next turn.
    #[serde(default)]
    pub memory: serde_json::Value,
}
