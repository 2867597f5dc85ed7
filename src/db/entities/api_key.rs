//! `api_keys`: machine credentials of a tenant, stored as hashes. A revoked key's row is gone.

use sea_orm::entity::prelude::*;

use crate::domain::ids::{ApiKeyId, TenantId};

/// One API key.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    /// What the merchant called it.
    pub name: String,
    /// The key's first characters, to tell keys apart in a list.
    pub prefix: String,
    /// SHA-256 of the key, hex.
    pub hash: String,
    pub created_at: DateTimeUtc,
    /// When it last authenticated a call (kept to the minute).
    pub last_used_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
