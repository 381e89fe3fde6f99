//! Orders: what a checkout leaves behind.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CartLine, ConversationId, Currency, OrderId, TenantId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub tenant_id: TenantId,
    pub conversation_id: ConversationId,
    pub lines: Vec<CartLine>,
    pub total_minor: i64,
    pub currency: Currency,
    /// `placed` until a payment integration moves it on.
    pub status: String,
    pub created_at: DateTime<Utc>,
}
