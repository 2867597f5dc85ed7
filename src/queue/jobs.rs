//! Jobs carry ids only; their handlers reload state, so running a job twice is harmless.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{DeliveryId, ImageId, TenantId};

/// Download, compress and store one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessImage {
    /// The image to process.
    pub image_id: ImageId,
    /// Its tenant, whose window the worker tops up once the image has finished (absent in jobs
    /// queued before windows existed: the recovery pass tops those tenants up).
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
}

/// Make the next attempt at a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverWebhook {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Attempts already made when this job was queued; only that attempt's successor is made.
    pub attempt: i32,
}
