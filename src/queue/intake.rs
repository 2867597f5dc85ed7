//! Accepting a request: persist the manifest hidden (in batches, see `db::ingest`), queue the first
//! of its tenant's window, then mark it accepted. If writing, queueing or marking fails, the
//! request is removed again; if the process dies half-way, the recovery pass removes it. Jobs of a
//! request not yet accepted wait for it, so nothing half-accepted is ever processed or stays behind.

use sea_orm::TransactionTrait;

use crate::{
    db::{self, ingest::NewRequest, jobs::JobInput},
    domain::{
        ids::{RequestId, TenantId},
        quality::Quality,
        transform::Transform,
    },
    manifest::Manifest,
    metrics::Metrics,
    outage::Part,
    state::AppState,
};

/// A validated submission.
pub struct Submission {
    /// The parsed CSV.
    pub manifest: Manifest,
    /// Where to send the completion webhook.
    pub webhook_url: Option<url::Url>,
    /// Encoder quality for this request.
    pub quality: Quality,
    /// The box its images are fitted to, and how.
    pub transform: Transform,
}

/// Why a submission could not be accepted: one of our own parts failed. Nothing of it is kept.
#[derive(Debug, thiserror::Error)]
#[error("{} unavailable: {error:#}", part.name())]
pub struct NotAccepted {
    /// The part that failed.
    pub part: Part,
    /// How.
    #[source]
    pub error: anyhow::Error,
}

/// Stores and queues a submission; returns the new request's id.
pub async fn submit(state: &AppState, tenant: &TenantId, submission: &Submission) -> Result<RequestId, NotAccepted> {
    let id = RequestId::new();
    let new = NewRequest {
        tenant,
        id,
        webhook_url: submission.webhook_url.as_ref().map(url::Url::as_str),
        quality: submission.quality,
        transform: submission.transform,
    };
    let now = db::now();
    // A refused first write leaves nothing to remove, and the answer is not held up trying.
    db::ingest::insert_request(&state.db, &new, &submission.manifest, now).await.map_err(db_down)?;
    if let Err(e) = db::ingest::insert_rows(&state.db, &new, &submission.manifest, now).await {
        return undo(state, tenant, id, db_down(e)).await;
    }
    accept(state, tenant, id).await?;
    tracing::info!(tenant = %tenant, request = %id, images = submission.manifest.image_count(), "request accepted");
    Ok(id)
}

/// A validated single-image job.
pub struct JobSubmission<'a> {
    /// Where its image comes from.
    pub input: JobInput<'a>,
    /// Where to send its `job.completed` event.
    pub webhook_url: Option<url::Url>,
    /// Encoder quality.
    pub quality: Quality,
    /// The box its image is fitted to, and how.
    pub transform: Transform,
}

/// Stores and queues a single-image job; returns its id and when it was accepted.
pub async fn submit_job(
    state: &AppState,
    tenant: &TenantId,
    job: &JobSubmission<'_>,
) -> Result<(RequestId, chrono::DateTime<chrono::Utc>), NotAccepted> {
    let id = RequestId::new();
    let new = NewRequest {
        tenant,
        id,
        webhook_url: job.webhook_url.as_ref().map(url::Url::as_str),
        quality: job.quality,
        transform: job.transform,
    };
    let txn = state.db.begin().await.map_err(db_down)?;
    let created_at = db::jobs::insert(&txn, new, job.input).await.map_err(db_down)?;
    txn.commit().await.map_err(db_down)?;
    accept(state, tenant, id).await?;
    tracing::info!(tenant = %tenant, job = %id, "job accepted");
    Ok((id, created_at))
}

fn db_down(e: sea_orm::DbErr) -> NotAccepted {
    NotAccepted { part: Part::Database, error: e.into() }
}

/// Queues the first of the tenant's window and marks the written request accepted, or removes it
/// again.
async fn accept(state: &AppState, tenant: &TenantId, id: RequestId) -> Result<(), NotAccepted> {
    // Until it is marked accepted the request is invisible and its queued jobs wait; one that is
    // never accepted is removed here or, failing that, by the recovery pass.
    // The first of the tenant's window; the rest follows as its images finish.
    if let Err(e) = super::dispatch::top_up(state, tenant).await {
        let part = match e.downcast_ref::<sea_orm::DbErr>() {
            Some(_) => Part::Database,
            None => Part::Queue,
        };
        return undo(state, tenant, id, NotAccepted { part, error: e }).await;
    }
    if let Err(e) = db::requests::mark_accepted(&state.db, tenant, id).await {
        return undo(state, tenant, id, db_down(e)).await;
    }
    state.queue.wake_image_worker();
    Metrics::inc(&state.metrics.requests_accepted);
    Ok(())
}

/// Removes what was written of a request that could not be accepted, and gives back why.
async fn undo<T>(state: &AppState, tenant: &TenantId, id: RequestId, failure: NotAccepted) -> Result<T, NotAccepted> {
    if let Err(cleanup) = crate::retention::purge(state, tenant, id).await {
        tracing::error!(request = %id, error = %cleanup, "could not remove an unaccepted request; the recovery pass will");
    }
    Err(failure)
}
