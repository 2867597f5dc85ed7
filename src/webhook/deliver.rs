//! Delivering a webhook: claim the attempt, sign, POST (15 s), record the attempt, and say when the
//! next try is due by the retry schedule. Every attempt carries the same `webhook-id`. Nothing
//! here queues anything: [`deliver`] hands back the attempt to queue next, if any.

use std::time::{Duration, Instant};

use sea_orm::TransactionTrait;

use super::sign;
use crate::{
    config::Secret,
    db::{self, entities::webhook_delivery, webhooks::AttemptResult},
    domain::{ids::DeliveryId, status::DeliveryState},
    metrics::Metrics,
    net,
    outage::Part,
    state::AppState,
};

/// Time a receiver has to answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a claimed attempt is not due again; past it, a crashed attempt is made anew. Longer
/// than an attempt can take, so a slow receiver is never called twice at once.
pub const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// A job that comes this early for its attempt waits for it in place; one earlier than that is
/// queued again (the embedded queue schedules in whole seconds).
const WAIT_IN_PLACE: Duration = Duration::from_secs(2);

/// The webhook job to queue next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAttempt {
    /// Attempts already made; the job makes the one after.
    pub done: i32,
    /// How long from now.
    pub after: Duration,
}

/// Makes attempt `done + 1` of a delivery once it is due, unless another job already has. Never
/// fails: when the database is down, the same job comes back after the outage's wait.
pub async fn deliver(state: &AppState, id: &DeliveryId, done: i32) -> Option<NextAttempt> {
    match attempt(state, id, done).await {
        Ok(next) => next,
        Err(Failed { claimed, error }) => {
            let part = error.downcast_ref().map_or(Part::Database, Part::of_db_error);
            let wait = state.outages.down(part, &error);
            // A claimed attempt stays claimed for its lease: the job after it can only run then.
            Some(match claimed {
                Some((number, lease)) => NextAttempt { done: number, after: wait.max(lease) },
                None => NextAttempt { done, after: wait },
            })
        }
    }
}

/// What follows a job whose body panicked: the same job once a claim it may have made has run
/// out (if it had, that job finds nothing to do, and the recovery pass queues the attempt).
pub fn after_panic(state: &AppState, id: &DeliveryId, done: i32) -> Option<NextAttempt> {
    let wait = state.outages.down(Part::Worker, &anyhow::anyhow!("the job for webhook delivery {id} panicked"));
    Some(NextAttempt { done, after: wait.max(CLAIM_LEASE) })
}

/// A database failure, and the attempt number and lease claimed before it, if any.
struct Failed {
    claimed: Option<(i32, Duration)>,
    error: anyhow::Error,
}

fn before_claim(error: impl Into<anyhow::Error>) -> Failed {
    Failed { claimed: None, error: error.into() }
}

