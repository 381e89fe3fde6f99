//! The turn pipeline: a shopper's message → retrieval → model rounds with tool calls →
//! events. (Filled in with the offline assistant.)

use serde::{Deserialize, Serialize};

/// What the pipeline remembers between turns, whatever model answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DialogueState {}
