//! Request, job, image and delivery statuses, request kinds, and the one rule that turns image outcomes into a
//! request status. Each is stored by its name and typed in the entities: a name that is not one
//! of these is an error when the row is read, never a default.

use std::{fmt, str::FromStr};

use sea_orm::DeriveValueType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A stored status name that is none of the known ones.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown {kind} {name:?}")]
pub struct UnknownStatus {
    kind: &'static str,
    name: String,
}

/// Names, parsing and display of a status enum, from one list.
macro_rules! named {
    ($ty:ident, $kind:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
        }

        impl FromStr for $ty {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, UnknownStatus> {
                match s {
                    $($name => Ok(Self::$variant),)+
                    other => Err(UnknownStatus { kind: $kind, name: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, DeriveValueType)]
#[serde(rename_all = "snake_case")]
#[sea_orm(value_type = "String")]
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

named!(RequestStatus, "request status", {
    Queued => "queued",
    Processing => "processing",
    Completed => "completed",
    CompletedWithErrors => "completed_with_errors",
    Failed => "failed",
});

impl RequestStatus {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, DeriveValueType)]
#[serde(rename_all = "snake_case")]
#[sea_orm(value_type = "String")]
pub enum ImageStatus {
    /// Waiting, downloading or compressing.
    Pending,
    /// Compressed and stored; `output_url` points at it.
    Succeeded,
    /// Given up; `error` says why.
    Failed,
}

named!(ImageStatus, "image status", {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
});

/// Where a webhook delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, DeriveValueType)]
#[serde(rename_all = "snake_case")]
#[sea_orm(value_type = "String")]
pub enum DeliveryState {
    /// Not delivered yet; an attempt is queued or due.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Every scheduled attempt failed (a redelivery makes it pending again).
    Failed,
}

named!(DeliveryState, "delivery state", {
    Pending => "pending",
    Succeeded => "succeeded",
    Failed => "failed",
});

/// What a request row is: an uploaded CSV, or a single-image job (one product, one image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, DeriveValueType)]
#[serde(rename_all = "snake_case")]
#[sea_orm(value_type = "String")]
pub enum RequestKind {
    /// A product CSV (`/api/v1/requests`).
    Request,
    /// One image (`/api/v1/jobs`).
    Job,
}

named!(RequestKind, "request kind", {
    Request => "request",
    Job => "job",
});

/// Where a single-image job stands, as `/api/v1/jobs` shows it: its request's status, read for
/// one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Accepted; not started yet.
    Queued,
    /// Being fetched, processed or stored.
    Processing,
    /// The result is stored; `result` describes it.
    Succeeded,
    /// Given up on; `error` says why.
    Failed,
}

named!(JobStatus, "job status", {
    Queued => "queued",
    Processing => "processing",
    Succeeded => "succeeded",
    Failed => "failed",
});

impl JobStatus {
    /// The job status of a job's request status.
    pub fn of(status: RequestStatus) -> Self {
        match status {
            RequestStatus::Queued => Self::Queued,
            RequestStatus::Processing => Self::Processing,
            RequestStatus::Completed => Self::Succeeded,
            RequestStatus::CompletedWithErrors | RequestStatus::Failed => Self::Failed,
        }
    }

    /// The request statuses a job with this status can have (for filtering).
    pub fn request_statuses(self) -> &'static [RequestStatus] {
        match self {
            Self::Queued => &[RequestStatus::Queued],
            Self::Processing => &[RequestStatus::Processing],
            Self::Succeeded => &[RequestStatus::Completed],
            Self::Failed => &[RequestStatus::CompletedWithErrors, RequestStatus::Failed],
        }
    }
}

/// Who vouches for a tenant: imgbatch itself, or an outside identity provider whose tokens made
/// it on first use. An outside token is accepted only for an outside tenant, so that no
/// provider's `sub` can name an account made here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, DeriveValueType)]
#[serde(rename_all = "snake_case")]
#[sea_orm(value_type = "String")]
pub enum TenantOrigin {
    /// Registered, made by `imgbatch tenant create`, or the `admin` account.
    Local,
    /// Made on first use of a token signed by `IMGBATCH_JWT_PUBLIC_KEY`.
    External,
}

named!(TenantOrigin, "tenant origin", {
    Local => "local",
    External => "external",
});

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
            assert_eq!(s.as_str().parse::<RequestStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in [ImageStatus::Pending, ImageStatus::Succeeded, ImageStatus::Failed] {
            assert_eq!(s.as_str().parse::<ImageStatus>().unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn a_job_status_filter_matches_exactly_the_statuses_shown_as_it() {
        let all = [
            RequestStatus::Queued,
            RequestStatus::Processing,
            RequestStatus::Completed,
            RequestStatus::CompletedWithErrors,
            RequestStatus::Failed,
        ];
        for job in [JobStatus::Queued, JobStatus::Processing, JobStatus::Succeeded, JobStatus::Failed] {
            for request in all {
                assert_eq!(job.request_statuses().contains(&request), JobStatus::of(request) == job, "{job} {request}");
            }
            assert_eq!(job.as_str().parse::<JobStatus>().unwrap(), job);
        }
    }

    #[test]
    fn an_unknown_stored_name_is_an_error_not_a_default() {
        let err = "done".parse::<ImageStatus>().unwrap_err();
        assert_eq!(err.to_string(), "unknown image status \"done\"");
        assert!("".parse::<RequestStatus>().is_err());
        assert!("PENDING".parse::<DeliveryState>().is_err());
    }

    #[test]
    fn progress_counts_finished_images() {
        let c = Counts::new(2, 4, 1, 1);
        assert_eq!(c.pending, 2);
        assert_eq!(c.progress(), 50);
    }
}
