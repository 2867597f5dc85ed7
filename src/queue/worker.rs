//! Workers: one apalis worker per job kind, whose handlers are thin adapters over
//! `pipeline::process_image` and `webhook::deliver::deliver`.

use std::time::Duration;

use apalis::prelude::*;
use tokio_util::sync::CancellationToken;

use super::{
    Queue,
    jobs::{DeliverWebhook, ProcessImage},
};
use crate::state::AppState;

/// How often an idle worker looks for jobs. Without a poll strategy an idle worker sleeps until
/// its next heartbeat (a new upload's jobs waited up to 5 s), and a busy one re-polls an empty
/// queue whenever anything else in its task wakes it.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Webhook attempts in flight per process.
const WEBHOOK_CONCURRENCY: usize = 8;

/// Delay before an image job that failed in our own parts (database, store) runs again.
const INTERNAL_RETRY: Duration = Duration::from_secs(30);

async fn process_image(job: ProcessImage, state: Data<AppState>) -> Result<(), BoxDynError> {
    let state = AppState::clone(&state);
    let id = job.image_id;
    let job_state = state.clone();
    match tracked(&state, async move { crate::pipeline::process_image(&job_state, id).await }).await {
        Ok(()) => Ok(()),
        // The backends stop retrying after a fixed number of attempts (apalis-redis after 25
        // within about five minutes): an outage longer than that would strand the image. Queue a
        // fresh job instead, for as long as the outage lasts; the queue retries only if that fails.
        Err(e) => {
            tracing::warn!(image = %id, error = %e, "image job failed; trying again in 30 s");
            state.queue.push_image_after(id, INTERNAL_RETRY).await.map_err(|p| format!("{e}; and {p:#}").into())
        }
    }
}

async fn deliver_webhook(job: DeliverWebhook, state: Data<AppState>) -> Result<(), BoxDynError> {
    let state = AppState::clone(&state);
    tracked(&state.clone(), async move { crate::webhook::deliver::deliver(&state, &job).await }).await
}

/// Runs a job body as its own task on the app's tracker, so that a stopping worker does not drop
/// it half-way (shutdown waits for the tracker); its error or panic is a failed attempt.
async fn tracked(
    state: &AppState,
    job: impl Future<Output = anyhow::Result<()>> + Send + 'static,
) -> Result<(), BoxDynError> {
    match state.jobs.spawn(job).await {
        Ok(result) => result.map_err(|e| format!("{e:#}").into()),
        Err(e) if e.is_panic() => Err("the job panicked".into()),
        Err(e) => Err(e.to_string().into()),
    }
}

/// A worker for one queue, run under [`supervise`]; the same for every backend.
macro_rules! worker {
    ($name:expr, $backend:expr, $state:expr, $concurrency:expr, $handler:expr, $token:expr) => {{
        let (name, backend, state, token) = ($name, $backend, $state.clone(), $token.clone());
        supervise(name.clone(), state.config.worker_heartbeat, token.clone(), move || {
            WorkerBuilder::new(name.clone())
                .backend(backend.clone().poll_with_interval(POLL_INTERVAL))
                .data(state.clone())
                .concurrency($concurrency)
                .retry(RetryPolicy::retries(2))
                .build($handler)
                .run_until(cancelled(token.clone()))
        })
    }};
}

/// Runs the workers until `token` is cancelled; in-flight jobs are left to the app's tracker.
pub async fn run_workers(state: AppState, token: CancellationToken) {
    let recovery = crate::pipeline::recover::run(state.clone(), token.clone());
    let host = state.config.worker_name.clone().unwrap_or_else(default_name);
    let images = format!("imgbatch-images-{host}");
    let webhooks = format!("imgbatch-webhooks-{host}");
    let concurrency = state.config.concurrency as usize;
    match state.queue.clone() {
        Queue::Embedded { images: i, webhooks: w, .. } => {
            tokio::join!(
                worker!(images, i, state, concurrency, process_image, token),
                worker!(webhooks, w, state, WEBHOOK_CONCURRENCY, deliver_webhook, token),
                recovery
            );
        }
        Queue::Redis { images: i, webhooks: w, .. } => {
            tokio::join!(
                worker!(images, i, state, concurrency, process_image, token),
                worker!(webhooks, w, state, WEBHOOK_CONCURRENCY, deliver_webhook, token),
                recovery
            );
        }
    }
}

async fn cancelled(token: CancellationToken) -> Result<(), WorkerError> {
    token.cancelled().await;
    Ok(())
}

/// Runs a worker, starting it again when it stops with an error (such as its name still being
/// registered by a previous run of this process, which clears after one heartbeat).
async fn supervise<F, Fut>(name: String, heartbeat: Duration, token: CancellationToken, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), WorkerError>>,
{
    loop {
        let result = start().await;
        if token.is_cancelled() {
            return;
        }
        match result {
            Ok(()) => tracing::warn!(worker = %name, "worker stopped; starting it again"),
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, "worker failed; starting it again")
            }
        }
        tokio::select! {
            _ = token.cancelled() => return,
            _ = tokio::time::sleep(heartbeat) => {}
        }
    }
}

/// This process's part of worker names when none is set: host and process id, so that several
/// processes on one host never share a name. A dead process's jobs are then taken over by another
/// worker after two missed heartbeats.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "local".into());
    format!("{host}-{}", std::process::id())
}
