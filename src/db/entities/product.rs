//! `products`: one row of the merchant's CSV.

use sea_orm::entity::prelude::*;

/// One product row.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "products")]
pub struct Model {
    /// The product id (UUID).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The owning tenant.
    pub tenant_id: String,
    /// The request it belongs to.
    pub request_id: String,
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
