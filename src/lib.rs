//! imgbatch: a merchant's product CSV in, compressed product images and a signed webhook out.
//!
//! The modules follow the data: `api` (upload) → `manifest` (parse) → `db` (insert) → `queue` →
//! `pipeline` (fetch, compress, store, finalize) → `webhook` (sign, deliver). `auth` says which
//! tenant a call acts for; `limits` counts what each tenant and client may do.

pub mod api;
pub mod auth;
pub mod cli;
pub mod client;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod limits;
pub mod manifest;
pub mod metrics;
pub mod net;
pub mod outage;
pub mod pipeline;
pub mod progress;
pub mod queue;
pub mod retention;
pub mod server;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod urls;
pub mod webhook;

pub use config::Config;
pub use startup::Application;
