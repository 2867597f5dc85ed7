//! Accepting a request: persist the manifest in one transaction, queue its images, then mark it
//! accepted. If queueing fails, the request is removed again; if the process dies half-way, the
//! recovery loop removes it (`recover`), so nothing half-accepted stays behind.

use sea_orm::TransactionTrait;

use crate::{
    db::{self, requests::NewRequest},
    domain::ids::RequestId,
    manifest::Manifest,
    metrics::Metrics,
    state::AppState,
};

/// A validated submission.
pub struct Submission {
    /// The parsed CSV.
    pub manifest: Manifest,
    /// Where to send the completion webhook.
    pub webhook_url: Option<url::Url>,
    /// JPEG quality for this request.
    pub quality: u8,
}

/// Stores and queues a submission; returns the new request's id.
pub async fn submit(state: &AppState, submission: &Submission) -> anyhow::Result<RequestId> {
    let id = RequestId::new();
    let new = NewRequest {
        id,
        webhook_url: submission.webhook_url.as_ref().map(url::Url::as_str),
        quality: submission.quality,
    };
    let txn = state.db.begin().await?;
    let images = db::requests::insert_manifest(&txn, new, &submission.manifest).await?;
    txn.commit().await?;
    if let Err(e) = state.queue.push_images(&images).await {
        if let Err(cleanup) = db::requests::delete(&state.db, id).await {
            tracing::error!(request = %id, error = %cleanup, "could not remove an unqueued request");
        }
        return Err(e.context("queueing the request's images"));
    }
    db::requests::mark_accepted(&state.db, id).await?;
    Metrics::inc(&state.metrics.requests_accepted);
    tracing::info!(request = %id, images = images.len(), "request accepted");
    Ok(id)
}
