//! Identifiers, parsed once at the edge and trusted afterwards.
//!
//! Ids are opaque strings on the wire. Inside Aisle each kind has its own type so a
//! `ProductId` can never be passed where a `TenantId` is expected: tenant isolation
//! starts with the type checker.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// The longest id we accept from outside (client command ids use the same bound).
pub const MAX_ID_LEN: usize = 64;

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id that came from outside (a frame, a URL, the store).
            pub fn parse(s: impl Into<String>) -> Result<Self, DomainError> {
                let s = s.into();
                if valid_id(&s) {
                    Ok(Self(s))
                } else {
                    Err(DomainError::InvalidId { kind: stringify!($name) })
                }
            }

            /// A new random id with this kind's prefix.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                Self::parse(s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

opaque_id!(
    /// A shop. Every store query and every actor is scoped by one.
    TenantId, "t_"
);
opaque_id!(
    /// A product (the thing a shopper names); sold through its variants.
    ProductId, "p_"
);
opaque_id!(
    /// A sellable variant of a product (a size/colour combination, or the only one).
    VariantId, "v_"
);
opaque_id!(
    /// One shopper's conversation; its cart has the same id.
    ConversationId, "c_"
);
opaque_id!(
    /// A placed order.
    OrderId, "o_"
);
opaque_id!(
    /// A widget deployment of a tenant (its key is separate and revocable).
    DeploymentId, "d_"
);
opaque_id!(
    /// A background job (a catalog import, an indexing run) of a tenant.
    JobId, "j_"
);
opaque_id!(
    /// A person who signs in to a tenant's admin portal.
    UserId, "u_"
);

/// A client-chosen command id: 1 to 64 characters, unique within a conversation.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Debug)]
#[serde(try_from = "String", into = "String")]
pub struct CommandId(String);

impl CommandId {
    pub fn parse(s: impl Into<String>) -> Result<Self, DomainError> {
        let s = s.into();
        let n = s.chars().count();
        if (1..=MAX_ID_LEN).contains(&n) {
            Ok(Self(s))
        } else {
            Err(DomainError::InvalidId { kind: "CommandId" })
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CommandId {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}

impl From<CommandId> for String {
    fn from(id: CommandId) -> String {
        id.0
    }
}

/// A stock-keeping unit as the shop writes it: 1 to 64 printable characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Debug)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    pub fn parse(s: impl AsRef<str>) -> Result<Self, DomainError> {
        let s = s.as_ref().trim();
        if s.is_empty() || s.chars().count() > MAX_ID_LEN || s.chars().any(char::is_control) {
            return Err(DomainError::InvalidSku(s.chars().take(80).collect()));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Sku {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, DomainError> {
        Self::parse(s)
    }
}

impl From<Sku> for String {
    fn from(s: Sku) -> String {
        s.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_empty_long_and_odd_characters() {
        assert!(ProductId::parse("").is_err());
        assert!(ProductId::parse("a".repeat(65)).is_err());
        assert!(ProductId::parse("p 1").is_err());
        assert!(ProductId::parse("p_1-x.y").is_ok());
        assert!(TenantId::generate().as_str().starts_with("t_"));
    }

    #[test]
    fn command_ids_count_characters_not_bytes() {
        assert!(CommandId::parse("é".repeat(64)).is_ok());
        assert!(CommandId::parse("é".repeat(65)).is_err());
        assert!(CommandId::parse("").is_err());
    }

    #[test]
    fn skus_are_trimmed_and_bounded() {
        assert_eq!(Sku::parse("  MH01-XS-Black ").unwrap().as_str(), "MH01-XS-Black");
        assert!(Sku::parse("   ").is_err());
        assert!(Sku::parse("a\nb").is_err());
    }
}
