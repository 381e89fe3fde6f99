//! Engine errors → the contract's wire codes. The gateway maps codes to HTTP statuses
//! and close codes; this is the only place an engine error picks its code.

use crate::domain::DomainError;
use crate::events::ErrorCode;

impl From<&DomainError> for ErrorCode {
    fn from(e: &DomainError) -> Self {
        // Exhaustive on purpose: a new variant must choose its code here.
        match e {
            DomainError::InvalidId { .. }
            | DomainError::InvalidSku(_)
            | DomainError::InvalidCurrency(_)
            | DomainError::InvalidPrice(_)
            | DomainError::InvalidQuantity { .. }
            | DomainError::InvalidProduct(_)
            | DomainError::LineLimit { .. }
            | DomainError::CurrencyMismatch => ErrorCode::BadRequest,
            DomainError::OutOfStock { .. } => ErrorCode::OutOfStock,
            DomainError::VariantRequired { .. } => ErrorCode::VariantRequired,
            DomainError::VariantNotFound | DomainError::NotInCart => ErrorCode::NotFound,
            DomainError::EmptyCart => ErrorCode::EmptyCart,
        }
    }
}
