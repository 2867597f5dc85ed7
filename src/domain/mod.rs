//! Pure types of imgbatch: ids, statuses and the parsed cells of a product row. No I/O here.

pub mod ids;
pub mod product;
pub mod quality;
pub mod status;

/// The tenant every row belongs to until authentication brings more than one.
pub const DEFAULT_TENANT: &str = "default";
