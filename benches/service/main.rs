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
//! Idle: every process imgbatch runs as (`serve` on SQLite; `serve`, `serve --no-workers` and
//! `worker` on PostgreSQL and Redis) left alone for `IMGBATCH_BENCH_IDLE_SECS` (default 60): the
//! share of a core each used, then how soon each setup fetched the image of a new upload.
//!
//! Run with `cargo bench --bench service`. Settings: `IMGBATCH_BENCH_ROWS` (default 100000),
//! `IMGBATCH_BENCH_POSTGRES_URL` (an admin URL; default `postgres://postgres@127.0.0.1:5432/test`;
//! a fresh database is made and dropped beside it; empty for SQLite only),
//! `IMGBATCH_BENCH_REDIS_URL` (default `redis://127.0.0.1:6379/`; empty to leave out the Redis
//! setups), `IMGBATCH_BENCH_STATUS_SECS` (default 10).

#[path = "../common/mod.rs"]
mod common;
mod idle;
mod service;
mod status;
mod summary;

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
    let postgres = Postgres::connect().await?;
    let redis_url = std::env::var("IMGBATCH_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let servers = match (&postgres, redis_url.as_str()) {
        (Some(postgres), url) if !url.is_empty() => Some(idle::Servers { postgres, redis_url: url.to_owned() }),
        _ => None,
    };
    let idle_secs = env_number("IMGBATCH_BENCH_IDLE_SECS", 60)?;
    let (processes, wakes) = idle::idle(scratch.path(), servers, idle_secs as u64, 5).await?;
    println!("idle over {idle_secs} s, nothing queued (target under 1% of a core each):");
    for p in &processes {
        println!("  {:<42} {:>6.2}% of a core", p.name, p.cpu_percent);
    }
    println!("new work: upload of one image to the worker's fetch of it (target within 250 ms):");
    for w in &wakes {
        let ms: Vec<String> = w.ms.iter().map(|m| format!("{m:.0}")).collect();
        println!("  {:<42} max {:>4.0} ms ({} ms)", w.setup, w.max_ms(), ms.join(", "));
    }
    figures["idle"] = processes
        .iter()
        .map(|p| serde_json::json!({"process": p.name, "cpu_percent_of_a_core": p.cpu_percent, "seconds": idle_secs}))
        .collect::<Vec<_>>()
        .into();
    figures["wake"] = wakes
        .iter()
        .map(|w| serde_json::json!({"setup": w.setup, "upload_to_fetch_ms": w.ms, "max_ms": w.max_ms()}))
        .collect::<Vec<_>>()
        .into();
    let images = serve_image(None).await?;
    println!(
        "{:<10} {:>9} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "database", "rows", "urls/row", "to 202 s", "rows/s", "peak MiB", "read p50", "read p99", "failed"
    );
    for per_row in [1, 5] {
        let csv = big_csv(rows, per_row, images);
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}/imgbatch.db?mode=rwc", dir.path().display());
        ingests.push(report("sqlite", rows, per_row, ingest(&sqlite, dir.path(), &csv, images).await?));
        if let Some(postgres) = &postgres {
            let url = postgres.create("ingest").await?;
            let run = ingest(&url, dir.path(), &csv, images).await;
            postgres.drop_database("ingest").await?;
            ingests.push(report("postgresql", rows, per_row, run?));
        }
    }
    figures["ingest"] = ingests.into();
    common::write_json("service", figures.clone())?;
    common::write_json("summary", summary::summary(&figures))
}

/// The PostgreSQL server of `IMGBATCH_BENCH_POSTGRES_URL`, on which each run makes a fresh
/// database of its own.
pub struct Postgres {
    admin: sea_orm::DatabaseConnection,
    url: String,
}

impl Postgres {
    /// Connects, or says why not and gives `None` (unreachable, or the setting empty).
    async fn connect() -> anyhow::Result<Option<Self>> {
        let url = std::env::var("IMGBATCH_BENCH_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        if url.is_empty() {
            return Ok(None);
        }
        match Database::connect(&url).await {
            Ok(admin) => Ok(Some(Self { admin, url })),
            Err(e) => {
                println!("PostgreSQL at {url} unreachable ({e}): its rows are left out");
                Ok(None)
            }
        }
    }

    fn name(suffix: &str) -> String {
        format!("imgbatch_bench_{}_{suffix}", std::process::id())
    }

    /// Makes the database `suffix` names and gives its URL.
    pub async fn create(&self, suffix: &str) -> anyhow::Result<String> {
        self.admin.execute_unprepared(&format!("CREATE DATABASE {}", Self::name(suffix))).await?;
        let base = self.url.rsplit_once('/').map(|(base, _)| base).context("postgres URL")?;
        Ok(format!("{base}/{}", Self::name(suffix)))
    }

    /// Drops the database `suffix` names, with whoever is still connected.
    pub async fn drop_database(&self, suffix: &str) -> anyhow::Result<()> {
        self.admin.execute_unprepared(&format!("DROP DATABASE {} WITH (FORCE)", Self::name(suffix))).await?;
        Ok(())
    }
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
