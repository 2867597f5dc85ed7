//! `settings`: small values the service keeps for itself, such as the generated webhook secret.

use sea_orm::entity::prelude::*;

/// One stored setting.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "settings")]
pub struct Model {
    /// The setting's name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Its value.
    pub value: String,
}

impl ActiveModelBehavior for ActiveModel {}
