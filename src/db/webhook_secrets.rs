//! Tenants' webhook signing secrets. A tenant has one current secret; a rotation gives the old
//! one a retirement time, until which both sign.

use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::{entities::webhook_secret, scope::Scope};
use crate::{config::Secret, domain::ids::TenantId};

type Time = chrono::DateTime<chrono::Utc>;

/// The secrets that sign `tenant`'s webhooks at `now`, newest first.
pub async fn signing(db: &impl ConnectionTrait, tenant: &TenantId, now: Time) -> Result<Vec<Secret>, DbErr> {
    let rows = Scope(tenant)
        .find::<webhook_secret::Entity>()
        .filter(
            Condition::any()
                .add(webhook_secret::Column::RetiresAt.is_null())
                .add(webhook_secret::Column::RetiresAt.gt(now)),
        )
        .order_by_desc(webhook_secret::Column::Id)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|r| Secret::new(r.secret)).collect())
}

/// `tenant`'s current secret and, while a rotation overlaps, when the newest of the older ones
/// stops signing.
pub async fn current(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    now: Time,
) -> Result<Option<(webhook_secret::Model, Option<Time>)>, DbErr> {
    let scope = Scope(tenant);
    let current = scope
        .find::<webhook_secret::Entity>()
        .filter(webhook_secret::Column::RetiresAt.is_null())
        .order_by_desc(webhook_secret::Column::Id)
        .one(db)
        .await?;
    let Some(current) = current else { return Ok(None) };
    let retiring = scope
        .find::<webhook_secret::Entity>()
        .filter(webhook_secret::Column::RetiresAt.gt(now))
        .order_by_desc(webhook_secret::Column::RetiresAt)
        .one(db)
        .await?;
    Ok(Some((current, retiring.and_then(|r| r.retires_at))))
}

/// Makes `secret` the tenant's current one; the one it replaces signs until `old_until` (now, for
/// not at all). At most one previous secret signs: one still overlapping from an earlier rotation
/// stops now, and retired ones are removed. Rotations of one tenant take turns (its row lock).
pub async fn replace(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    secret: &Secret,
    old_until: Time,
) -> Result<(), DbErr> {
    super::tenants::lock(txn, tenant).await?;
    let scope = Scope(tenant);
    let now = super::now();
    scope
        .update::<webhook_secret::Entity>()
        .col_expr(webhook_secret::Column::RetiresAt, Some(now).into())
        .filter(webhook_secret::Column::RetiresAt.gt(now))
        .exec(txn)
        .await?;
    scope.delete::<webhook_secret::Entity>().filter(webhook_secret::Column::RetiresAt.lte(now)).exec(txn).await?;
    scope
        .update::<webhook_secret::Entity>()
        .col_expr(webhook_secret::Column::RetiresAt, Some(old_until.max(now)).into())
        .filter(webhook_secret::Column::RetiresAt.is_null())
        .exec(txn)
        .await?;
    webhook_secret::Entity::insert(webhook_secret::ActiveModel {
        tenant_id: Set(tenant.clone()),
        secret: Set(secret.expose().to_owned()),
        created_at: Set(now),
        retires_at: Set(None),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    Ok(())
}
