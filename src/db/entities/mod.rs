//! SeaORM entities, one per table of `migration/`.

pub mod api_key;
pub mod image;
pub mod product;
pub mod request;
pub mod setting;
pub mod tenant;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_secret;
