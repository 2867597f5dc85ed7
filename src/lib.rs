//! imgbatch: a merchant's product CSV in, compressed product images and a signed webhook out.
//!
//! The modules follow the data: `api` (upload) → `manifest` (parse) → `db` (insert) → `queue` →
//! `pipeline` (fetch, compress, store, finalize) → `webhook` (sign, deliver).

pub mod api;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod manifest;
pub mod metrics;
pub mod net;
pub mod outage;
pub mod pipeline;
pub mod queue;
pub mod server;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod urls;
pub mod webhook;

pub use config::Config;
pub use startup::Application;
