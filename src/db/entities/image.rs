//! `images`: one input URL of a product and what became of it.

use sea_orm::entity::prelude::*;

use crate::domain::{
    ids::{ImageId, ProductId, RequestId},
    status::ImageStatus,
};

/// One image.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "images")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: ImageId,
    pub tenant_id: crate::domain::ids::TenantId,
    pub request_id: RequestId,
    pub product_id: ProductId,
    /// 0-based order within the product's URLs.
    pub position: i32,
    /// The URL given by the merchant.
    pub input_url: String,
    pub status: ImageStatus,
    /// Attempts that failed through the image's own server (timeouts, 5xx, 429), which count
    /// towards giving up on it; failures of imgbatch's own parts never do.
    pub attempts: i32,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Storage key of the compressed output.
    pub output_key: Option<String>,
    /// Bytes downloaded.
    pub input_bytes: Option<i64>,
    /// Bytes stored.
    pub output_bytes: Option<i64>,
    /// Output width in pixels.
    pub width: Option<i32>,
    /// Output height in pixels.
    pub height: Option<i32>,
    pub updated_at: DateTimeUtc,
    /// True once its job has been handed to the queue (a tenant has a bounded window of these).
    pub queued: bool,
    /// Storage key of an uploaded input (a job's multipart or base64 image); none when the image
    /// is fetched from `input_url`.
    pub input_key: Option<String>,
}

/// Where an image's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source<'a> {
    /// Fetched from this URL, under the outbound policy.
    Url(&'a str),
    /// Read from the store, under this key.
    Stored(&'a str),
}

impl Model {
    /// Where its bytes come from.
    pub fn source(&self) -> Source<'_> {
        match &self.input_key {
            Some(key) => Source::Stored(key),
            None => Source::Url(&self.input_url),
        }
    }
}

impl ActiveModelBehavior for ActiveModel {}
