//! Webhook deliveries and their attempts.

use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use super::entities::{webhook_attempt, webhook_delivery};
use crate::domain::{DEFAULT_TENANT, ids::DeliveryId};

/// Delivery states, as stored.
pub mod state {
    /// Not delivered yet; an attempt is queued or due.
    pub const PENDING: &str = "pending";
    /// The receiver answered 2xx.
    pub const SUCCEEDED: &str = "succeeded";
    /// Every scheduled attempt failed.
    pub const FAILED: &str = "failed";
}

/// Records a delivery to be made (the outbox row), due now.
pub async fn insert_delivery(
    txn: &impl ConnectionTrait,
    request_id: &str,
    url: &str,
    payload: &str,
) -> Result<DeliveryId, DbErr> {
    let id = DeliveryId::new();
    let now = super::now();
    webhook_delivery::Entity::insert(webhook_delivery::ActiveModel {
        id: Set(id.0.clone()),
        tenant_id: Set(DEFAULT_TENANT.into()),
        request_id: Set(request_id.into()),
        url: Set(url.into()),
        payload: Set(payload.into()),
        status: Set(state::PENDING.into()),
        attempts: Set(0),
        next_attempt_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn)
    .await?;
    Ok(id)
}

/// The delivery of a request, if it has one.
pub async fn for_request(
    db: &impl ConnectionTrait,
    request_id: &str,
) -> Result<Option<webhook_delivery::Model>, DbErr> {
    webhook_delivery::Entity::find().filter(webhook_delivery::Column::RequestId.eq(request_id)).one(db).await
}

/// A delivery by id.
pub async fn find(db: &impl ConnectionTrait, id: &DeliveryId) -> Result<Option<webhook_delivery::Model>, DbErr> {
    webhook_delivery::Entity::find_by_id(id.0.clone()).one(db).await
}

/// Every attempt of a delivery, oldest first.
pub async fn attempts(db: &impl ConnectionTrait, id: &str) -> Result<Vec<webhook_attempt::Model>, DbErr> {
    webhook_attempt::Entity::find()
        .filter(webhook_attempt::Column::DeliveryId.eq(id))
        .order_by_asc(webhook_attempt::Column::Number)
        .all(db)
        .await
}

/// Claims attempt number `done + 1` of a pending delivery, which is not due again before
/// `lease_until`. Only one job can claim a given number, so a duplicate or stale job sends nothing.
pub async fn claim_attempt(
    db: &impl ConnectionTrait,
    id: &DeliveryId,
    done: i32,
    lease_until: chrono::DateTime<chrono::Utc>,
) -> Result<Option<webhook_delivery::Model>, DbErr> {
    let rows = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Attempts, (done + 1).into())
        .col_expr(webhook_delivery::Column::NextAttemptAt, Some(lease_until).into())
        .col_expr(webhook_delivery::Column::UpdatedAt, super::now().into())
        .filter(webhook_delivery::Column::Id.eq(id.0.as_str()))
        .filter(webhook_delivery::Column::Attempts.eq(done))
        .filter(webhook_delivery::Column::Status.eq(state::PENDING))
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

/// Records attempt `number` and moves the delivery to `status`, next due at `next_attempt_at`.
pub async fn record_attempt(
    txn: &impl ConnectionTrait,
    delivery: &webhook_delivery::Model,
    number: i32,
    attempted_at: chrono::DateTime<chrono::Utc>,
    result: &AttemptResult,
    status: &str,
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
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, status.into())
        .col_expr(webhook_delivery::Column::NextAttemptAt, next_attempt_at.into())
        .col_expr(webhook_delivery::Column::UpdatedAt, super::now().into())
        .filter(webhook_delivery::Column::Id.eq(delivery.id.as_str()))
        .filter(webhook_delivery::Column::Attempts.eq(number))
        .exec(txn)
        .await?;
    Ok(())
}

/// Makes a delivery pending again and due now (a redelivery); returns it.
pub async fn reopen(db: &impl ConnectionTrait, id: &str) -> Result<Option<webhook_delivery::Model>, DbErr> {
    let rows = webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, state::PENDING.into())
        .col_expr(webhook_delivery::Column::NextAttemptAt, Some(super::now()).into())
        .col_expr(webhook_delivery::Column::UpdatedAt, super::now().into())
        .filter(webhook_delivery::Column::Id.eq(id))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().next())
}

/// Pending deliveries already due: after a crash, their queued attempt may be lost.
pub async fn due(
    db: &impl ConnectionTrait,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<webhook_delivery::Model>, DbErr> {
    webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(state::PENDING))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .all(db)
        .await
}
