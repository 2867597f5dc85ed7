//! `GET /api/v1/requests/{id}/webhook`, `POST /api/v1/requests/{id}/webhook/redeliver`, and the
//! same for jobs (`/api/v1/jobs/{id}/webhook`…): one delivery machinery for both.

use axum::{Json, extract::State, http::StatusCode};

use std::time::Duration;

use super::{
    auth::Caller,
    dto::DeliveryOut,
    extract::{RequestPath, find_request},
    jobs::{JobPath, find_job},
};
use crate::{
    db::{self, entities::webhook_delivery},
    domain::ids::{RequestId, TenantId},
    error::{ApiError, Problem, Result},
    outage::Part,
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
pub async fn get_webhook(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    RequestPath(id): RequestPath,
) -> Result<Json<DeliveryOut>> {
    let request = find_request(&state, &tenant, id).await?;
    show(&state, &tenant, request.id).await
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
    Caller(tenant): Caller,
    RequestPath(id): RequestPath,
) -> Result<(StatusCode, Json<DeliveryOut>)> {
    let request = find_request(&state, &tenant, id).await?;
    redeliver(&state, &tenant, request.id).await
}

/// Get a job's completion webhook
///
/// The `job.completed` delivery's state and every attempt (time, status code or error).
#[utoipa::path(
    get, path = "/api/v1/jobs/{id}/webhook", tag = "webhooks",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The delivery and its attempts", body = DeliveryOut),
        (status = 404, description = "No such job, or it has no webhook (none given, or not finished yet)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_job_webhook(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    JobPath(id): JobPath,
) -> Result<Json<DeliveryOut>> {
    let job = find_job(&state, &tenant, id).await?;
    show(&state, &tenant, job.request.id).await
}

/// Send a job's completion webhook again
///
/// Makes one more attempt now, with the same `webhook-id`.
#[utoipa::path(
    post, path = "/api/v1/jobs/{id}/webhook/redeliver", tag = "webhooks",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 202, description = "An attempt is queued", body = DeliveryOut),
        (status = 404, description = "No such job, or it has no webhook (none given, or not finished yet)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redeliver_job_webhook(
    State(state): State<AppState>,
    Caller(tenant): Caller,
    JobPath(id): JobPath,
) -> Result<(StatusCode, Json<DeliveryOut>)> {
    let job = find_job(&state, &tenant, id).await?;
    redeliver(&state, &tenant, job.request.id).await
}

async fn show(state: &AppState, tenant: &TenantId, id: RequestId) -> Result<Json<DeliveryOut>> {
    let delivery = find_delivery(state, tenant, id).await?;
    Ok(Json(delivery_out(state, delivery).await?))
}

async fn redeliver(state: &AppState, tenant: &TenantId, id: RequestId) -> Result<(StatusCode, Json<DeliveryOut>)> {
    let delivery = find_delivery(state, tenant, id).await?;
    let delivery =
        db::webhooks::reopen(&state.db, tenant, &delivery.id).await?.ok_or(ApiError::NotFound("webhook delivery"))?;
    // If this fails the delivery is still pending and due: the recovery pass queues it.
    state
        .queue
        .deliver_webhook(&delivery.id, delivery.attempts, Duration::ZERO)
        .await
        .map_err(|e| ApiError::unavailable(Part::Queue, &format!("{e:#}")))?;
    Ok((StatusCode::ACCEPTED, Json(delivery_out(state, delivery).await?)))
}

/// The delivery of a request or job found to be the caller's.
async fn find_delivery(state: &AppState, tenant: &TenantId, request_id: RequestId) -> Result<webhook_delivery::Model> {
    db::webhooks::for_request(&state.db, tenant, request_id).await?.ok_or(ApiError::NotFound("webhook delivery"))
}

async fn delivery_out(state: &AppState, delivery: webhook_delivery::Model) -> Result<DeliveryOut> {
    let attempts = db::webhooks::attempts(&state.db, &delivery.tenant_id, &delivery.id).await?;
    Ok(DeliveryOut::new(delivery, attempts))
}
