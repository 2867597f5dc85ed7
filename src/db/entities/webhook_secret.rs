//! `webhook_secrets`: a tenant's signing secrets; more than one signs while a rotation overlaps.

use sea_orm::entity::prelude::*;

use crate::domain::ids::TenantId;

/// One secret.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_secrets")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub tenant_id: TenantId,
    /// `whsec_` and base64.
    pub secret: String,
    pub created_at: DateTimeUtc,
    /// Set once a newer secret replaced it: it signs until then, and never after.
    pub retires_at: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
