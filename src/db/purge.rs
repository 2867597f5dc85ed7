//! Removing a finished request or job and its rows, a chunk of images at a time, so that no
//! transaction holds the database for long; and finding what retention has made due.

use std::collections::HashSet;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

use super::{
    entities::{image, request, webhook_attempt, webhook_delivery},
    scope::Scope,
};
use crate::domain::{
    ids::{ImageId, RequestId, TenantId},
    status::{DeliveryState, RequestKind, RequestStatus},
};

/// One image row about to be removed, with the stored objects it refers to.
#[derive(Debug, Clone)]
pub struct ImageKeys {
    /// The image.
    pub id: ImageId,
    /// Its output's key, once it has one.
    pub output_key: Option<String>,
    /// Its uploaded input's key, if it has one.
    pub input_key: Option<String>,
}

/// Requests and jobs of every tenant that finished before `cutoff` and whose webhook, if any, is
/// no longer being retried, oldest first, at most `limit`. (The retention pass works for every
/// tenant; it names each row's.)
pub async fn expired(
    db: &impl ConnectionTrait,
    cutoff: chrono::DateTime<chrono::Utc>,
    limit: u64,
) -> Result<Vec<(TenantId, RequestId)>, DbErr> {
    let retrying = webhook_delivery::Entity::find()
        .select_only()
        .column(webhook_delivery::Column::RequestId)
        .filter(webhook_delivery::Column::Status.eq(DeliveryState::Pending))
        .into_query();
    request::Entity::find()
        .select_only()
        .column(request::Column::TenantId)
        .column(request::Column::Id)
        .filter(request::Column::CompletedAt.lt(cutoff))
        .filter(request::Column::Status.is_in([
            RequestStatus::Completed,
            RequestStatus::CompletedWithErrors,
            RequestStatus::Failed,
        ]))
        .filter(request::Column::Id.not_in_subquery(retrying))
        .order_by_asc(request::Column::CompletedAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// A request or job of `tenant` of `kind`, whether shown or not (one whose removal was cut short
/// is hidden, and may be removed again).
pub async fn find_any(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: RequestId,
    kind: RequestKind,
) -> Result<Option<request::Model>, DbErr> {
    Scope(tenant)
        .find::<request::Entity>()
        .filter(request::Column::Id.eq(id))
        .filter(request::Column::Kind.eq(kind))
        .one(db)
        .await
}

/// Hides a request from every read, as an upload not yet accepted is: the first step of its
/// removal, so that a removal cut short leaves nothing half-shown (and the recovery pass, which
/// removes what stays unaccepted, finishes it).
pub async fn hide(db: &impl ConnectionTrait, tenant: &TenantId, id: RequestId) -> Result<(), DbErr> {
    super::requests::set_accepted(db, tenant, id, false).await
}

/// True when an image of any request still names `key` (as output or input).
pub async fn is_referenced(db: &impl ConnectionTrait, key: &str) -> Result<bool, DbErr> {
    let found = image::Entity::find()
        .select_only()
        .column(image::Column::Id)
        .filter(image::Column::OutputKey.eq(key).or(image::Column::InputKey.eq(key)))
        .limit(1)
        .into_tuple::<ImageId>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Up to `limit` of a request's images, with their keys.
pub async fn next_images(
    db: &impl ConnectionTrait,
    tenant: &TenantId,
    id: RequestId,
    limit: u64,
) -> Result<Vec<ImageKeys>, DbErr> {
    let rows: Vec<(ImageId, Option<String>, Option<String>)> = Scope(tenant)
        .find::<image::Entity>()
        .select_only()
        .column(image::Column::Id)
        .column(image::Column::OutputKey)
        .column(image::Column::InputKey)
        .filter(image::Column::RequestId.eq(id))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows.into_iter().map(|(id, output_key, input_key)| ImageKeys { id, output_key, input_key }).collect())
}

/// Which of `keys` an image of any tenant other than request `except`'s still refers to. Keys
/// are content hashes, so one object can serve rows of several requests and tenants; it goes only
/// with its last row. (Global on purpose: it reads no row's content, only whether one exists.)
pub async fn still_referenced(
    db: &impl ConnectionTrait,
    keys: &[String],
    except: RequestId,
) -> Result<HashSet<String>, DbErr> {
    let mut found = HashSet::new();
    if keys.is_empty() {
        return Ok(found);
    }
    for column in [image::Column::OutputKey, image::Column::InputKey] {
        let rows: Vec<Option<String>> = image::Entity::find()
            .select_only()
            .column(column)
            .distinct()
            .filter(column.is_in(keys.iter().cloned()))
            .filter(image::Column::RequestId.ne(except))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows.into_iter().flatten());
    }
    Ok(found)
}

/// Removes image rows of `tenant`.
pub async fn delete_images(db: &impl ConnectionTrait, tenant: &TenantId, ids: &[ImageId]) -> Result<(), DbErr> {
    Scope(tenant).delete::<image::Entity>().filter(image::Column::Id.is_in(ids.iter().copied())).exec(db).await?;
    Ok(())
}

/// Removes what is left of a request once its images are gone: its webhook delivery and
/// attempts, its products and its row.
pub async fn delete_request(db: &impl ConnectionTrait, tenant: &TenantId, id: RequestId) -> Result<(), DbErr> {
    let scope = Scope(tenant);
    let deliveries: Vec<crate::domain::ids::DeliveryId> = scope
        .find::<webhook_delivery::Entity>()
        .select_only()
        .column(webhook_delivery::Column::Id)
        .filter(webhook_delivery::Column::RequestId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    if !deliveries.is_empty() {
        scope
            .delete::<webhook_attempt::Entity>()
            .filter(webhook_attempt::Column::DeliveryId.is_in(deliveries))
            .exec(db)
            .await?;
    }
    super::requests::delete(db, tenant, id).await
}
