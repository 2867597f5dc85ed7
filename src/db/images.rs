//! Images: load one for its job, count attempts, and record its outcome together with the
//! request's counters.

use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::Expr,
};

use super::entities::{image, request, webhook_delivery};
use crate::domain::{ids::ImageId, status::ImageStatus};

/// How an image ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Compressed and stored.
    Succeeded {
        /// Storage key of the output.
        output_key: String,
        /// Bytes downloaded.
        input_bytes: u64,
        /// Bytes stored.
        output_bytes: u64,
        /// Output width.
        width: u32,
        /// Output height.
        height: u32,
    },
    /// Given up on, with a reason the merchant can read.
    Failed {
        /// Why.
        error: String,
    },
}

/// Images of every request by status, and webhook deliveries still pending, for `/metrics`.
pub async fn totals(db: &impl ConnectionTrait) -> Result<crate::metrics::Totals, DbErr> {
    let rows: Vec<(String, i64)> = image::Entity::find()
        .select_only()
        .column(image::Column::Status)
        .column_as(image::Column::Id.count(), "n")
        .group_by(image::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let count = |status: ImageStatus| rows.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n as u64);
    let webhooks_pending = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(super::webhooks::state::PENDING))
        .count(db)
        .await?;
    Ok(crate::metrics::Totals {
        images: [
            ("pending", count(ImageStatus::Pending)),
            ("succeeded", count(ImageStatus::Succeeded)),
            ("failed", count(ImageStatus::Failed)),
        ],
        webhooks_pending,
    })
}

/// An image and the request it belongs to.
pub async fn load(db: &impl ConnectionTrait, id: ImageId) -> Result<Option<(image::Model, request::Model)>, DbErr> {
    let Some(img) = image::Entity::find_by_id(id.to_string()).one(db).await? else {
        return Ok(None);
    };
    let req = request::Entity::find_by_id(img.request_id.clone())
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("request of image {id}")))?;
    Ok(Some((img, req)))
}

/// Counts one more download attempt; returns the new count.
pub async fn bump_attempts(db: &impl ConnectionTrait, id: &str) -> Result<i32, DbErr> {
    let rows = image::Entity::update_many()
        .col_expr(image::Column::Attempts, Expr::col(image::Column::Attempts).add(1))
        .filter(image::Column::Id.eq(id))
        .exec_with_returning(db)
        .await?;
    Ok(rows.first().map_or(0, |r| r.attempts))
}

/// Records a pending image's outcome and counts it on its request. Returns the request as it
/// stands after counting, or `None` when the image had already finished (a duplicate job).
pub async fn record(
    txn: &impl ConnectionTrait,
    img: &image::Model,
    outcome: &Outcome,
) -> Result<Option<request::Model>, DbErr> {
    let now = super::now();
    let mut update = image::Entity::update_many()
        .col_expr(image::Column::UpdatedAt, now.into())
        .filter(image::Column::Id.eq(img.id.as_str()))
        .filter(image::Column::Status.eq(ImageStatus::Pending.as_str()));
    let counter = match outcome {
        Outcome::Succeeded { output_key, input_bytes, output_bytes, width, height } => {
            update = update
                .col_expr(image::Column::Status, ImageStatus::Succeeded.as_str().into())
                .col_expr(image::Column::OutputKey, output_key.as_str().into())
                .col_expr(image::Column::InputBytes, (*input_bytes as i64).into())
                .col_expr(image::Column::OutputBytes, (*output_bytes as i64).into())
                .col_expr(image::Column::Width, (*width as i32).into())
                .col_expr(image::Column::Height, (*height as i32).into())
                .col_expr(image::Column::Error, Option::<String>::None.into());
            request::Column::Succeeded
        }
        Outcome::Failed { error } => {
            update = update
                .col_expr(image::Column::Status, ImageStatus::Failed.as_str().into())
                .col_expr(image::Column::Error, error.as_str().into());
            request::Column::Failed
        }
    };
    if update.exec(txn).await?.rows_affected == 0 {
        return Ok(None);
    }
    let rows = request::Entity::update_many()
        .col_expr(counter, Expr::col(counter).add(1))
        .col_expr(request::Column::UpdatedAt, now.into())
        .filter(request::Column::Id.eq(img.request_id.as_str()))
        .exec_with_returning(txn)
        .await?;
    Ok(rows.into_iter().next())
}
