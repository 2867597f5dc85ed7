//! The `request.completed` event sent to an integrator's webhook: written into the outbox by the
//! transaction that finishes a request, sent as is by `webhook::deliver`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    ids::RequestId,
    status::{Counts, RequestStatus},
};

/// The body of the completion webhook.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "request.completed",
    "timestamp": "2026-11-25T10:00:05Z",
    "data": {
        "request_id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
        "status": "completed_with_errors",
        "counts": {"products": 2, "images": 3, "pending": 0, "succeeded": 2, "failed": 1},
        "output_csv_url": "http://127.0.0.1:8080/api/v1/requests/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/output.csv",
        "completed_at": "2026-11-25T10:00:05Z"
    }
}))]
pub struct RequestCompleted {
    /// Always `request.completed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    /// The finished request.
    pub data: CompletedData,
}

/// What the completion webhook says about the request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompletedData {
    /// The request id.
    #[schema(value_type = String)]
    pub request_id: RequestId,
    /// Its final status.
    pub status: RequestStatus,
    /// Its counts.
    pub counts: Counts,
    /// Where to download the output CSV.
    pub output_csv_url: String,
    /// When its last image finished.
    pub completed_at: DateTime<Utc>,
}

impl RequestCompleted {
    /// The event for a request that just finished.
    pub fn new(data: CompletedData) -> Self {
        Self { kind: "request.completed".into(), timestamp: data.completed_at, data }
    }
}
