//! What the API answers with, and how stored rows become it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    db::entities::{image, product, request, webhook_attempt, webhook_delivery},
    domain::{
        ids::{DeliveryId, RequestId},
        quality::Quality,
        status::{Counts, DeliveryState, ImageStatus, RequestStatus},
        transform::Transform,
    },
    urls::Urls,
};

/// Paging of a list.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Pagination {
    /// Items to skip.
    #[serde(default)]
    #[param(minimum = 0, default = 0)]
    pub offset: u64,
    /// Items to return (1–1000).
    #[serde(default = "default_limit")]
    #[param(minimum = 1, maximum = 1000, default = 100)]
    pub limit: u64,
}

/// The page size when a list call gives none.
pub(super) fn default_limit() -> u64 {
    100
}

/// The answer to an accepted upload.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "request_id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
    "status": "queued",
    "products": 2,
    "images": 3,
    "status_url": "http://127.0.0.1:8080/api/v1/requests/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
    "output_csv_url": "http://127.0.0.1:8080/api/v1/requests/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/output.csv"
}))]
pub struct RequestAccepted {
    /// The new request's id.
    #[schema(value_type = String)]
    pub request_id: RequestId,
    /// Always `queued`.
    pub status: RequestStatus,
    /// Product rows accepted.
    pub products: u64,
    /// Images queued.
    pub images: u64,
    /// Where to follow progress.
    pub status_url: String,
    /// Where the output CSV will be once the request has finished.
    pub output_csv_url: String,
}

/// A request and its progress.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "request_id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10",
    "status": "processing",
    "created_at": "2026-11-25T10:00:00Z",
    "updated_at": "2026-11-25T10:00:03Z",
    "completed_at": null,
    "webhook_url": "https://example.com/hooks/imgbatch",
    "quality": 50,
    "transform": {"width": 800, "height": null, "fit": "inside", "format": "webp"},
    "counts": {"products": 2, "images": 3, "pending": 1, "succeeded": 2, "failed": 0},
    "progress": 66,
    "output_csv_url": "http://127.0.0.1:8080/api/v1/requests/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/output.csv"
}))]
pub struct RequestOut {
    /// The request id.
    #[schema(value_type = String)]
    pub request_id: RequestId,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When its last image finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Where its completion webhook goes.
    pub webhook_url: Option<String>,
    /// JPEG and WebP quality used.
    #[schema(value_type = u8)]
    pub quality: Quality,
    /// The box its images are fitted to (none: full size), how, and their format.
    pub transform: Transform,
    /// Product and image counts.
    pub counts: Counts,
    /// Finished images in percent (0–100).
    pub progress: u8,
    /// Where the output CSV is (409 until finished).
    pub output_csv_url: String,
}

impl RequestOut {
    /// A stored request as the API shows it.
    pub fn new(r: request::Model, urls: &Urls) -> Self {
        let counts = r.counts();
        Self {
            output_csv_url: urls.output_csv(r.id),
            status: r.status,
            progress: counts.progress(),
            quality: r.quality,
            transform: r.transform(),
            request_id: r.id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            completed_at: r.completed_at,
            webhook_url: r.webhook_url,
            counts,
        }
    }
}

/// A page of requests, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RequestPage {
    /// The requests on this page.
    pub items: Vec<RequestOut>,
    /// Requests in all.
    pub total: u64,
    /// Requests skipped.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
}

/// One image of a product.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "position": 0,
    "input_url": "https://cdn.example.com/sku1/front.jpg",
    "status": "succeeded",
    "output_url": "http://127.0.0.1:8080/files/5e0c4b6f2c1a9d3e8f7b6a5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e.jpg",
    "error": null,
    "input_bytes": 812345,
    "output_bytes": 196002,
    "width": 1600,
    "height": 1200
}))]
pub struct ImageOut {
    /// 0-based position among the product's input URLs.
    pub position: u32,
    /// The URL given in the CSV.
    pub input_url: String,
    /// Where it stands.
    pub status: ImageStatus,
    /// The compressed copy, once it succeeded.
    pub output_url: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Bytes downloaded.
    pub input_bytes: Option<u64>,
    /// Bytes of the compressed copy.
    pub output_bytes: Option<u64>,
    /// Width of the compressed copy.
    pub width: Option<u32>,
    /// Height of the compressed copy.
    pub height: Option<u32>,
}

