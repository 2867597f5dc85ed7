//! Removing finished requests and jobs: one at a time by its owner (`DELETE`), or all finished
//! longer ago than `IMGBATCH_RETENTION` by the periodic recovery pass. Rows go a chunk of images at a time, each
//! chunk in its own short statements, so that uploads are never held up behind a large purge.
//! Stored objects are shared by content hash; one goes only with the last row that refers to it.
//! A request is hidden first, then its objects are removed before the rows that name them, so a
//! purge cut short by a crash or an outage leaves hidden rows to finish from (the same `DELETE`
//! again, or the recovery pass), not an object that nothing names. (Two known gaps: an image job
//! that stores the same bytes in the moment between the check and the delete loses its file; two
//! processes removing two requests that share an object at the same moment each keep it for the
//! other, and it stays unnamed.)

use std::{collections::BTreeSet, time::Duration};

use futures::{StreamExt, TryStreamExt};
use sea_orm::{DbErr, TransactionTrait};

use crate::{
    db,
    domain::ids::{RequestId, TenantId},
    state::AppState,
    storage::StorageKey,
};

/// Images removed per chunk.
const CHUNK: u64 = 1000;
/// Expired requests taken per query of a pass.
const BATCH: u64 = 100;
/// Most requests one pass removes; the rest wait for the next pass, a minute later.
const MOST_PER_PASS: usize = 1000;
/// Objects removed at once.
const DELETES_IN_FLIGHT: usize = 16;

/// Why a purge stopped; what it removed so far stays removed, and running it again finishes it.
#[derive(Debug, thiserror::Error)]
pub enum PurgeFailed {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The store failed.
    #[error("store: {0:#}")]
    Storage(anyhow::Error),
}

/// Removes one request or job of `tenant`, its rows, and the stored objects no other row refers
/// to. The caller has checked that it is finished (its images no longer change) or was never
/// accepted. It is hidden first: if this stops part-way it stays hidden, and calling it again (or
/// the recovery pass) finishes it.
pub async fn purge(state: &AppState, tenant: &TenantId, id: RequestId) -> Result<(), PurgeFailed> {
    db::purge::hide(&state.db, tenant, id).await?;
    loop {
        let images = db::purge::next_images(&state.db, tenant, id, CHUNK).await?;
        if images.is_empty() {
            break;
        }
        let keys: BTreeSet<String> =
            images.iter().flat_map(|i| [i.output_key.clone(), i.input_key.clone()]).flatten().collect();
        let keys: Vec<String> = keys.into_iter().collect();
        let kept = db::purge::still_referenced(&state.db, &keys, id).await?;
        let mut unshared = Vec::new();
        for key in &keys {
            if !kept.contains(key)
                && let Some(key) = StorageKey::from_stored(key)
            {
                unshared.push(key);
            }
        }
        futures::stream::iter(unshared)
            .map(|key| {
                let storage = state.storage.clone();
                async move { storage.delete(&key).await }
            })
            .buffer_unordered(DELETES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await
            .map_err(PurgeFailed::Storage)?;
        let ids: Vec<_> = images.iter().map(|i| i.id).collect();
        db::purge::delete_images(&state.db, tenant, &ids).await?;
    }
    let txn = state.db.begin().await?;
    db::purge::delete_request(&txn, tenant, id).await?;
    txn.commit().await?;
    Ok(())
}

/// Removes requests and jobs that finished more than `retention` ago (and whose webhook is no
/// longer being retried), at most [`MOST_PER_PASS`] of them; returns how many. Stops at the first
/// failure, which the next pass takes up again.
pub async fn sweep(state: &AppState, retention: Duration) -> Result<usize, PurgeFailed> {
    // A retention longer than the calendar reaches keeps everything.
    let Some(cutoff) = chrono::Duration::from_std(retention).ok().and_then(|r| db::now().checked_sub_signed(r)) else {
        return Ok(0);
    };
    let mut removed = 0;
    while removed < MOST_PER_PASS {
        let due = db::purge::expired(&state.db, cutoff, BATCH).await?;
        if due.is_empty() {
            break;
        }
        for (tenant, id) in &due {
            purge(state, tenant, *id).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes an uploaded input that no row names: one stored for a job whose rows could not be
/// written. Best effort: if the database cannot say, the input stays (unnamed, never served).
pub async fn forget_input(state: &AppState, key: &StorageKey) {
    match db::purge::is_referenced(&state.db, key.as_str()).await {
        Ok(false) => {
            if let Err(e) = state.storage.delete(key).await {
                tracing::warn!(key = key.as_str(), error = %format!("{e:#}"), "could not remove an unused input");
            }
        }
        Ok(true) => {}
        Err(e) => tracing::warn!(key = key.as_str(), error = %e, "could not check whether an input is used; it stays"),
    }
}
