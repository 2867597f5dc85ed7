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
//! a fresh database is made and dropped beside it), `IMGBATCH_BENCH_STATUS_SECS` (default 10).

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
            eprintln!("service bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let rows = env_number("IMGBATCH_BENCH_ROWS", 100_000)?;
    println!("service bench on {}", common::machine());
    let scratch = tempfile::tempdir()?;
    if let Some(status) = status_api(scratch.path(), 64, env_number("IMGBATCH_BENCH_STATUS_SECS", 10)?).await? {
        println!(
            "status API: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms (wrk, 1 thread, 64 connections){}",
            status.per_sec, status.p50_ms, status.p99_ms, status.errors
        );
    }
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

/// A running `imgbatch serve` in a directory of its own, killed when dropped.
struct Service {
    _process: tokio::process::Child,
    _dir: tempfile::TempDir,
    pid: u32,
    base: String,
    http: reqwest::Client,
    /// The API key it made on first start, with auth on.
    key: Option<String>,
}

impl Service {
    /// Starts one on `database_url` in a new directory under `dir`, and waits until it is ready.
    async fn start(database_url: &str, dir: &Path, auth: bool) -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let run = tempfile::tempdir_in(dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"))
            .arg("serve")
            .current_dir(run.path())
            .env("IMGBATCH_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("IMGBATCH_STORAGE", run.path().join("files"))
            .env("IMGBATCH_QUEUE_FILE", run.path().join("queue.db"))
            .env("IMGBATCH_AUTH", if auth { "on" } else { "off" })
            .env("IMGBATCH_ALLOW_PRIVATE_URLS", "true")
            .env("IMGBATCH_RATE_UPLOADS", "100000")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting imgbatch serve")?;
        let pid = process.id().context("the service's pid")?;
        let (tx, key) = tokio::sync::oneshot::channel();
        let mut lines = tokio::io::BufReader::new(process.stdout.take().context("stdout")?).lines();
        // Read stdout to its end, so that the service never blocks on a full pipe.
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(key) = line.trim().strip_prefix("ib_") {
                    tx.take().map(|tx| tx.send(format!("ib_{key}")));
                }
            }
        });
        let service = Self {
            _process: process,
            _dir: run,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            key: None,
        };
        service.wait_ready().await?;
        let key = if auth { Some(tokio::time::timeout(Duration::from_secs(5), key).await??) } else { None };
        Ok(Self { key, ..service })
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.http.get(format!("{}/readyz", self.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the service at {} was not ready within 60 s", self.base)
    }

    /// Uploads `csv`; the answer's JSON when it is 202.
    async fn upload(&self, csv: &str) -> anyhow::Result<Value> {
        let part = reqwest::multipart::Part::text(csv.to_owned()).file_name("products.csv").mime_str("text/csv")?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let mut request = self.http.post(format!("{}/api/v1/requests", self.base)).multipart(form);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let answer = request.send().await?;
        let status = answer.status();
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("{status}: {}", answer.text().await.unwrap_or_default());
        }
        Ok(answer.json().await?)
    }
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

/// What wrk measured of `GET /api/v1/requests/{id}`.
struct StatusApi {
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: String,
}

/// Loads `GET /api/v1/requests/{id}` with wrk (`connections` open at once, for `secs`) on a
/// fresh service on SQLite, signed in with the API key it makes on first start.
async fn status_api(dir: &Path, connections: usize, secs: usize) -> anyhow::Result<Option<StatusApi>> {
    let Some(wrk) = on_path("wrk") else {
        println!("status API: skipped, no `wrk` on PATH (Debian: apt-get install wrk)");
        return Ok(None);
    };
    let sqlite = format!("sqlite://{}/status.db?mode=rwc", dir.display());
    let service = Service::start(&sqlite, dir, true).await?;
    let key = service.key.clone().context("the service printed no API key")?;
    let small = "S. No.,Product Name,Input Image Urls\n1,Mug,http://127.0.0.1:9/a.png\n";
    let id = service.upload(small).await?["request_id"].as_str().context("request_id")?.to_owned();
    let url = format!("{}/api/v1/requests/{id}", service.base);
    // One wrk thread: the service has the other core.
    let out = tokio::process::Command::new(wrk)
        .args(["-t1", &format!("-c{connections}"), &format!("-d{secs}s"), "--latency"])
        .args(["-H", &format!("Authorization: Bearer {key}"), &url])
        .output()
        .await?;
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |prefix: &str| out.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|v| v.trim().to_owned()));
    let per_sec = field("Requests/sec:").and_then(|v| v.parse().ok()).with_context(|| format!("wrk said:\n{out}"))?;
    let errors = field("Non-2xx or 3xx responses:").map_or_else(String::new, |n| format!("{n} non-2xx answers"));
    let errors = errors + &field("Socket errors:").map_or_else(String::new, |e| format!(" socket errors: {e}"));
    Ok(Some(StatusApi {
        per_sec,
        p50_ms: field("50%").and_then(|v| wrk_ms(&v)).unwrap_or(f64::NAN),
        p99_ms: field("99%").and_then(|v| wrk_ms(&v)).unwrap_or(f64::NAN),
        errors,
    }))
}

/// A wrk duration such as `412.00us`, `1.20ms` or `1.01s`, in milliseconds.
fn wrk_ms(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let scale = match unit {
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        _ => return None,
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// The file `program` names in a directory of `PATH`, if any.
fn on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(program)).find(|p| p.is_file())
}
