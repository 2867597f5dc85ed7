//! The merchant's CSV, in (parse) and out (render).

pub mod header;
pub mod parse;
pub mod problem;
pub mod render;

pub use parse::{Limits, Manifest, ManifestError, Product, parse};
pub use problem::{CsvProblem, MAX_PROBLEMS};
pub use render::{OutputRow, render};
