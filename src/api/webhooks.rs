//! `GET /api/v1/requests/{id}/webhook`, `POST /api/v1/requests/{id}/webhook/redeliver`.

use std::time::Duration;

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};

use super::dto::DeliveryOut;
use crate::{
    db,
    domain::ids::DeliveryId,
    error::{ApiError, Problem, Result},
    queue::jobs::DeliverWebhook,
    state::AppState,
};

/// Get the completion webhook
///
/// The delivery's state and every attempt (time, status code or error).
#[utoipa::path(
    get, path = "/api/v1/requests/{id}/webhook", tag = "webhooks",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 200, description = "The delivery and its attempts", body = DeliveryOut),
        (status = 404, description = "No such request, or it has no webhook (none given, or not finished yet)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_webhook(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<DeliveryOut>> {
    let request = super::requests::find(&state, &id).await?;
    let delivery =
        db::webhooks::for_request(&state.db, &request.id).await?.ok_or(ApiError::NotFound("webhook delivery"))?;
    let attempts = db::webhooks::attempts(&state.db, &delivery.id).await?;
    Ok(Json(DeliveryOut::new(delivery, attempts)))
}

/// Send the completion webhook again
///
/// Makes one more attempt now, with the same `webhook-id`. If it fails, the remaining retry
/// schedule (if any) applies.
#[utoipa::path(
    post, path = "/api/v1/requests/{id}/webhook/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "The request id")),
    responses(
        (status = 202, description = "An attempt is queued", body = DeliveryOut),
        (status = 404, description = "No such request, or it has no webhook (none given, or not finished yet)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redeliver_webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeliveryOut>)> {
    let request = super::requests::find(&state, &id).await?;
    let delivery =
        db::webhooks::for_request(&state.db, &request.id).await?.ok_or(ApiError::NotFound("webhook delivery"))?;
    let delivery =
        db::webhooks::reopen(&state.db, &delivery.id).await?.ok_or(ApiError::NotFound("webhook delivery"))?;
    let job = DeliverWebhook { delivery_id: DeliveryId(delivery.id.clone()), attempt: delivery.attempts };
    state.queue.push_webhook(job, Duration::ZERO).await?;
    let attempts = db::webhooks::attempts(&state.db, &delivery.id).await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryOut::new(delivery, attempts))))
}