impl ImageOut {
    /// A stored image as the API shows it.
    pub fn new(i: image::Model, urls: &Urls) -> Self {
        Self {
            position: i.position as u32,
            status: i.status,
            output_url: i.output_key.as_deref().map(|k| urls.file(k)),
            input_url: i.input_url,
            error: i.error,
            input_bytes: i.input_bytes.map(|n| n as u64),
            output_bytes: i.output_bytes.map(|n| n as u64),
            width: i.width.map(|n| n as u32),
            height: i.height.map(|n| n as u32),
        }
    }
}

/// One product row and its images.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "serial_number": 1,
    "product_name": "SKU1",
    "images": [
        {"position": 0, "input_url": "https://cdn.example.com/sku1/front.jpg", "status": "succeeded",
         "output_url": "http://127.0.0.1:8080/files/5e0c4b6f2c1a9d3e8f7b6a5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e.jpg",
         "error": null, "input_bytes": 812345, "output_bytes": 196002, "width": 1600, "height": 1200},
        {"position": 1, "input_url": "https://cdn.example.com/sku1/gone.jpg", "status": "failed", "output_url": null,
         "error": "the image server answered 404 Not Found", "input_bytes": null, "output_bytes": null,
         "width": null, "height": null}
    ]
}))]
pub struct ProductOut {
    /// The CSV's `S. No.`.
    pub serial_number: i64,
    /// The CSV's `Product Name`.
    pub product_name: String,
    /// Its images, in the CSV's order.
    pub images: Vec<ImageOut>,
}

impl ProductOut {
    /// A stored product with its images as the API shows it.
    pub fn new((p, images): (product::Model, Vec<image::Model>), urls: &Urls) -> Self {
        Self {
            serial_number: p.serial_number,
            product_name: p.name,
            images: images.into_iter().map(|i| ImageOut::new(i, urls)).collect(),
        }
    }
}

/// A page of products, in file order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductPage {
    /// The products on this page.
    pub items: Vec<ProductOut>,
    /// Products in all.
    pub total: u64,
    /// Products skipped.
    pub offset: u64,
    /// Page size asked for.
    pub limit: u64,
}

/// The completion webhook of a request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "msg_01937a1f0c2b7d6e9f8a7b6c5d4e3f2a",
    "url": "https://example.com/hooks/imgbatch",
    "status": "succeeded",
    "next_attempt_at": null,
    "payload": {"type": "request.completed", "timestamp": "2026-11-25T10:00:05Z", "data": {
        "request_id": "01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10", "status": "completed",
        "counts": {"products": 2, "images": 3, "pending": 0, "succeeded": 3, "failed": 0},
        "output_csv_url": "http://127.0.0.1:8080/api/v1/requests/01937a1e-8f0c-7cc1-9a51-3c1f2d7e4b10/output.csv",
        "completed_at": "2026-11-25T10:00:05Z"}},
    "attempts": [
        {"number": 1, "attempted_at": "2026-11-25T10:00:05Z", "status_code": 503,
          "error": "the receiver answered 503", "duration_ms": 41},
        {"number": 2, "attempted_at": "2026-11-25T10:00:10Z", "status_code": 200, "error": null, "duration_ms": 38}
    ]
}))]
pub struct DeliveryOut {
    /// The `webhook-id`, the same on every attempt.
    #[schema(value_type = String)]
    pub id: DeliveryId,
    /// Where it is sent.
    pub url: String,
    /// `pending` (an attempt is queued or due), `succeeded` or `failed` (every scheduled attempt failed).
    pub status: DeliveryState,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The body sent.
    pub payload: serde_json::Value,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptOut>,
}

/// One attempt at sending a webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptOut {
    /// 1-based attempt number.
    pub number: u32,
    /// When it was made.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// What went wrong, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

impl DeliveryOut {
    /// A stored delivery and its attempts as the API shows them.
    pub fn new(d: webhook_delivery::Model, attempts: Vec<webhook_attempt::Model>) -> Self {
        Self {
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            id: d.id,
            url: d.url,
            status: d.status,
            next_attempt_at: d.next_attempt_at,
            attempts: attempts
                .into_iter()
                .map(|a| AttemptOut {
                    number: a.number as u32,
                    attempted_at: a.attempted_at,
                    status_code: a.status_code.map(|c| c as u16),
                    error: a.error,
                    duration_ms: a.duration_ms as u64,
                })
                .collect(),
        }
    }
}
