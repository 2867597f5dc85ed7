//! What happens to one image: fetch → compress → store → record → finalize. Nothing here knows
//! about HTTP handlers or the job queue's library; jobs call [`process_image`].

pub mod compress;
pub mod error;
pub mod fetch;
pub mod finalize;
pub mod intake;
pub mod recover;

use std::time::Duration;

use anyhow::Context;

use self::{
    compress::{Compressed, Limits},
    error::{JobError, ResultExt},
};
use crate::{
    db::{self, entities::image, images::Outcome},
    domain::{ids::ImageId, status::ImageStatus},
    metrics::Metrics,
    state::AppState,
    storage::StorageKey,
};

/// Attempts at one image before a transient failure becomes final.
pub const MAX_IMAGE_ATTEMPTS: i32 = 4;

/// Delay before retry number `attempt` (1-based) of a transient failure: 1 s, 4 s, 16 s…
pub fn retry_delay(attempt: i32) -> Duration {
    Duration::from_secs(4u64.saturating_pow(attempt.saturating_sub(1) as u32)).min(Duration::from_secs(300))
}

/// Processes one image job. Safe to run twice: a finished image is left alone. The error is
/// for failures of our own parts (database, store, queue), which the queue retries.
pub async fn process_image(state: &AppState, id: ImageId) -> anyhow::Result<()> {
    let Some((img, request)) = db::images::load(&state.db, id).await? else {
        return Ok(());
    };
    if ImageStatus::parse(&img.status) != ImageStatus::Pending {
        return Ok(());
    }
    let started = std::time::Instant::now();
    db::requests::mark_processing(&state.db, &request.id).await?;
    let attempt = db::images::bump_attempts(&state.db, &img.id).await?;
    let quality = request.quality.clamp(1, 100) as u8;
    let outcome = match attempt_image(state, &img, quality).await {
        Ok(outcome) => outcome,
        Err(JobError::Permanent(error)) => Outcome::Failed { error },
        Err(JobError::Retry(error)) if attempt < MAX_IMAGE_ATTEMPTS => {
            tracing::info!(image = %id, attempt, %error, "transient failure; retrying");
            return state.queue.push_image_after(id, retry_delay(attempt)).await;
        }
        Err(JobError::Retry(error)) => Outcome::Failed { error: format!("{error} (gave up after {attempt} attempts)") },
    };
    let counter = match outcome {
        Outcome::Succeeded { .. } => &state.metrics.images_succeeded,
        Outcome::Failed { .. } => &state.metrics.images_failed,
    };
    if finalize::record_outcome(state, &img, outcome).await? {
        Metrics::inc(counter);
        state.metrics.processing.observe(started.elapsed());
    }
    Ok(())
}

async fn attempt_image(state: &AppState, img: &image::Model, quality: u8) -> Result<Outcome, JobError> {
    let config = &state.config;
    let url = url::Url::parse(&img.input_url).permanent()?;
    let download = std::time::Instant::now();
    let input = fetch::fetch(&state.image_http, &url, config.max_image_bytes.0, config.allow_private_urls).await;
    state.metrics.download.observe(download.elapsed());
    let input = input?;
    let input_bytes = input.len() as u64;
    let limits = Limits {
        max_pixels: config.max_image_pixels,
        // RGBA at the pixel limit, plus room for one rotation.
        max_alloc_bytes: config.max_image_pixels.saturating_mul(8),
    };
    let compressed: Compressed = state
        .run_cpu(move || compress::compress(&input, quality, &limits))
        .await
        .context("the compression task stopped")
        .retry()?
        .permanent()?;
    let key = StorageKey::for_jpeg(&compressed.bytes);
    let output_bytes = compressed.bytes.len() as u64;
    state.storage.put(&key, compressed.bytes.into()).await.map_err(|e| JobError::Retry(format!("{e:#}")))?;
    Ok(Outcome::Succeeded {
        output_key: key.as_str().to_owned(),
        input_bytes,
        output_bytes,
        width: compressed.width,
        height: compressed.height,
    })
}
