//! Pure types of imgbatch: ids, statuses, the parsed cells of a product row and the webhook
//! event. No I/O here; ids, statuses and quality know how they are stored.

pub mod event;
pub mod ids;
pub mod job;
pub mod product;
pub mod quality;
pub mod status;
pub mod transform;
