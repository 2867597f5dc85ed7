//! The service as its clients meet it, against the real `imgbatch serve` binary.
//!
//! Ingest: for each database (SQLite, and PostgreSQL when reachable) and each shape (100,000 rows
//! of one URL, 100,000 rows of five) a fresh service takes one big CSV while other clients keep
//! reading another request's status and making small uploads. Printed: seconds to 202, rows/s,
//! the service's peak RSS, the status reads' p50/p99 and every failed read or upload. The images
//! point at a local server that answers each with a small PNG, so the workers write to the
//! database during the ingest as they would.
//!
//! Status API: `GET /api/v1/requests/{id}` with an API key, loaded by `wrk` (from Debian) with one
//! thread and 64 connections for 10 s: requests/s and p50/p99.
//!
//! Run with `cargo bench --bench service`. Settings: `IMGBATCH_BENCH_ROWS` (default 100000),
//! `IMGBATCH_BENCH_POSTGRES_URL` (an admin URL; default `postgres://postgres@127.0.0.1:5432/test`;
//! a fresh database is made and dropped beside it; empty for SQLite only),
//! `IMGBATCH_BENCH_STATUS_SECS` (default 10).

#[path = "../common/mod.rs"]
mod common;
mod service;
mod status;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use common::{Latencies, env_number};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;
use service::{Service, big_csv, serve_image};
use status::status_api;

/// A bound on each upload, so that a stalled service fails the bench instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(300);

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("service bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let rows = env_number("IMGBATCH_BENCH_ROWS", 100_000)?;
    println!("service bench on {}", common::machine());
    let scratch = tempfile::tempdir()?;
    let (mut figures, mut ingests) = (serde_json::json!({}), Vec::new());
    if let Some(status) = status_api(scratch.path(), 64, env_number("IMGBATCH_BENCH_STATUS_SECS", 10)?).await? {
        println!(
            "status API: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms (wrk, 1 thread, 64 connections){}",
            status.per_sec, status.p50_ms, status.p99_ms, status.errors
        );
        figures["status_api"] = serde_json::json!({
            "requests_per_second": status.per_sec, "p50_ms": status.p50_ms, "p99_ms": status.p99_ms,
            "connections": 64, "errors": status.errors,
        });
    }
    let images = serve_image().await?;
    let admin = std::env::var("IMGBATCH_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let postgres = match admin.as_str() {
        "" => None,
        _ => match Database::connect(&admin).await {
            Ok(db) => Some(db),
            Err(e) => {
                println!("PostgreSQL at {admin} unreachable ({e}): its rows are left out");
                None
            }
        },
    };
    println!(
        "{:<10} {:>9} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "database", "rows", "urls/row", "to 202 s", "rows/s", "peak MiB", "read p50", "read p99", "failed"
    );
    for per_row in [1, 5] {
        let csv = big_csv(rows, per_row, images);
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}/imgbatch.db?mode=rwc", dir.path().display());
        ingests.push(report("sqlite", rows, per_row, ingest(&sqlite, dir.path(), &csv, images).await?));
        if let Some(admin_db) = &postgres {
            let name = format!("imgbatch_bench_{}", std::process::id());
            admin_db.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            let url = admin.rsplit_once('/').map(|(base, _)| format!("{base}/{name}")).context("postgres URL")?;
            let run = ingest(&url, dir.path(), &csv, images).await;
            admin_db.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await?;
            ingests.push(report("postgresql", rows, per_row, run?));
        }
    }
    figures["ingest"] = ingests.into();
    common::write_json("service", figures)
}

/// What one ingest measured.
struct Ingest {
    accepted_in: Duration,
    peak_rss_mib: f64,
    reads: Latencies,
    failures: Vec<String>,
}

/// Prints one ingest's row and gives its figures.
fn report(database: &str, rows: usize, per_row: usize, mut run: Ingest) -> Value {
    let secs = run.accepted_in.as_secs_f64();
    println!(
        "{database:<10} {rows:>9} {per_row:>8} {secs:>9.2} {:>10.0} {:>9.0} {:>7.1}ms {:>7.1}ms {:>7}",
        rows as f64 / secs,
        run.peak_rss_mib,
        run.reads.quantile_ms(0.50),
        run.reads.quantile_ms(0.99),
        run.failures.len(),
    );
    for failure in run.failures.iter().take(5) {
        println!("    {failure}");
    }
    serde_json::json!({
        "database": database, "rows": rows, "urls_per_row": per_row, "seconds_to_202": secs,
        "rows_per_second": rows as f64 / secs, "peak_rss_mib": run.peak_rss_mib,
        "status_read_p50_ms": run.reads.quantile_ms(0.50), "status_read_p99_ms": run.reads.quantile_ms(0.99),
        "failed_reads_or_uploads": run.failures.len(),
    })
}

/// Starts a service on `database_url`, uploads `csv` while other clients read and upload, and
/// stops the service.
async fn ingest(database_url: &str, dir: &Path, csv: &str, images: std::net::SocketAddr) -> anyhow::Result<Ingest> {
    let service = Arc::new(Service::start(database_url, dir, false).await?);
    let small = format!("S. No.,Product Name,Input Image Urls\n1,Mug,http://{images}/a.png\n");
    let watched = service.upload(&small).await?["request_id"].as_str().context("request_id")?.to_owned();

    let done = Arc::new(AtomicBool::new(false));
    let sampler = common::sample_rss(service.pid, done.clone());
    let reader = {
        let (service, done) = (service.clone(), done.clone());
        let url = format!("{}/api/v1/requests/{watched}", service.base);
        tokio::spawn(async move {
            let (mut reads, mut failures) = (Latencies::default(), Vec::new());
            while !done.load(Ordering::Relaxed) {
                let start = Instant::now();
                match service.http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => reads.push(start.elapsed()),
                    Ok(r) => {
                        failures.push(format!("status read: {} {}", r.status(), r.text().await.unwrap_or_default()))
                    }
                    Err(e) => failures.push(format!("status read: {e}")),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (reads, failures)
        })
    };
    let uploader = {
        let (service, done) = (service.clone(), done.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Err(e) = service.upload(&small).await {
                    failures.push(format!("small upload: {e:#}"));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            failures
        })
    };
    let start = Instant::now();
    let big = tokio::time::timeout(DEADLINE, service.upload(csv)).await.context("the big upload stalled")?;
    let accepted_in = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let peak_rss_mib = sampler.join().unwrap_or(0.0).max(common::status_mib(service.pid, "VmHWM:"));
    let (reads, mut failures) = reader.await?;
    failures.extend(uploader.await?);
    big.context("the big upload")?;
    Ok(Ingest { accepted_in, peak_rss_mib, reads, failures })
}
