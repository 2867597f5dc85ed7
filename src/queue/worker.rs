//! Workers: one apalis worker per job kind, whose handlers are thin adapters. Each runs the job
//! body (`pipeline::process_image`, `webhook::deliver::deliver`) and carries out what it hands
//! back: queue the image again, queue the next webhook attempt, or nothing. No apalis retry layer
//! runs: whether and when to retry is decided by the job bodies alone.

use std::{panic::AssertUnwindSafe, time::Duration};

use apalis::prelude::*;
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use super::{
    Backend,
    jobs::{DeliverWebhook, ProcessImage},
    wake::Wake,
};
use crate::{outage::Part, pipeline::Next, state::AppState, webhook::deliver::NextAttempt};

/// How often an idle worker looks for jobs queued by another process (those this process queues
/// wake it at once; see `wake`). Without a poll strategy an idle worker sleeps until its next
/// heartbeat (a new upload's jobs waited up to 5 s), and a busy one re-polls an empty queue
/// whenever anything else in its task wakes it.
const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Webhook attempts in flight per process: receivers answer within 15 s or fail, so a few slots
/// keep deliveries moving without letting slow receivers take many connections.
const WEBHOOK_CONCURRENCY: usize = 8;

async fn process_image(job: ProcessImage, state: Data<AppState>) -> Result<(), BoxDynError> {
    let state = AppState::clone(&state);
    tracked(&state.clone(), async move {
        let ProcessImage { image_id: id, tenant_id: tenant } = job;
        let next = match AssertUnwindSafe(crate::pipeline::process_image(&state, id)).catch_unwind().await {
            Ok(next) => next,
            Err(_) => crate::pipeline::after_panic(&state, id),
        };
        let webhook = match next {
            Next::Finished { webhook } => webhook,
            Next::RetryAfter(after) => {
                return carry_out(&state, || state.queue.retry_image(id, tenant.clone(), after)).await;
            }
        };
        // The image left its tenant's window: let the next one in. A miss is caught up by the
        // recovery pass.
        if let Some(tenant) = &tenant
            && let Err(e) = super::dispatch::top_up(&state, tenant).await
        {
            tracing::warn!(tenant = %tenant, error = %format!("{e:#}"), "could not queue a tenant's next images; the recovery pass will");
        }
        match webhook {
            None => Ok(()),
            Some(delivery) => carry_out(&state, || state.queue.deliver_webhook(&delivery, 0, Duration::ZERO)).await,
        }
    })
    .await
}

async fn deliver_webhook(job: DeliverWebhook, state: Data<AppState>) -> Result<(), BoxDynError> {
    let state = AppState::clone(&state);
    tracked(&state.clone(), async move {
        let DeliverWebhook { delivery_id: id, attempt } = job;
        let next = match AssertUnwindSafe(crate::webhook::deliver::deliver(&state, &id, attempt)).catch_unwind().await {
            Ok(next) => next,
            Err(_) => crate::webhook::deliver::after_panic(&state, &id, attempt),
        };
        match next {
            None => Ok(()),
            Some(NextAttempt { done, after }) => {
                carry_out(&state, || state.queue.deliver_webhook(&id, done, after)).await
            }
        }
    })
    .await
}

/// Runs a job, body and follow-up, as its own task on the app's tracker: a worker that stops or
/// fails does not drop it half-way, and shutdown waits for it.
async fn tracked(
    state: &AppState,
    job: impl Future<Output = Result<(), BoxDynError>> + Send + 'static,
) -> Result<(), BoxDynError> {
    state.jobs.spawn(job).await.unwrap_or_else(|e| Err(format!("the job task ended: {e}").into()))
}

/// Queues what a job body asked for. While the queue is down this job keeps its slot and tries
/// again after the outage's wait, so the follow-up is never lost; a stop in the meantime leaves
/// the job unacknowledged, and the queue runs it again after the restart.
async fn carry_out<F, Fut>(state: &AppState, push: F) -> Result<(), BoxDynError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    loop {
        match push().await {
            Ok(()) => {
                state.outages.up(Part::Queue);
                return Ok(());
            }
            Err(e) => {
                let wait = state.outages.down(Part::Queue, &e);
                tokio::select! {
                    _ = state.shutdown.cancelled() => return Err(format!("stopping with the queue down: {e:#}").into()),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// A worker for one queue, run under [`supervise`]; the same for every backend.
macro_rules! worker {
    ($name:expr, $backend:expr, $pushed:expr, $state:expr, $concurrency:expr, $handler:expr) => {{
        let (name, backend, pushed, state) = ($name, $backend, $pushed.clone(), $state.clone());
        supervise(name.clone(), state.clone(), move || {
            WorkerBuilder::new(name.clone())
                .backend(backend.clone().poll_with_strategy(Wake::new(POLL_INTERVAL, pushed.clone())))
                .data(state.clone())
                .concurrency($concurrency)
                .build($handler)
                .run_until(cancelled(state.shutdown.clone()))
        })
    }};
}

/// Runs the workers and the recovery pass until the app's shutdown token is cancelled; in-flight
/// jobs are left to the app's tracker. Each worker runs as a task of its own (see [`supervise`]):
/// an apalis worker fetches whenever it is polled while it holds no batch, so two workers polled
/// by one task wake each other with every empty fetch and poll an idle queue hundreds of times a
/// second.
pub async fn run_workers(state: AppState) {
    let recovery = super::recover::run(state.clone());
    let host = state.config.worker_name.clone().unwrap_or_else(default_name);
    let images = format!("imgbatch-images-{host}");
    let webhooks = format!("imgbatch-webhooks-{host}");
    let concurrency = state.config.concurrency as usize;
    let pushed = state.queue.1.clone();
    match state.queue.0.clone() {
        Backend::Embedded { images: i, webhooks: w, .. } => {
            tokio::join!(
                worker!(images, i, pushed.images, state, concurrency, process_image),
                worker!(webhooks, w, pushed.webhooks, state, WEBHOOK_CONCURRENCY, deliver_webhook),
                recovery
            );
        }
        Backend::Redis { images: i, webhooks: w, .. } => {
            tokio::join!(
                worker!(images, i, pushed.images, state, concurrency, process_image),
                worker!(webhooks, w, pushed.webhooks, state, WEBHOOK_CONCURRENCY, deliver_webhook),
                recovery
            );
        }
    }
}

async fn cancelled(token: CancellationToken) -> Result<(), WorkerError> {
    token.cancelled().await;
    Ok(())
}

/// Runs a worker as a task of its own, starting it again when it stops with an error (its name
/// still registered by a previous run of this process, which clears after one heartbeat, or its
/// queue unreachable) or panics.
async fn supervise<F, Fut>(name: String, state: AppState, start: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), WorkerError>> + Send + 'static,
{
    let heartbeat = state.config.worker_heartbeat;
    loop {
        let result = tokio::spawn(start()).await;
        if state.shutdown.is_cancelled() {
            return;
        }
        match result {
            Ok(Ok(())) => tracing::warn!(worker = %name, "worker stopped; starting it again"),
            Ok(Err(e)) => tracing::warn!(worker = %name, error = %e, "worker failed; starting it again"),
            Err(e) => tracing::error!(worker = %name, error = %e, "worker panicked; starting it again"),
        }
        tokio::select! {
            _ = state.shutdown.cancelled() => return,
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
