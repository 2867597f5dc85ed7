//! Images: load one for its job, count its server's failures, and record its outcome together
//! with the request's counters.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};

use super::{
    entities::{image, request, webhook_delivery},
    scope::Scope,
};
use crate::domain::{
    ids::{ImageId, TenantId},
    status::{DeliveryState, ImageStatus},
};

/// A compressed image, stored.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Its storage key.
    pub output_key: String,
    /// Bytes downloaded.
    pub input_bytes: u64,
    /// Bytes stored.
    pub output_bytes: u64,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
}

/// How an image ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Compressed and stored.
    Succeeded(Stored),
    /// Given up on, with a reason the merchant can read.
    Failed {
        /// Why.
        error: String,
    },
}

/// Images of `tenant` waiting to be processed (its limit counts them).
pub async fn pending(db: &impl ConnectionTrait, tenant: &TenantId) -> Result<u64, DbErr> {
    Scope(tenant).find::<image::Entity>().filter(image::Column::Status.eq(ImageStatus::Pending)).count(db).await
}

/// Images of every tenant and request by status, and webhook deliveries still pending, for `/metrics`.
pub async fn totals(db: &impl ConnectionTrait) -> Result<crate::metrics::Totals, DbErr> {
    let rows: Vec<(ImageStatus, i64)> = image::Entity::find()
        .select_only()
        .column(image::Column::Status)
        .column_as(image::Column::Id.count(), "n")
        .group_by(image::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let count = |status: ImageStatus| rows.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n as u64);
    let webhooks_pending = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryState::Pending))
        .count(db)
        .await?;
    Ok(crate::metrics::Totals {
        pending: count(ImageStatus::Pending),
        succeeded: count(ImageStatus::Succeeded),
        failed: count(ImageStatus::Failed),
        webhooks_pending,
    })
}

/// An image and the request it belongs to: an image job's entry, whose row names the tenant
/// everything after is scoped to.
pub async fn load(db: &impl ConnectionTrait, id: ImageId) -> Result<Option<(image::Model, request::Model)>, DbErr> {
    let Some(img) = image::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let req = Scope(&img.tenant_id)
        .find::<request::Entity>()
        .filter(request::Column::Id.eq(img.request_id))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("request of image {id}")))?;
    Ok(Some((img, req)))
}

/// Counts one more failure of the image's own server, if the image still has the `seen` failures
/// its job read; false when another job counted first.
pub async fn count_failed_attempt(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: ImageId,
    seen: i32,
) -> Result<bool, DbErr> {
    let result = Scope(tenant)
        .update::<image::Entity>()
        .col_expr(image::Column::Attempts, Expr::col(image::Column::Attempts).add(1))
        .col_expr(image::Column::UpdatedAt, super::now().into())
        .filter(image::Column::Id.eq(id))
        .filter(image::Column::Attempts.eq(seen))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records a pending image's outcome and counts it on its request. Returns the request as it
/// stands after counting, or `None` when the image had already finished (a duplicate job).
pub async fn record(
    txn: &impl ConnectionTrait,
    img: &image::Model,
    outcome: &Outcome,
) -> Result<Option<request::Model>, DbErr> {
    let now = super::now();
    let scope = Scope(&img.tenant_id);
    let mut update = scope
        .update::<image::Entity>()
        .col_expr(image::Column::UpdatedAt, now.into())
        .filter(image::Column::Id.eq(img.id))
        .filter(image::Column::Status.eq(ImageStatus::Pending));
    let counter = match outcome {
        Outcome::Succeeded(s) => {
            update = update
                .col_expr(image::Column::Status, ImageStatus::Succeeded.into())
                .col_expr(image::Column::OutputKey, s.output_key.as_str().into())
                .col_expr(image::Column::InputBytes, (s.input_bytes as i64).into())
                .col_expr(image::Column::OutputBytes, (s.output_bytes as i64).into())
                .col_expr(image::Column::Width, (s.width as i32).into())
                .col_expr(image::Column::Height, (s.height as i32).into())
                .col_expr(image::Column::Error, Option::<String>::None.into());
            request::Column::Succeeded
        }
        Outcome::Failed { error } => {
            update = update
                .col_expr(image::Column::Status, ImageStatus::Failed.into())
                .col_expr(image::Column::Error, error.as_str().into());
            request::Column::Failed
        }
    };
    if update.exec(txn).await?.rows_affected == 0 {
        return Ok(None);
    }
    let rows = scope
        .update::<request::Entity>()
        .col_expr(counter, Expr::col(counter).add(1))
        .col_expr(request::Column::UpdatedAt, now.into())
        .filter(request::Column::Id.eq(img.request_id))
        .exec_with_returning(txn)
        .await?;
    Ok(rows.into_iter().next())
}

/// How many of `tenant`'s waiting images are in the queue.
pub async fn in_queue(db: &impl ConnectionTrait, tenant: &TenantId) -> Result<u64, DbErr> {
    waiting(tenant).filter(image::Column::Queued.eq(true)).count(db).await
}

/// The next `n` of `tenant`'s waiting images not in the queue yet, oldest upload first and in
/// file order.
pub async fn next_to_queue(db: &impl ConnectionTrait, tenant: &TenantId, n: u64) -> Result<Vec<ImageId>, DbErr> {
    waiting(tenant)
        .select_only()
        .column(image::Column::Id)
        .filter(image::Column::Queued.eq(false))
        .order_by_asc(image::Column::Id)
        .limit(n)
        .into_tuple()
        .all(db)
        .await
}

/// Marks images of `tenant` as handed to the queue now (their lease, see [`queued_before`],
/// starts again).
pub async fn mark_queued(db: &impl ConnectionTrait, tenant: &TenantId, ids: &[ImageId]) -> Result<(), DbErr> {
    let now = super::now();
    for chunk in ids.chunks(500) {
        Scope(tenant)
            .update::<image::Entity>()
            .col_expr(image::Column::Queued, true.into())
            .col_expr(image::Column::UpdatedAt, now.into())
            .filter(image::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// Tenants with waiting images not in the queue yet (the recovery pass tops their windows up).
pub async fn tenants_waiting(db: &impl ConnectionTrait) -> Result<Vec<TenantId>, DbErr> {
    image::Entity::find()
        .select_only()
        .column(image::Column::TenantId)
        .distinct()
        .filter(image::Column::Status.eq(ImageStatus::Pending))
        .filter(image::Column::Queued.eq(false))
        .into_tuple()
        .all(db)
        .await
}

fn waiting(tenant: &TenantId) -> sea_orm::Select<image::Entity> {
    Scope(tenant).find::<image::Entity>().filter(image::Column::Status.eq(ImageStatus::Pending))
}

/// Waiting images of every tenant handed to the queue before `cutoff` and not touched since: their
/// job may have been lost with the queue's data. At most `limit`, oldest first.
pub async fn queued_before(
    db: &impl ConnectionTrait,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<(TenantId, ImageId)>, DbErr> {
    image::Entity::find()
        .select_only()
        .column(image::Column::TenantId)
        .column(image::Column::Id)
        .filter(image::Column::Status.eq(ImageStatus::Pending))
        .filter(image::Column::Queued.eq(true))
        .filter(image::Column::UpdatedAt.lt(cutoff))
        .order_by_asc(image::Column::UpdatedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}
