//! Tenants (accounts) and their API keys.

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    sea_query::OnConflict,
};

use super::{
    entities::{api_key, tenant},
    scope::Scope,
};
use crate::domain::{
    ids::{ApiKeyId, TenantId},
    status::TenantOrigin,
};

type Time = chrono::DateTime<chrono::Utc>;

/// Makes a tenant unless one with its id exists; true when this call made it.
pub async fn insert(
    db: &impl ConnectionTrait,
    id: &TenantId,
    email: Option<&str>,
    password_hash: Option<&str>,
    origin: TenantOrigin,
) -> Result<bool, DbErr> {
    let inserted = tenant::Entity::insert(tenant::ActiveModel {
        id: Set(id.clone()),
        email: Set(email.map(str::to_owned)),
        password_hash: Set(password_hash.map(str::to_owned)),
        origin: Set(origin),
        created_at: Set(super::now()),
    })
    .on_conflict(OnConflict::column(tenant::Column::Id).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

/// A tenant by id.
pub async fn find(db: &impl ConnectionTrait, id: &TenantId) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find_by_id(id.clone()).one(db).await
}

/// The tenant signing in with `email` (lower-cased).
pub async fn by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<tenant::Model>, DbErr> {
    tenant::Entity::find().filter(tenant::Column::Email.eq(email)).one(db).await
}

/// Stores a new API key of `tenant` by its hash.
pub async fn insert_key(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    name: &str,
    prefix: &str,
    hash: &str,
) -> Result<api_key::Model, DbErr> {
    let row = api_key::ActiveModel {
        id: Set(ApiKeyId::new()),
        tenant_id: Set(tenant.clone()),
        name: Set(name.to_owned()),
        prefix: Set(prefix.to_owned()),
        hash: Set(hash.to_owned()),
        created_at: Set(super::now()),
        last_used_at: Set(None),
    };
    api_key::Entity::insert(row).exec_with_returning(db).await
}

/// The key with this hash, of any tenant: how a call's key finds its tenant.
pub async fn key_by_hash(db: &impl ConnectionTrait, hash: &str) -> Result<Option<api_key::Model>, DbErr> {
    api_key::Entity::find().filter(api_key::Column::Hash.eq(hash)).one(db).await
}

/// Notes that a key was used at `now`, unless that was noted less than a minute ago (one write
/// a minute per key, not one per call).
pub async fn touch_key(db: &impl ConnectionTrait, key: &api_key::Model, now: Time) -> Result<(), DbErr> {
    Scope(&key.tenant_id)
        .update::<api_key::Entity>()
        .col_expr(api_key::Column::LastUsedAt, Some(now).into())
        .filter(api_key::Column::Id.eq(key.id))
        .filter(
            Condition::any()
                .add(api_key::Column::LastUsedAt.is_null())
                .add(api_key::Column::LastUsedAt.lt(now - chrono::Duration::minutes(1))),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// `tenant`'s keys, newest first.
pub async fn keys(db: &impl ConnectionTrait, tenant: &TenantId) -> Result<Vec<api_key::Model>, DbErr> {
    Scope(tenant).find::<api_key::Entity>().order_by_desc(api_key::Column::CreatedAt).all(db).await
}

/// Removes one of `tenant`'s keys; false when it has no such key.
pub async fn revoke_key(db: &impl ConnectionTrait, tenant: &TenantId, id: ApiKeyId) -> Result<bool, DbErr> {
    let result = Scope(tenant).delete::<api_key::Entity>().filter(api_key::Column::Id.eq(id)).exec(db).await?;
    Ok(result.rows_affected == 1)
}

/// Takes `tenant`'s row lock for the rest of the transaction, so that processes handing its
/// images to the queue take turns (PostgreSQL locks the row; SQLite has one writer at a time).
pub async fn lock(txn: &impl ConnectionTrait, tenant: &TenantId) -> Result<(), DbErr> {
    tenant::Entity::update_many()
        .col_expr(tenant::Column::Origin, sea_orm::sea_query::Expr::col(tenant::Column::Origin))
        .filter(tenant::Column::Id.eq(tenant.clone()))
        .exec(txn)
        .await?;
    Ok(())
}
