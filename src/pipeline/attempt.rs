//! How an attempt at an image ended, and the one decision about what happens next: record the
//! outcome, try again after a while, or give up. Nothing else in imgbatch decides whether an image
//! is retried; the queue adapter only carries the verdict out.

use std::time::Duration;

use crate::{
    db::images::{Outcome, Stored},
    outage::{Outages, Part},
};

/// Attempts at one image that may fail through its own server before it is given up on.
pub const MAX_IMAGE_ATTEMPTS: i32 = 4;

/// How one attempt at an image ended.
#[derive(Debug)]
pub enum Attempt {
    /// Compressed and stored.
    Done(Stored),
    /// The image's fault, for good: 404, not an image, over a limit, a refused address.
    Permanent(String),
    /// The image's fault, perhaps passing: connect error, timeout, 5xx, 429.
    Transient(String),
    /// Ours: a part of imgbatch failed (database, store, queue, a panic).
    Ours(Part, anyhow::Error),
}

/// What to do after an attempt.
#[derive(Debug)]
pub enum Verdict {
    /// The image is finished: record this outcome (success, or failure for good).
    Record(Outcome),
    /// Try the image again after `after`.
    Retry {
        /// How long to wait.
        after: Duration,
        /// Whether this attempt counts towards [`MAX_IMAGE_ATTEMPTS`] (only the image's own faults do).
        counted: bool,
    },
}

/// The verdict on `attempt`, for an image whose server already failed `failed_before` times.
pub fn decide(attempt: Attempt, failed_before: i32, outages: &Outages) -> Verdict {
    match attempt {
        Attempt::Done(stored) => Verdict::Record(Outcome::Succeeded(stored)),
        Attempt::Permanent(error) => Verdict::Record(Outcome::Failed { error }),
        Attempt::Transient(error) => {
            let failed = failed_before.saturating_add(1);
            if failed < MAX_IMAGE_ATTEMPTS {
                tracing::info!(attempt = failed, %error, "transient failure; retrying");
                Verdict::Retry { after: transient_delay(failed), counted: true }
            } else {
                Verdict::Record(Outcome::Failed { error: format!("{error} (gave up after {failed} attempts)") })
            }
        }
        Attempt::Ours(part, error) => Verdict::Retry { after: retry_after_ours(part, &error, outages), counted: false },
    }
}

/// The wait after a failure of our own `part`, which never counts against the image: the
/// outage's current wait (see [`Outages::down`]), for as long as the outage lasts.
pub fn retry_after_ours(part: Part, error: &anyhow::Error, outages: &Outages) -> Duration {
    outages.down(part, error)
}

/// Wait before looking again at an image whose upload is not accepted yet: its jobs are queued
/// just before the upload is marked accepted, so a job that comes early waits a second; one whose
/// upload died waits longer and longer, until the recovery pass removes the upload.
pub fn wait_for_intake(age: Duration) -> Duration {
    age.clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Wait after the `failed`-th transient failure (1-based): 1 s, 4 s, 16 s. An image server that is
/// overloaded or restarting gets a little longer each time.
fn transient_delay(failed: i32) -> Duration {
    Duration::from_secs(4u64.saturating_pow(failed.saturating_sub(1) as u32)).min(Duration::from_secs(300))
}

/// Adapters that classify an error where it happens.
pub trait ResultExt<T> {
    /// A failure here is the image's, and may pass.
    fn transient(self) -> Result<T, Attempt>;
    /// A failure here is the image's, for good.
    fn permanent(self) -> Result<T, Attempt>;
    /// A failure here is of our own `part`.
    fn ours(self, part: Part) -> Result<T, Attempt>;
}

impl<T, E: Into<anyhow::Error>> ResultExt<T> for Result<T, E> {
    fn transient(self) -> Result<T, Attempt> {
        self.map_err(|e| Attempt::Transient(format!("{:#}", e.into())))
    }
    fn permanent(self) -> Result<T, Attempt> {
        self.map_err(|e| Attempt::Permanent(format!("{:#}", e.into())))
    }
    fn ours(self, part: Part) -> Result<T, Attempt> {
        self.map_err(|e| Attempt::Ours(part, e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outages() -> Outages {
        Outages::new(Duration::from_secs(30))
    }

    #[test]
    fn the_image_server_failing_is_retried_three_times_then_given_up() {
        let o = outages();
        let delays: Vec<Duration> = (0..3)
            .map(|before| match decide(Attempt::Transient("503".into()), before, &o) {
                Verdict::Retry { after, counted: true } => after,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [Duration::from_secs(1), Duration::from_secs(4), Duration::from_secs(16)]);
        match decide(Attempt::Transient("503".into()), 3, &o) {
            Verdict::Record(Outcome::Failed { error }) => assert_eq!(error, "503 (gave up after 4 attempts)"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn our_own_failures_never_count_against_the_image_however_often() {
        let o = outages();
        for before in [0, 3, 1000] {
            let v = decide(Attempt::Ours(Part::Storage, anyhow::anyhow!("refused")), before, &o);
            assert!(matches!(v, Verdict::Retry { counted: false, .. }), "{v:?}");
        }
        assert!(o.is_down(Part::Storage));
    }

    #[test]
    fn permanent_failures_are_recorded_at_once() {
        let v = decide(Attempt::Permanent("404".into()), 0, &outages());
        assert!(matches!(v, Verdict::Record(Outcome::Failed { .. })), "{v:?}");
    }
}
