//! `products`: one row of the merchant's CSV.

use sea_orm::entity::prelude::*;

use crate::domain::ids::{ProductId, RequestId};

/// One product row.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ProductId,
    pub tenant_id: crate::domain::ids::TenantId,
    pub request_id: RequestId,
    /// 0-based order in the file.
    pub position: i32,
    /// 1-based line of the file where the row starts.
    pub line: i64,
    /// The merchant's `S. No.`.
    pub serial_number: i64,
    /// The merchant's `Product Name`.
    pub name: String,
}

impl ActiveModelBehavior for ActiveModel {}
