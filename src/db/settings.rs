//! Values the service keeps for itself in the `settings` table.

use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};

use super::entities::setting;

/// Reads a setting.
pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, DbErr> {
    Ok(setting::Entity::find_by_id(key.to_owned()).one(db).await?.map(|s| s.value))
}

/// Stores `value` under `key` unless a value is already there, and returns the stored value,
/// so that processes starting together agree on one value.
pub async fn get_or_insert(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<String, DbErr> {
    let row = setting::ActiveModel { key: Set(key.to_owned()), value: Set(value.to_owned()) };
    setting::Entity::insert(row)
        .on_conflict(OnConflict::column(setting::Column::Key).do_nothing().to_owned())
        .try_insert()
        .exec(db)
        .await?;
    get(db, key).await?.ok_or_else(|| DbErr::RecordNotFound(key.to_owned()))
}
