//! Quantities of one cart line: 1..=99 for adding, 0..=99 for setting.

use serde::{Deserialize, Serialize};

use super::DomainError;

/// The most of one variant a cart line may hold.
pub const MAX_LINE_QUANTITY: u32 = 99;

/// A positive line quantity, 1..=99.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

impl Quantity {
    pub const ONE: Quantity = Quantity(1);

    pub fn parse(n: i64) -> Result<Self, DomainError> {
        if (1..=MAX_LINE_QUANTITY as i64).contains(&n) {
            Ok(Self(n as u32))
        } else {
            Err(DomainError::InvalidQuantity { got: n, min: 1 })
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Quantity {
    type Error = DomainError;
    fn try_from(n: i64) -> Result<Self, DomainError> {
        Self::parse(n)
    }
}

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

/// A quantity to set a line to: 0..=99, where 0 removes the line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SetQuantity(u32);

impl SetQuantity {
    pub fn parse(n: i64) -> Result<Self, DomainError> {
        if (0..=MAX_LINE_QUANTITY as i64).contains(&n) {
            Ok(Self(n as u32))
        } else {
            Err(DomainError::InvalidQuantity { got: n, min: 0 })
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(1).is_ok());
        assert!(Quantity::parse(99).is_ok());
        assert!(Quantity::parse(100).is_err());
        assert!(Quantity::parse(-3).is_err());
        assert!(SetQuantity::parse(0).is_ok());
        assert!(SetQuantity::parse(100).is_err());
    }
}
