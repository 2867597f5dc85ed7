//! Request and image statuses, and the one rule that turns image outcomes into a request status.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Accepted; no image has started yet.
    Queued,
    /// At least one image has started and some are still pending.
    Processing,
    /// Every image succeeded.
    Completed,
    /// Every image finished and some failed.
    CompletedWithErrors,
    /// Every image failed.
    Failed,
}

impl RequestStatus {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::CompletedWithErrors => "completed_with_errors",
            Self::Failed => "failed",
        }
    }

    /// Reads a stored name; unknown names read as `processing` so a request is never shown finished by mistake.
    pub fn parse(s: &str) -> Self {
        match s {
            "queued" => Self::Queued,
            "completed" => Self::Completed,
            "completed_with_errors" => Self::CompletedWithErrors,
            "failed" => Self::Failed,
            _ => Self::Processing,
        }
    }

    /// True once every image has finished.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::CompletedWithErrors | Self::Failed)
    }

    /// The final status of a request whose images have all finished.
    pub fn final_from(succeeded: u64, failed: u64) -> Self {
        match (succeeded, failed) {
            (_, 0) => Self::Completed,
            (0, _) => Self::Failed,
            _ => Self::CompletedWithErrors,
        }
    }
}

/// Where one image stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImageStatus {
    /// Waiting, downloading or compressing.
    Pending,
    /// Compressed and stored; `output_url` points at it.
    Succeeded,
    /// Given up; `error` says why.
    Failed,
}

impl ImageStatus {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Self {
        match s {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// How many products and images a request has, and how its images stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Counts {
    /// Product rows in the CSV.
    pub products: u64,
    /// Input images over all products.
    pub images: u64,
    /// Images not finished yet.
    pub pending: u64,
    /// Images compressed and stored.
    pub succeeded: u64,
    /// Images given up on.
    pub failed: u64,
}

impl Counts {
    /// Counts from the stored totals.
    pub fn new(products: u64, images: u64, succeeded: u64, failed: u64) -> Self {
        let pending = images.saturating_sub(succeeded + failed);
        Self { products, images, pending, succeeded, failed }
    }

    /// Finished images as a whole percentage (100 for a request without images).
    pub fn progress(&self) -> u8 {
        if self.images == 0 {
            return 100;
        }
        ((self.succeeded + self.failed) * 100 / self.images) as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_status_follows_the_outcomes() {
        assert_eq!(RequestStatus::final_from(3, 0), RequestStatus::Completed);
        assert_eq!(RequestStatus::final_from(2, 1), RequestStatus::CompletedWithErrors);
        assert_eq!(RequestStatus::final_from(0, 3), RequestStatus::Failed);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in [
            RequestStatus::Queued,
            RequestStatus::Processing,
            RequestStatus::Completed,
            RequestStatus::CompletedWithErrors,
            RequestStatus::Failed,
        ] {
            assert_eq!(RequestStatus::parse(s.as_str()), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn progress_counts_finished_images() {
        let c = Counts::new(2, 4, 1, 1);
        assert_eq!(c.pending, 2);
        assert_eq!(c.progress(), 50);
    }
}
