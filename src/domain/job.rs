//! A single-image job as the API shows it, and its `job.completed` webhook event, whose `data` is
//! that same view.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    ids::RequestId,
    quality::Quality,
    status::JobStatus,
    transform::{Fit, OutputFormat},
};

/// A job: what was asked, where it stands, and its result once it has one.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "job_id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
    "status": "succeeded",
    "created_at": "2026-12-02T10:00:00Z",
    "completed_at": "2026-12-02T10:00:01Z",
    "options": {"width": 256, "height": 256, "fit": "cover", "format": "webp", "quality": 50,
        "webhook_url": null, "source_url": null},
    "result": {"url": "http://127.0.0.1:8080/files/5f1c…e9.webp", "format": "webp", "width": 256, "height": 256,
        "bytes": 8113, "input_bytes": 2480112},
    "error": null,
    "status_url": "http://127.0.0.1:8080/api/v1/jobs/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
    "result_url": "http://127.0.0.1:8080/api/v1/jobs/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/result"
}))]
pub struct JobView {
    /// The job id.
    #[schema(value_type = String)]
    pub job_id: RequestId,
    /// Where it stands.
    pub status: JobStatus,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// What was asked.
    pub options: JobOptions,
    /// The stored result, once it has succeeded.
    pub result: Option<JobResult>,
    /// Why it failed, once it has.
    pub error: Option<String>,
    /// Where to follow it.
    pub status_url: String,
    /// Where its result is: a redirect to the image once it has succeeded.
    pub result_url: String,
}

/// The options of a job, as given or defaulted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobOptions {
    /// Width of the box (none: no bound).
    pub width: Option<u32>,
    /// Height of the box (none: no bound).
    pub height: Option<u32>,
    /// How the image goes into the box.
    pub fit: Fit,
    /// What the result is written as.
    pub format: OutputFormat,
    /// Encoder quality (JPEG and WebP).
    #[schema(value_type = u8)]
    pub quality: Quality,
    /// Where its `job.completed` event goes.
    pub webhook_url: Option<String>,
    /// The URL the image was fetched from; none for an uploaded image.
    pub source_url: Option<String>,
}

/// A job's stored result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobResult {
    /// Where to download it.
    pub url: String,
    /// Its format.
    pub format: OutputFormat,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// Its size in bytes.
    pub bytes: u64,
    /// The input's size in bytes.
    pub input_bytes: u64,
}

/// The body of a job's completion webhook.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct JobCompleted {
    /// Always `job.completed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the job finished.
    pub timestamp: DateTime<Utc>,
    /// The job, as `GET /api/v1/jobs/{id}` shows it.
    pub data: JobView,
}

impl JobCompleted {
    /// The event for a job that just finished.
    pub fn new(data: JobView) -> Self {
        Self { kind: "job.completed".into(), timestamp: data.completed_at.unwrap_or_else(Utc::now), data }
    }
}
