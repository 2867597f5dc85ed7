//! Fair shares: each tenant's waiting images are handed to the queue in a bounded window
//! (`IMGBATCH_TENANT_WINDOW`), topped up as they finish, rather than all at upload. The queue is
//! first come, first served, so a small upload waits behind at most a window of a big one, however
//! many worker processes there are; and a million-image request never puts a million jobs in
//! Redis. The window is counted in the database, so it holds across every process.

use sea_orm::TransactionTrait;

use crate::{db, domain::ids::TenantId, state::AppState};

/// Hands `tenant`'s next waiting images to the queue, up to its window; returns how many. Tenants
/// take turns (a row lock), so two processes topping up together never both hand over the same
/// images. The jobs are pushed before their rows are marked queued: a crash in between leaves
/// duplicate jobs (harmless: jobs are idempotent), never an image without one.
pub async fn top_up(state: &AppState, tenant: &TenantId) -> anyhow::Result<usize> {
    let window = state.config.access.tenant_window;
    // A cheap look first: most finishes leave the window nearly full, and the batch below keeps
    // top-ups to one every few finishes.
    let room = window.saturating_sub(db::images::in_queue(&state.db, tenant).await?);
    if room < batch(window) {
        return Ok(0);
    }
    let txn = state.db.begin().await?;
    db::tenants::lock(&txn, tenant).await?;
    let room = window.saturating_sub(db::images::in_queue(&txn, tenant).await?);
    let next = db::images::next_to_queue(&txn, tenant, room).await?;
    if next.is_empty() {
        return Ok(0);
    }
    state.queue.push_images(tenant, &next).await?;
    db::images::mark_queued(&txn, tenant, &next).await?;
    txn.commit().await?;
    tracing::debug!(tenant = %tenant, images = next.len(), "queued the next images of a tenant");
    Ok(next.len())
}

/// The least room worth a top-up: an eighth of the window, so that a finish does not always
/// cost a transaction, while the queue never runs more than an eighth short.
fn batch(window: u64) -> u64 {
    (window / 8).max(1)
}

/// Tops up every tenant with images not yet queued: at worker start and in the recovery pass,
/// for windows whose top-up was missed (a crash, the database down when an image finished).
pub async fn top_up_all(state: &AppState) -> anyhow::Result<usize> {
    let mut queued = 0;
    // One tenant's failure does not hold the others back; it is tried again on the next pass.
    for tenant in db::images::tenants_waiting(&state.db).await? {
        match top_up(state, &tenant).await {
            Ok(n) => queued += n,
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %format!("{e:#}"), "could not queue a tenant's next images")
            }
        }
    }
    Ok(queued)
}

/// How long an image may sit in the queue untouched before its job counts as lost (a queue that
/// lost data) and it is queued again. Far longer than a queue of every tenant's window takes to
/// drain; a duplicate job is harmless, an image left without one would hold its tenant's window.
pub const QUEUED_LEASE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Queues again, once each, the images in the queue for longer than `lease` without being touched.
pub async fn requeue_stale(state: &AppState, lease: std::time::Duration) -> anyhow::Result<usize> {
    let cutoff = db::now() - chrono::Duration::from_std(lease)?;
    let stale = db::images::queued_before(&state.db, cutoff, 10_000).await?;
    let mut by_tenant: std::collections::BTreeMap<TenantId, Vec<_>> = Default::default();
    for (tenant, id) in stale {
        by_tenant.entry(tenant).or_default().push(id);
    }
    let mut queued = 0;
    for (tenant, ids) in by_tenant {
        state.queue.push_images(&tenant, &ids).await?;
        db::images::mark_queued(&state.db, &tenant, &ids).await?;
        queued += ids.len();
    }
    Ok(queued)
}
