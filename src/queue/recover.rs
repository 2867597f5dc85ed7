//! The recovery pass: what a crash can leave half-done is finished or undone here, once at worker
//! start and then every minute. Uploads that died before all their jobs were queued are removed
//! (their merchant never got a request id); webhook deliveries that are due but whose queued
//! attempt was lost are queued again (a duplicate attempt job sends nothing); tenants' windows
//! whose top-up was missed are topped up, and images whose job was not seen for an hour (lost
//! with the queue's data) are queued again; with `IMGBATCH_RETENTION`, what is older is removed.

use std::time::Duration;

use crate::{db, state::AppState};

/// How often the pass runs: often enough that a lost webhook attempt goes out within about a
/// minute of being due, rarely enough to cost nothing.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// How long an upload may take to queue its jobs before it counts as dead: far longer than the
/// largest upload takes to queue.
pub const INTAKE_GRACE: Duration = Duration::from_secs(600);

/// Runs [`recover`] now and every [`INTERVAL`] until the app stops.
pub async fn run(state: AppState) {
    loop {
        if let Err(e) = recover(&state, INTAKE_GRACE).await {
            tracing::error!(error = %format!("{e:#}"), "recovery pass failed; it runs again in a minute");
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// One recovery pass; returns (uploads removed, webhook attempts queued). An upload that could
/// not be removed this pass is not counted.
pub async fn recover(state: &AppState, intake_grace: Duration) -> anyhow::Result<(usize, usize)> {
    let cutoff = db::now() - chrono::Duration::from_std(intake_grace)?;
    let dead = db::requests::unaccepted_before(&state.db, cutoff).await?;
    let mut removed = 0;
    for (tenant, id) in &dead {
        tracing::warn!(request = %id, "removing an upload that died before its jobs were queued (or a removal cut short)");
        // One that cannot be removed now (the store is down) is tried again next pass; the rest
        // of this pass still runs.
        match crate::retention::purge(state, tenant, *id).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(request = %id, error = %e, "could not remove it yet"),
        }
    }
    // An attempt in progress is not due: its claim holds it for the claim lease.
    let due = db::webhooks::due(&state.db, db::now()).await?;
    for d in &due {
        state.queue.deliver_webhook(&d.id, d.attempts, Duration::ZERO).await?;
    }
    if !due.is_empty() {
        tracing::info!(count = due.len(), "queued webhook attempts that were due");
    }
    let images = super::dispatch::top_up_all(state).await?;
    if images > 0 {
        tracing::info!(count = images, "queued images whose tenant's window had room");
    }
    let stale = super::dispatch::requeue_stale(state, super::dispatch::QUEUED_LEASE).await?;
    if stale > 0 {
        tracing::warn!(count = stale, "queued again images whose job was not seen for an hour");
    }
    if let Some(retention) = state.config.retention {
        let removed = crate::retention::sweep(state, retention).await?;
        if removed > 0 {
            tracing::info!(count = removed, "removed requests and jobs older than IMGBATCH_RETENTION");
        }
    }
    Ok((removed, due.len()))
}
