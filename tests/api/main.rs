//! The integration suite: one binary that starts the real app on an ephemeral port with a temp
//! SQLite database and store, a local image server and a local webhook receiver.

mod accounts;
mod cli;
mod concurrency;
mod connections;
mod crash;
mod csv_validation;
mod dashboard;
mod dashboard_pages;
mod events;
mod failures;
mod fairness;
mod helpers;
mod hostile;
mod identity;
mod jobs;
mod jobs_webhooks;
mod limits;
mod multiprocess;
mod openapi;
mod outages;
mod outbound_policy;
mod processing;
mod recovery;
mod requests;
mod restart;
mod retention;
mod rotation;
mod tenancy;
mod transforms;
mod upload_properties;
mod webhook;
