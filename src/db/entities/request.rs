//! `requests`: one uploaded CSV (or one single-image job), with its image counters kept in step with its images.

use sea_orm::entity::prelude::*;

use crate::domain::{
    ids::RequestId,
    quality::Quality,
    status::{Counts, RequestKind, RequestStatus},
    transform::{Fit, OutputFormat, Transform},
};

/// One merchant request.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: RequestId,
    pub tenant_id: crate::domain::ids::TenantId,
    pub status: RequestStatus,
    /// True once every job of the request is queued; only accepted requests are shown.
    pub accepted: bool,
    /// Where to send the completion webhook, if anywhere.
    pub webhook_url: Option<String>,
    /// Encoder quality for this request's images.
    pub quality: Quality,
    /// Product rows.
    pub products: i32,
    /// Input images.
    pub images: i32,
    /// Images compressed and stored.
    pub succeeded: i32,
    /// Images given up on.
    pub failed: i32,
    /// When it was accepted.
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// When its last image finished.
    pub completed_at: Option<DateTimeUtc>,
    /// Width of the box its images are fitted to; none for no bound.
    pub box_width: Option<i32>,
    /// Height of the box its images are fitted to; none for no bound.
    pub box_height: Option<i32>,
    /// How its images go into the box.
    pub fit: Fit,
    /// What its images are written as.
    pub format: OutputFormat,
    /// A CSV request or a single-image job.
    pub kind: RequestKind,
}

impl Model {
    /// What is done to each of its images besides recompressing.
    pub fn transform(&self) -> Transform {
        let side = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
        Transform { width: side(self.box_width), height: side(self.box_height), fit: self.fit, format: self.format }
    }

    /// Its product and image counts, from the stored counters.
    pub fn counts(&self) -> Counts {
        Counts::new(self.products as u64, self.images as u64, self.succeeded as u64, self.failed as u64)
    }
}

impl ActiveModelBehavior for ActiveModel {}
