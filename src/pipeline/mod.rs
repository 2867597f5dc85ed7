//! What happens to one image: fetch → compress → store → record → finalize. Nothing here knows
//! about HTTP handlers or the job queue: [`process_image`] hands back what should happen next
//! ([`Next`]) and the queue adapter carries it out.

pub mod attempt;
pub mod compress;
pub mod fetch;
pub mod finalize;

use std::time::{Duration, Instant};

use self::{
    attempt::{Attempt, ResultExt, Verdict, decide, retry_after_ours},
    compress::Limits,
};
use crate::{
    db::{
        self,
        entities::image::{self, Source},
        images::{Outcome, Stored},
    },
    domain::{
        ids::{DeliveryId, ImageId},
        quality::Quality,
        status::ImageStatus,
        transform::Transform,
    },
    metrics::Metrics,
    outage::Part,
    state::AppState,
    storage::StorageKey,
};

/// What should happen after a job for one image.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Nothing more for this image: it is finished (now or by an earlier job). When it finished
    /// its request, the request's webhook delivery is to be queued.
    Finished {
        /// The delivery written by the transaction that finished the request.
        webhook: Option<DeliveryId>,
    },
    /// Run the image's job again after this long.
    RetryAfter(Duration),
}

/// Processes one image job. Safe to run twice: a finished image is left alone. Never fails: a
/// failure of our own parts comes back as [`Next::RetryAfter`].
pub async fn process_image(state: &AppState, id: ImageId) -> Next {
    match run(state, id).await {
        Ok(next) => next,
        Err(ours) => after_ours(state, ours),
    }
}

/// What follows a job whose body panicked: it is retried like any failure of our own parts.
pub fn after_panic(state: &AppState, id: ImageId) -> Next {
    let error = anyhow::anyhow!("the job for image {id} panicked");
    Next::RetryAfter(retry_after_ours(Part::Worker, &error, &state.outages))
}

/// A failure of our own parts before or after the attempt itself (loading, recording).
struct Ours(Part, anyhow::Error);

fn after_ours(state: &AppState, Ours(part, error): Ours) -> Next {
    Next::RetryAfter(retry_after_ours(part, &error, &state.outages))
}

/// One job; `Err` only for failures of our own parts, before or after the attempt itself.
async fn run(state: &AppState, id: ImageId) -> Result<Next, Ours> {
    let db = |e: sea_orm::DbErr| Ours(Part::of_db_error(&e), e.into());
    let loaded = db::images::load(&state.db, id).await.map_err(db)?;
    state.outages.up(Part::Database);
    let Some((img, request)) = loaded.filter(|(img, _)| img.status == ImageStatus::Pending) else {
        return Ok(Next::Finished { webhook: None });
    };
    if !request.accepted {
        let age = (db::now() - request.created_at).to_std().unwrap_or_default();
        return Ok(Next::RetryAfter(attempt::wait_for_intake(age)));
    }
    let started = Instant::now();
    db::requests::mark_processing(&state.db, &request.tenant_id, request.id).await.map_err(db)?;
    let attempt = match attempt_image(state, &img, request.quality, request.transform()).await {
        Ok(stored) => Attempt::Done(stored),
        Err(failed) => failed,
    };
    match decide(attempt, img.attempts, &state.outages) {
        Verdict::Retry { after, counted } => {
            // Another job for this image (a duplicate after a crash) counted this attempt first:
            // that one carries the image on, so that its attempts are counted once.
            if counted
                && !db::images::count_failed_attempt(&state.db, &img.tenant_id, img.id, img.attempts)
                    .await
                    .map_err(db)?
            {
                return Ok(Next::Finished { webhook: None });
            }
            Ok(Next::RetryAfter(after))
        }
        Verdict::Record(outcome) => {
            let counter = match outcome {
                Outcome::Succeeded(_) => &state.metrics.images_succeeded,
                Outcome::Failed { .. } => &state.metrics.images_failed,
            };
            let recorded = finalize::record_outcome(state, &img, outcome).await.map_err(db)?;
            if recorded.counted {
                Metrics::inc(counter);
                state.metrics.processing.observe(started.elapsed());
            }
            Ok(Next::Finished { webhook: recorded.webhook })
        }
    }
}

/// Downloads, compresses and stores one image.
async fn attempt_image(
    state: &AppState,
    img: &image::Model,
    quality: Quality,
    transform: Transform,
) -> Result<Stored, Attempt> {
    let config = &state.config;
    let input = match img.source() {
        Source::Url(url) => {
            let url = url::Url::parse(url).permanent()?;
            let download = Instant::now();
            let input =
                fetch::fetch(&state.image_http, &url, config.max_image_bytes.0, config.allow_private_urls).await;
            state.metrics.download.observe(download.elapsed());
            input?
        }
        Source::Stored(key) => read_input(state, key).await?,
    };
    let input_bytes = input.len() as u64;
    let limits = Limits::pooled(config.max_image_pixels, state.decode_memory.clone());
    let compressed = state
        .run_cpu(move || compress::compress_to(&input, quality, &transform, &limits))
        .await
        .ours(Part::Worker)?
        .permanent()?;
    state.outages.up(Part::Worker);
    let key = StorageKey::for_output(&compressed.bytes, compressed.format);
    let output_bytes = compressed.bytes.len() as u64;
    state.storage.put(&key, compressed.bytes.into()).await.ours(Part::Storage)?;
    state.outages.up(Part::Storage);
    Ok(Stored {
        output_key: key.as_str().to_owned(),
        input_bytes,
        output_bytes,
        width: compressed.width,
        height: compressed.height,
    })
}

/// An uploaded input, from the store. Gone from the store (removed by hand, or a store that lost
/// it) is the input's fault for good; a store that does not answer is ours.
async fn read_input(state: &AppState, key: &str) -> Result<bytes::Bytes, Attempt> {
    let key = StorageKey::from_stored(key).ok_or_else(|| Attempt::Permanent(format!("bad input key {key:?}")))?;
    let found = state.storage.get(&key).await.ours(Part::Storage)?;
    state.outages.up(Part::Storage);
    found.ok_or_else(|| Attempt::Permanent("the uploaded image is no longer in the store".into()))
}
