//! Recording an image's outcome, and finishing its request (or job) exactly once: the last image's
//! transaction sets the final status and writes the webhook delivery (an outbox row: a
//! `request.completed` or `job.completed` event), so a crash
//! between finishing and sending loses nothing.

use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};

use crate::{
    db::{
        self,
        entities::{image, request},
        images::Outcome,
    },
    domain::{
        event::{CompletedData, RequestCompleted},
        ids::DeliveryId,
        job::JobCompleted,
        status::{RequestKind, RequestStatus},
    },
    state::AppState,
    urls::Urls,
};

/// What recording an outcome did.
#[derive(Debug)]
pub struct Recorded {
    /// False when the image had already finished (a duplicate job): nothing was counted.
    pub counted: bool,
    /// The webhook delivery to queue, when this outcome finished a request that has a webhook.
    pub webhook: Option<DeliveryId>,
}

/// Records `outcome` for a pending image; when it was the request's last, finishes the request
/// and writes its webhook delivery, in the same transaction.
pub async fn record_outcome(state: &AppState, img: &image::Model, outcome: Outcome) -> Result<Recorded, DbErr> {
    let txn = state.db.begin().await?;
    let recorded = match db::images::record(&txn, img, &outcome).await? {
        Some(request) => Recorded { counted: true, webhook: finish_if_done(&txn, &request, &state.urls).await? },
        None => Recorded { counted: false, webhook: None },
    };
    txn.commit().await?;
    Ok(recorded)
}

/// Sets the final status of a request whose images have all finished, if no one has yet, and
/// records its webhook delivery in the same transaction. Returns the delivery to queue.
pub async fn finish_if_done(
    txn: &impl ConnectionTrait,
    request: &request::Model,
    urls: &Urls,
) -> Result<Option<DeliveryId>, DbErr> {
    let finished = i64::from(request.succeeded) + i64::from(request.failed);
    if finished < i64::from(request.images) {
        return Ok(None);
    }
    let status = RequestStatus::final_from(request.succeeded as u64, request.failed as u64);
    let completed_at = db::now();
    if !db::requests::finish(txn, &request.tenant_id, request.id, status, completed_at).await? {
        return Ok(None);
    }
    tracing::info!(request = %request.id, status = status.as_str(), "request finished");
    let Some(url) = &request.webhook_url else {
        return Ok(None);
    };
    let encode = |e: serde_json::Error| DbErr::Custom(e.to_string());
    let payload = match request.kind {
        RequestKind::Request => serde_json::to_string(&RequestCompleted::new(CompletedData {
            request_id: request.id,
            status,
            counts: request.counts(),
            output_csv_url: urls.output_csv(request.id),
            completed_at,
        })),
        // The job as `GET` now shows it, read back in this transaction.
        RequestKind::Job => {
            let job = db::jobs::find(txn, &request.tenant_id, request.id).await?;
            let job = job.ok_or_else(|| DbErr::RecordNotFound(format!("job {}", request.id)))?;
            serde_json::to_string(&JobCompleted::new(job.view(urls)))
        }
    }
    .map_err(encode)?;
    db::webhooks::insert_delivery(txn, &request.tenant_id, request.id, url, &payload).await.map(Some)
}
