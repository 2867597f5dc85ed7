//! `GET /api/v1/webhook-secret`, `POST /api/v1/webhook-secret/rotate`.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use crate::{
    db,
    domain::ids::TenantId,
    error::{ApiError, Problem, Result},
    state::AppState,
    webhook::sign::generate_secret,
};

/// The account's webhook signing secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "created_at": "2026-12-02T10:00:00Z",
    "previous_secret_expires_at": "2026-12-03T10:00:00Z"}))]
pub struct SecretOut {
    /// The current secret (`whsec_` + base64): verify `webhook-signature` with it, by the Standard
    /// Webhooks scheme.
    pub secret: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// While a rotation overlaps: when the secret it replaced stops signing. Until then every
    /// webhook carries a signature by each (`v1,<new> v1,<old>`).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// Show the webhook signing secret
///
/// The secret the caller's account signs its webhooks with.
#[utoipa::path(
    get, path = "/api/v1/webhook-secret", tag = "webhooks",
    responses((status = 200, description = "The secret", body = SecretOut))
)]
pub async fn get_secret(State(state): State<AppState>, Caller(tenant): Caller) -> Result<Json<SecretOut>> {
    Ok(Json(current(&state, &tenant).await?))
}

/// Rotate the webhook signing secret
///
/// Makes a new secret. The old one keeps signing beside it for `IMGBATCH_WEBHOOK_SECRET_OVERLAP`
/// (24 h by default), so that receivers can move to the new one without missing a webhook.
#[utoipa::path(
    post, path = "/api/v1/webhook-secret/rotate", tag = "webhooks",
    responses(
        (status = 200, description = "The new secret", body = SecretOut),
        (status = 409, description = "The secret is set by the server's IMGBATCH_WEBHOOK_SECRET", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_secret(State(state): State<AppState>, Caller(tenant): Caller) -> Result<Json<SecretOut>> {
    if tenant == TenantId::default_tenant() && state.config.webhook_secret.is_some() {
        return Err(ApiError::Conflict(
            "this account's secret is set by the server's IMGBATCH_WEBHOOK_SECRET; change it there".into(),
        ));
    }
    let overlap = chrono::Duration::from_std(state.config.access.webhook_secret_overlap).map_err(anyhow::Error::new)?;
    let txn = state.db.begin().await?;
    db::webhook_secrets::replace(&txn, &tenant, &generate_secret(), db::now() + overlap).await?;
    txn.commit().await?;
    tracing::info!(tenant = %tenant, "webhook secret rotated");
    Ok(Json(current(&state, &tenant).await?))
}

async fn current(state: &AppState, tenant: &TenantId) -> Result<SecretOut> {
    let (row, previous) = db::webhook_secrets::current(&state.db, tenant, db::now())
        .await?
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("tenant {tenant} has no webhook secret")))?;
    Ok(SecretOut { secret: row.secret, created_at: row.created_at, previous_secret_expires_at: previous })
}
