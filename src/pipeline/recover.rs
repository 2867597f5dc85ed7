//! The recovery loop: what a crash can leave half-done is finished or undone here, once at worker
//! start and then every minute. Uploads that died before all their jobs were queued are removed
//! (their merchant never got a request id); webhook deliveries that are due but whose queued
//! attempt was lost are queued again (a duplicate attempt job sends nothing).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{db, state::AppState, webhook::deliver::requeue_due};

/// How often the loop runs.
pub const INTERVAL: Duration = Duration::from_secs(60);
/// How long an upload may take to queue its jobs before it counts as dead.
pub const INTAKE_GRACE: Duration = Duration::from_secs(600);

/// Runs [`recover`] now and every [`INTERVAL`] until `token` is cancelled.
pub async fn run(state: AppState, token: CancellationToken) {
    loop {
        if let Err(e) = recover(&state, INTAKE_GRACE).await {
            tracing::error!(error = %format!("{e:#}"), "recovery pass failed");
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

/// One recovery pass; returns (uploads removed, webhook attempts queued).
pub async fn recover(state: &AppState, intake_grace: Duration) -> anyhow::Result<(usize, usize)> {
    let cutoff = db::now() - chrono::Duration::from_std(intake_grace)?;
    let dead = db::requests::unaccepted_before(&state.db, cutoff).await?;
    for id in &dead {
        tracing::warn!(request = %id, "removing an upload that died before its jobs were queued");
        db::requests::delete(&state.db, *id).await?;
    }
    let requeued = requeue_due(state).await?;
    if requeued > 0 {
        tracing::info!(count = requeued, "queued webhook attempts that were due");
    }
    Ok((dead.len(), requeued))
}
