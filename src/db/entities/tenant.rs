//! `tenants`: one merchant's account.

use sea_orm::entity::prelude::*;

use crate::domain::{ids::TenantId, status::TenantOrigin};

/// One account.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: TenantId,
    /// Lower-cased sign-in email; none for the default tenant and outside tenants.
    pub email: Option<String>,
    /// Argon2id PHC string; none where signing in by password is not possible.
    pub password_hash: Option<String>,
    pub origin: TenantOrigin,
    pub created_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