async fn attempt(state: &AppState, id: &DeliveryId, done: i32) -> Result<Option<NextAttempt>, Failed> {
    // Until the attempt is recorded, the next one is not due: not before the attempt can have
    // ended plus the delay that would follow its failure, so that even an attempt whose record is
    // lost (a crash, the database down) is followed no earlier than the schedule says.
    let retry_in = state.config.webhook_retry_schedule.0.get(done as usize).copied();
    let lease = CLAIM_LEASE.max(ATTEMPT_TIMEOUT + retry_in.unwrap_or_default());
    let Some(loaded) = db::webhooks::load(&state.db, id).await.map_err(before_claim)? else { return Ok(None) };
    let tenant = loaded.tenant_id;
    let delivery = loop {
        let now = db::now();
        let lease_until = now + chrono::Duration::from_std(lease).map_err(before_claim)?;
        if let Some(claimed) =
            db::webhooks::claim_attempt(&state.db, &tenant, id, done, now, lease_until).await.map_err(before_claim)?
        {
            break claimed;
        }
        // Not claimed: a duplicate or stale job (nothing to do), or a job that came early.
        let Some(d) = db::webhooks::load(&state.db, id).await.map_err(before_claim)? else { return Ok(None) };
        let due_in = match d.next_attempt_at {
            Some(at) if d.status == DeliveryState::Pending && d.attempts == done => (at - now).to_std().ok(),
            _ => None,
        };
        match due_in {
            None => return Ok(None),
            Some(wait) if wait <= WAIT_IN_PLACE => tokio::time::sleep(wait).await,
            Some(wait) => return Ok(Some(NextAttempt { done, after: wait + Duration::from_secs(1) })),
        }
    };
    state.outages.up(Part::Database);
    state.outages.up(Part::Worker);
    let number = delivery.attempts;
    let after_claim = |error: sea_orm::DbErr| Failed { claimed: Some((number, lease)), error: error.into() };
    let attempted_at = db::now();
    let started = Instant::now();
    let secrets = db::webhook_secrets::signing(&state.db, &tenant, attempted_at).await.map_err(after_claim)?;
    let (status_code, error, refused) = match send(state, &delivery, &secrets).await {
        Ok(code) if (200..300).contains(&code) => (Some(code), None, false),
        Ok(code) => (Some(code), Some(format!("the receiver answered {code}")), false),
        Err(Refusal { message, refused }) => (None, Some(message), refused),
    };
    let result = AttemptResult { status_code, error, duration_ms: started.elapsed().as_millis() as u64 };
    // A refused address stays refused: retrying cannot help.
    let retry_in = retry_in.filter(|_| !refused);
    let (new_state, next) = match (&result.error, retry_in) {
        (None, _) => (DeliveryState::Succeeded, None),
        (Some(_), Some(delay)) => (DeliveryState::Pending, Some(delay)),
        (Some(_), None) => (DeliveryState::Failed, None),
    };
    // The schedule's delays are bounded by the settings, so this cannot overflow.
    let next_at = next.and_then(|d| attempted_at.checked_add_signed(chrono::Duration::from_std(d).ok()?));
    let txn = state.db.begin().await.map_err(after_claim)?;
    db::webhooks::record_attempt(&txn, &delivery, number, attempted_at, &result, new_state, next_at)
        .await
        .map_err(after_claim)?;
    txn.commit().await.map_err(after_claim)?;
    Metrics::inc(match new_state {
        DeliveryState::Succeeded => &state.metrics.webhook_succeeded,
        _ => &state.metrics.webhook_failed,
    });
    tracing::info!(delivery = %delivery.id, attempt = number, status = ?result.status_code, outcome = new_state.as_str(), "webhook attempt");
    // Queued for the delay from now; the claim holds the job back until the attempt is due.
    Ok(next.map(|after| NextAttempt { done: number, after }))
}

/// Why an attempt got no answer.
struct Refusal {
    message: String,
    /// The outbound policy refused the address.
    refused: bool,
}

impl Refusal {
    fn other(message: String) -> Self {
        Self { message, refused: false }
    }
}

/// Sends one signed attempt; the receiver's status code, or why there was none.
async fn send(state: &AppState, delivery: &webhook_delivery::Model, secrets: &[Secret]) -> Result<u16, Refusal> {
    let url = url::Url::parse(&delivery.url).map_err(|e| Refusal::other(format!("invalid webhook URL: {e}")))?;
    net::check_url(&url, state.config.allow_private_urls)
        .map_err(|e| Refusal { message: e.to_string(), refused: true })?;
    let signed = sign::sign(secrets, delivery.id.as_str(), chrono::Utc::now().timestamp(), delivery.payload.as_bytes())
        .map_err(|e| Refusal::other(format!("{e:#}")))?;
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
            Some(refused) => Refusal { message: refused.to_string(), refused: true },
            None if e.is_timeout() => Refusal::other(format!("no answer within {} s", ATTEMPT_TIMEOUT.as_secs())),
            None => Refusal::other(net::chain(&e)),
        })?;
    Ok(response.status().as_u16())
}
