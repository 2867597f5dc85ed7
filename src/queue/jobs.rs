//! Jobs carry ids only; their handlers reload state, so running a job twice is harmless.

use serde::{Deserialize, Serialize};

use crate::domain::ids::{DeliveryId, ImageId};

/// Download, compress and store one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessImage {
    /// The image to process.
    pub image_id: ImageId,
}

/// Make the next attempt at a webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverWebhook {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Attempts already made when this job was queued; only that attempt's successor is made.
    pub attempt: i32,
}
