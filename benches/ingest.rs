//! Ingest: how long the real `imgbatch serve` binary takes to answer 202 to a big CSV, and what it
//! costs meanwhile. For each database (SQLite, and PostgreSQL when reachable) and each shape
//! (100,000 rows of one URL, 100,000 rows of five) it starts a fresh service, uploads the CSV,
//! and while that upload runs keeps reading another request's status and making small uploads,
//! as other clients would. Printed: seconds to 202, rows/s, the service's peak RSS, status reads'
//! p50/p99 and any failed read or upload. The images point at a local server that answers every
//! one with a small PNG, so the workers write to the database during the ingest as they would.
//!
//! Run with `cargo bench --bench ingest`. Settings: `IMGBATCH_BENCH_ROWS` (default 100000),
//! `IMGBATCH_BENCH_POSTGRES_URL` (an admin URL; default `postgres://postgres@127.0.0.1:5432/test`;
//! a fresh database is made and dropped beside it).

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::{Router, http::header, routing::get};
use common::{Latencies, env_number};
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

/// A bound on each upload, so that a stalled service fails the bench instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(300);

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let rows = env_number("IMGBATCH_BENCH_ROWS", 100_000)?;
    println!("ingest bench on {}", common::machine());
    let images = serve_image().await?;
    let admin = std::env::var("IMGBATCH_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let postgres = match Database::connect(&admin).await {
        Ok(db) => Some(db),
        Err(e) => {
            println!("PostgreSQL at {admin} unreachable ({e}): its rows are left out");
            None
        }
    };
    println!(
        "{:<10} {:>9} {:>8} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "database", "rows", "urls/row", "to 202 s", "rows/s", "peak MiB", "read p50", "read p99", "failed"
    );
    for per_row in [1, 5] {
        let csv = big_csv(rows, per_row, images);
        let dir = tempfile::tempdir()?;
        let sqlite = format!("sqlite://{}/imgbatch.db?mode=rwc", dir.path().display());
        report("sqlite", rows, per_row, ingest(&sqlite, dir.path(), &csv, images).await?);
        if let Some(admin_db) = &postgres {
            let name = format!("imgbatch_bench_{}", std::process::id());
            admin_db.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
            let url = admin.rsplit_once('/').map(|(base, _)| format!("{base}/{name}")).context("postgres URL")?;
            let run = ingest(&url, dir.path(), &csv, images).await;
            admin_db.execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)")).await?;
            report("postgresql", rows, per_row, run?);
        }
    }
    Ok(())
}

/// What one ingest measured.
struct Ingest {
    accepted_in: Duration,
    peak_rss_mib: f64,
    reads: Latencies,
    failures: Vec<String>,
}

fn report(database: &str, rows: usize, per_row: usize, mut run: Ingest) {
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
}

/// Starts a service on `database_url`, uploads `csv` while other clients read and upload, and
/// stops the service.
async fn ingest(database_url: &str, dir: &Path, csv: &str, images: std::net::SocketAddr) -> anyhow::Result<Ingest> {
    let run = tempfile::tempdir_in(dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"))
        .arg("serve")
        .current_dir(run.path())
        .env("IMGBATCH_BIND", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", database_url)
        .env("IMGBATCH_STORAGE", run.path().join("files"))
        .env("IMGBATCH_QUEUE_FILE", run.path().join("queue.db"))
        .env("IMGBATCH_AUTH", "off")
        .env("IMGBATCH_ALLOW_PRIVATE_URLS", "true")
        .env("IMGBATCH_RATE_UPLOADS", "100000")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting imgbatch serve")?;
    let pid = service.id().context("the service's pid")?;
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await?;
    let small = format!("S. No.,Product Name,Input Image Urls\n1,Mug,http://{images}/a.png\n");
    let watched = upload(&http, &base, &small).await?["request_id"].as_str().context("request_id")?.to_owned();

    let done = Arc::new(AtomicBool::new(false));
    let sampler = common::sample_rss(pid, done.clone());
    let reader = {
        let (http, url, done) = (http.clone(), format!("{base}/api/v1/requests/{watched}"), done.clone());
        tokio::spawn(async move {
            let (mut reads, mut failures) = (Latencies::default(), Vec::new());
            while !done.load(Ordering::Relaxed) {
                let start = Instant::now();
                match http.get(&url).send().await {
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
        let (http, base, done) = (http.clone(), base.clone(), done.clone());
        tokio::spawn(async move {
            let mut failures = Vec::new();
            while !done.load(Ordering::Relaxed) {
                if let Err(e) = upload(&http, &base, &small).await {
                    failures.push(format!("small upload: {e:#}"));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            failures
        })
    };
    let start = Instant::now();
    let big = tokio::time::timeout(DEADLINE, upload(&http, &base, csv)).await.context("the big upload stalled")?;
    let accepted_in = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let peak_rss_mib = sampler.join().unwrap_or(0.0).max(common::status_mib(pid, "VmHWM:"));
    let (reads, mut failures) = reader.await?;
    failures.extend(uploader.await?);
    big.context("the big upload")?;
    let _ = service.kill().await;
    Ok(Ingest { accepted_in, peak_rss_mib, reads, failures })
}

async fn wait_ready(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the service at {base} was not ready within 60 s")
}

/// Uploads `csv`; the answer's JSON when it is 202.
async fn upload(http: &reqwest::Client, base: &str, csv: &str) -> anyhow::Result<Value> {
    let part = reqwest::multipart::Part::text(csv.to_owned()).file_name("products.csv").mime_str("text/csv")?;
    let form = reqwest::multipart::Form::new().part("file", part);
    let answer = http.post(format!("{base}/api/v1/requests")).multipart(form).send().await?;
    let status = answer.status();
    if status != reqwest::StatusCode::ACCEPTED {
        bail!("{status}: {}", answer.text().await.unwrap_or_default());
    }
    Ok(answer.json().await?)
}

/// `rows` products of `per_row` image URLs each, every URL distinct.
fn big_csv(rows: usize, per_row: usize, images: std::net::SocketAddr) -> String {
    use std::fmt::Write;
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for row in 1..=rows {
        let _ = write!(csv, "{row},Product number {row},\"");
        for i in 0..per_row {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(csv, "{comma}http://{images}/catalogue/{row}/{i}.png");
        }
        csv.push_str("\"\n");
    }
    csv
}

/// Answers every path with one small PNG, on 127.0.0.1.
async fn serve_image() -> anyhow::Result<std::net::SocketAddr> {
    let mut png = std::io::Cursor::new(Vec::new());
    let pixels = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    pixels.write_to(&mut png, image::ImageFormat::Png)?;
    let png = bytes::Bytes::from(png.into_inner());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(get(move || {
        let png = png.clone();
        async move { ([(header::CONTENT_TYPE, "image/png")], png) }
    }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
