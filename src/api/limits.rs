//! The per-tenant limits of uploads and jobs, answered 429 with `Retry-After`.

use std::time::Duration;

use super::accounts::limiter_down;
use crate::{
    db,
    domain::ids::TenantId,
    error::{ApiError, Result},
    limits::Window,
    state::AppState,
};

/// How long a tenant over its waiting-images limit is told to wait: about as long as a worker
/// takes to make room for a small upload.
const PENDING_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Counts an upload against the tenant's uploads per minute.
pub async fn check_upload(state: &AppState, tenant: &TenantId) -> Result<()> {
    per_minute(state, tenant, "uploads", state.config.access.rate_uploads, "IMGBATCH_RATE_UPLOADS").await
}

/// Counts a single-image job against the tenant's jobs per minute.
pub async fn check_job(state: &AppState, tenant: &TenantId) -> Result<()> {
    per_minute(state, tenant, "jobs", state.config.access.rate_jobs, "IMGBATCH_RATE_JOBS").await
}

async fn per_minute(state: &AppState, tenant: &TenantId, name: &'static str, max: u32, setting: &str) -> Result<()> {
    let max = u64::from(max);
    let window = Window { name, max, period: Duration::from_secs(60) };
    match state.limiter.hit(window, tenant.as_str()).await.map_err(limiter_down)? {
        Some(wait) => Err(ApiError::too_many(format!("at most {max} {name} per minute ({setting})"), wait)),
        None => Ok(()),
    }
}

/// Refuses an upload that would leave the tenant more images waiting than its limit. The count
/// is the database's, so it holds across every process.
pub async fn check_pending(state: &AppState, tenant: &TenantId, adding: u64) -> Result<()> {
    let max = state.config.access.tenant_max_pending_images;
    let waiting = db::images::pending(&state.db, tenant).await?;
    if waiting.saturating_add(adding) > max {
        return Err(ApiError::too_many(
            format!(
                "this upload's {adding} images and the {waiting} still waiting would pass the limit of {max} \
                 (IMGBATCH_TENANT_MAX_PENDING_IMAGES); try again once more have finished"
            ),
            PENDING_RETRY_AFTER,
        ));
    }
    Ok(())
}
