//! Webhook deliveries and their attempts.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::{
    entities::{webhook_attempt, webhook_delivery},
    scope::Scope,
};
use crate::domain::{
    ids::{DeliveryId, RequestId, TenantId},
    status::DeliveryState,
};

/// Records a delivery to be made (the outbox row), due now.
pub async fn insert_delivery(
    txn: &impl ConnectionTrait,
    tenant: &TenantId,
    request_id: RequestId,
    url: &str,
    payload: &str,
) -> Result<DeliveryId, DbErr> {
    let id = DeliveryId::new();
    let now = super::now();
    webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
        id: Set(id.clone()),
        tenant_id: Set(tenant.clone()),
        request_id: Set(request_id),
        url: Set(url.into()),
        payload: Set(payload.into()),
        status: Set(DeliveryState::Pending),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn)
    .await?;
    Ok(id)
}

/// The delivery of one of `tenant`'s requests, if it has one.
pub async fn for_request(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    request_id: RequestId,
) -> Result<Option<webhook_delivery::Model>, DbErr> {
    Scope(tenant)
        .find::<webhook_delivery::Entity>()
        .filter(webhook_delivery::Column::RequestId.eq(request_id))
        .one(db)
        .await
}

/// A delivery by id: a webhook job's entry, whose row names the tenant everything after is
/// scoped to.
pub async fn load(db: &impl ConnectionTrait, id: &DeliveryId) -> Result<Option<webhook_delivery::Model>, DbErr> {
    webhook_delivery::Entity::find_by_id(id.clone()).one(db).await
}

/// Every attempt of one of `tenant`'s deliveries, oldest first.
pub async fn attempts(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &DeliveryId,
) -> Result<Vec<webhook_attempt::Model>, DbErr> {
    Scope(tenant)
        .find::<webhook_attempt::Entity>()
        .filter(webhook_attempt::Column::DeliveryId.eq(id.clone()))
        .order_by_asc(webhook_attempt::Column::Number)
        .all(db)
        .await
}

/// Claims attempt number `done + 1` of a pending delivery that is due, so that it is not due
/// again before `lease_until`. Only one job can claim a given number, so a duplicate or stale
/// job sends nothing.
pub async fn claim_attempt(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &DeliveryId,
    done: i32,
    now: chrono::DateTime<chrono::Utc>,
    lease_until: chrono::DateTime<chrono::Utc>,
) -> Result<Option<webhook_delivery::Model>, DbErr> {
    let rows = Scope(tenant)
        .update::<webhook_delivery::Entity>()
        .col_expr(webhook_delivery::Column::Attempts, (done + 1).into())
        .col_expr(webhook_delivery::Column::NextAttemptAt, Some(lease_until).into())
        .col_expr(webhook_delivery::Column::UpdatedAt, now.into())
        .filter(webhook_delivery::Column::Id.eq(id.clone()))
        .filter(webhook_delivery::Column::Attempts.eq(done))
        .filter(webhook_delivery::Column::Status.eq(DeliveryState::Pending))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().next())
}

/// What an attempt found.
pub struct AttemptResult {
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// The error, when it did not answer 2xx.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// Records attempt `number` and moves the delivery to `state`, next due at `next_attempt_at`.
pub async fn record_attempt(
    txn: &impl ConnectionTrait,
    delivery: &webhook_delivery::Model,
    number: i32,
    attempted_at: chrono::DateTime<chrono::Utc>,
    result: &AttemptResult,
    state: DeliveryState,
    next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), DbErr> {
    webhook_attempt::Entity::insert(webhook_attempt::ActiveModel {
        tenant_id: Set(delivery.tenant_id.clone()),
        delivery_id: Set(delivery.id.clone()),
        number: Set(number),
        attempted_at: Set(attempted_at),
        status_code: Set(result.status_code.map(i32::from)),
        error: Set(result.error.clone()),
        duration_ms: Set(result.duration_ms as i64),
        ..Default::default()
    })
    .exec(txn)
    .await?;
    Scope(&delivery.tenant_id)
        .update::<webhook_delivery::Entity>()
        .col_expr(webhook_delivery::Column::Status, state.into())
        .col_expr(webhook_delivery::Column::NextAttemptAt, next_attempt_at.into())
        .col_expr(webhook_delivery::Column::UpdatedAt, super::now().into())
        .filter(webhook_delivery::Column::Id.eq(delivery.id.clone()))
        .filter(webhook_delivery::Column::Attempts.eq(number))
        .exec(txn)
        .await?;
    Ok(())
}

/// Makes one of `tenant`'s deliveries pending again and due now (a redelivery); returns it.
pub async fn reopen(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: &DeliveryId,
) -> Result<Option<webhook_delivery::Model>, DbErr> {
    let rows = Scope(tenant)
        .update::<webhook_delivery::Entity>()
        .col_expr(webhook_delivery::Column::Status, DeliveryState::Pending.into())
        .col_expr(webhook_delivery::Column::NextAttemptAt, Some(super::now()).into())
        .col_expr(webhook_delivery::Column::UpdatedAt, super::now().into())
        .filter(webhook_delivery::Column::Id.eq(id.clone()))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().next())
}

/// Pending deliveries of every tenant already due: after a crash, their queued attempt may be
/// lost (the recovery pass queues them again).
pub async fn due(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<webhook_delivery::Model>, DbErr> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryState::Pending))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .all(db)
        .await
}
