//! SeaORM entities, one per table of `migration/`.

pub mod image;
pub mod product;
pub mod request;
pub mod setting;
pub mod webhook_attempt;
pub mod webhook_delivery;
