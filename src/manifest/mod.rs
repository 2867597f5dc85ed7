//! The merchant's CSV, in (parse) and out (render).

pub mod header;
pub mod parse;
pub mod render;

pub use parse::{CsvProblem, Limits, MAX_PROBLEMS, Manifest, ManifestError, Product, parse};
pub use render::{OutputRow, render};
