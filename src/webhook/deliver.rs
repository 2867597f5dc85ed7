//! Delivering a webhook: claim the attempt, sign, POST (15 s), record the attempt, and schedule
//! the next try by the retry schedule. Every attempt carries the same `webhook-id`.

use std::time::{Duration, Instant};

use sea_orm::TransactionTrait;

use crate::{
    db::{
        self,
        entities::webhook_delivery,
        webhooks::{AttemptResult, state},
    },
    domain::ids::DeliveryId,
    metrics::Metrics,
    net,
    pipeline::error::chain,
    queue::jobs::DeliverWebhook,
    state::AppState,
};

/// Time a receiver has to answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claimed attempt is not due again; past it, a crashed attempt is made anew.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);

/// Makes attempt `done + 1` of a delivery, unless another job already has.
pub async fn deliver(state: &AppState, job: &DeliverWebhook) -> anyhow::Result<()> {
    let lease_until = db::now() + chrono::Duration::from_std(CLAIM_LEASE)?;
    let Some(delivery) = db::webhooks::claim_attempt(&state.db, &job.delivery_id, job.attempt, lease_until).await?
    else {
        return Ok(());
    };
    let number = delivery.attempts;
    let attempted_at = db::now();
    let started = Instant::now();
    let (status_code, error, refused) = match send(state, &delivery).await {
        Ok(code) if (200..300).contains(&code) => (Some(code), None, false),
        Ok(code) => (Some(code), Some(format!("the receiver answered {code}")), false),
        Err(Failure { message, refused }) => (None, Some(message), refused),
    };
    let result = AttemptResult { status_code, error, duration_ms: started.elapsed().as_millis() as u64 };
    // A refused address stays refused: retrying cannot help.
    let retry_in = match refused {
        true => None,
        false => state.config.webhook_retry_schedule.0.get(number as usize - 1).copied(),
    };
    let (new_state, next) = match (&result.error, retry_in) {
        (None, _) => (state::SUCCEEDED, None),
        (Some(_), Some(delay)) => (state::PENDING, Some(delay)),
        (Some(_), None) => (state::FAILED, None),
    };
    let next_at = next.map(|d| attempted_at + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX));
    Metrics::inc(match new_state {
        state::SUCCEEDED => &state.metrics.webhook_succeeded,
        _ => &state.metrics.webhook_failed,
    });
    let txn = state.db.begin().await?;
    db::webhooks::record_attempt(&txn, &delivery, number, attempted_at, &result, new_state, next_at).await?;
    txn.commit().await?;
    tracing::info!(delivery = %delivery.id, attempt = number, status = ?result.status_code, outcome = new_state, "webhook attempt");
    if let Some(delay) = next {
        queue_next_attempt(state, &delivery, delay).await?;
    }
    Ok(())
}

/// Why an attempt got no answer.
struct Failure {
    message: String,
    /// The outbound policy refused the address.
    refused: bool,
}

impl Failure {
    fn other(message: String) -> Self {
        Self { message, refused: false }
    }
}

/// Sends one signed attempt; the receiver's status code, or why there was none.
async fn send(state: &AppState, delivery: &webhook_delivery::Model) -> Result<u16, Failure> {
    let url = url::Url::parse(&delivery.url).map_err(|e| Failure::other(format!("invalid webhook URL: {e}")))?;
    net::check_url(&url, state.config.allow_private_urls)
        .map_err(|e| Failure { message: e.to_string(), refused: true })?;
    let signed = state
        .signer
        .sign(&delivery.id, chrono::Utc::now().timestamp(), delivery.payload.as_bytes())
        .map_err(|e| Failure::other(format!("{e:#}")))?;
    let response = state
        .webhook_http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", signed.id)
        .header("webhook-timestamp", signed.timestamp.to_string())
        .header("webhook-signature", signed.signature)
        .body(delivery.payload.clone())
        .send()
        .await
        .map_err(|e| match net::refusal(&e) {
            Some(refused) => Failure { message: refused.to_string(), refused: true },
            None if e.is_timeout() => Failure::other(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
            None => Failure::other(chain(&e)),
        })?;
    Ok(response.status().as_u16())
}

/// Makes a delivery pending again and queues an attempt now; `None` when there is no such delivery.
pub async fn redeliver(state: &AppState, id: &str) -> anyhow::Result<Option<webhook_delivery::Model>> {
    let Some(delivery) = db::webhooks::reopen(&state.db, id).await? else {
        return Ok(None);
    };
    queue_next_attempt(state, &delivery, Duration::ZERO).await?;
    Ok(Some(delivery))
}

/// Queues an attempt for every pending delivery that is already due, so a delivery whose queued
/// attempt was lost in a crash still goes out. A duplicate attempt job sends nothing, and an
/// attempt in progress is not due (its claim holds it for [`CLAIM_LEASE`]).
pub async fn requeue_due(state: &AppState) -> anyhow::Result<usize> {
    let due = db::webhooks::due(&state.db, db::now()).await?;
    for d in &due {
        queue_next_attempt(state, d, Duration::ZERO).await?;
    }
    Ok(due.len())
}

/// Queues the attempt after the last one made of `delivery`, to run after `delay`.
async fn queue_next_attempt(
    state: &AppState,
    delivery: &webhook_delivery::Model,
    delay: Duration,
) -> anyhow::Result<()> {
    let job = DeliverWebhook { delivery_id: DeliveryId(delivery.id.clone()), attempt: delivery.attempts };
    state.queue.push_webhook(job, delay).await
}
