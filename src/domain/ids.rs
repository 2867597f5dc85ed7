//! Typed ids. Each wraps a time-ordered UUID, so rows sort by creation and ids cannot be mixed up.
//! They are stored as text and typed in the entities: a stored id is parsed once, when its row is
//! read, and a malformed one is an error there, never a panic later.

use std::{fmt, str::FromStr};

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Primary keys must say whether an auto-increment can make them; these are made here.
macro_rules! not_auto_increment {
    ($name:ident) => {
        impl sea_orm::TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, sea_orm::DbErr> {
                Err(sea_orm::DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, DeriveValueType)]
        #[serde(transparent)]
        #[sea_orm(value_type = "String")]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        not_auto_increment!($name);
    };
}

uuid_id!(
    /// A merchant's request: one uploaded CSV.
    RequestId
);
uuid_id!(
    /// One product row of a request.
    ProductId
);
uuid_id!(
    /// One input image of a product.
    ImageId
);
uuid_id!(
    /// An API key (its id, not the key: the key itself is shown once and stored hashed).
    ApiKeyId
);

/// A tenant: one merchant's account, which every row belongs to. Accounts made by imgbatch have a
/// UUID; a tenant made on first use of an outside identity provider's token has that token's
/// `sub`; the `default` tenant is the `admin` account (and the only tenant with `IMGBATCH_AUTH=off`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, DeriveValueType)]
#[serde(transparent)]
#[sea_orm(value_type = "String")]
pub struct TenantId(String);

/// A tenant id that is empty, longer than 200 bytes, or holds control characters.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not a tenant id: it must be 1 to 200 printable characters")]
pub struct BadTenantId;

impl TenantId {
    /// The longest tenant id (an outside identity provider's `sub`) accepted.
    pub const MAX_LEN: usize = 200;

    /// The `admin` account's tenant, which rows stored before accounts existed belong to.
    pub fn default_tenant() -> Self {
        Self("default".to_owned())
    }

    /// A new tenant id for an account made here.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(Uuid::now_v7().hyphenated().to_string())
    }

    /// The id as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = BadTenantId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match !s.is_empty() && s.len() <= Self::MAX_LEN && !s.chars().any(char::is_control) {
            true => Ok(Self(s.to_owned())),
            false => Err(BadTenantId),
        }
    }
}

not_auto_increment!(TenantId);

/// A webhook delivery; also its `webhook-id` header, the same on every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, DeriveValueType)]
#[serde(transparent)]
#[sea_orm(value_type = "String")]
pub struct DeliveryId(String);

/// A delivery id that is not `msg_` followed by 32 hex digits.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not a delivery id: {0:?}")]
pub struct BadDeliveryId(String);

impl DeliveryId {
    /// A new delivery id, `msg_` followed by a time-ordered UUID.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(format!("msg_{}", Uuid::now_v7().simple()))
    }

    /// The id as sent in `webhook-id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DeliveryId {
    type Err = BadDeliveryId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("msg_") {
            Some(hex) if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(Self(s.to_owned())),
            _ => Err(BadDeliveryId(s.to_owned())),
        }
    }
}

not_auto_increment!(DeliveryId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = ImageId::new();
        assert_eq!(id.to_string().parse::<ImageId>().unwrap(), id);
        let d = DeliveryId::new();
        assert_eq!(d.to_string().parse::<DeliveryId>().unwrap(), d);
        assert!("msg_nothex".parse::<DeliveryId>().is_err());
        assert!("not-a-uuid".parse::<RequestId>().is_err());
    }
}
