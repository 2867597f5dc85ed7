//! End-to-end throughput and memory of the whole service path: one CSV upload to the real
//! application, which downloads every listed image from a local image server, compresses it,
//! stores it and records it, measured from the upload to the request's final status. Run with
//! `cargo bench --bench pipeline`. Settings: `IMGBATCH_BENCH_CORPUS` (folder of images, default
//! `bench-corpus`), `IMGBATCH_BENCH_IMAGES` (images in the CSV, default 306: six passes over the
//! 51-image corpus), `IMGBATCH_BENCH_CONCURRENCY` (the service's `IMGBATCH_CONCURRENCY`, default 16).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use anyhow::{Context, bail};
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing::get};
use bytes::Bytes;
use imgbatch::{Application, Config};
use serde_json::Value;

/// Files served by the image server: name → (content type, bytes).
type Corpus = Arc<BTreeMap<String, (&'static str, Bytes)>>;

const FINAL: [&str; 3] = ["completed", "completed_with_errors", "failed"];
/// A bound on the run, so that a stalled service fails the bench instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(900);

fn main() -> ExitCode {
    imgbatch::pipeline::compress::tune_allocator();
    imgbatch::telemetry::init();
    let dir = PathBuf::from(env::var_os("IMGBATCH_BENCH_CORPUS").unwrap_or("bench-corpus".into()));
    let Some(corpus) = load_corpus(&dir) else {
        let dir = dir.display();
        println!(
            "pipeline bench skipped: no image corpus in {dir}.\nBuild it (downloads wallpaper packages from \
             Debian and a wheel from PyPI) from the repository root with\n    bash ../shared/bench/make_corpus.sh \
             {dir}\nor point IMGBATCH_BENCH_CORPUS at an existing corpus."
        );
        return ExitCode::SUCCESS;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match runtime.block_on(run(&dir, corpus)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pipeline bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(dir: &Path, corpus: Corpus) -> anyhow::Result<()> {
    let images = common::env_number("IMGBATCH_BENCH_IMAGES", 306)?;
    let concurrency = common::env_number("IMGBATCH_BENCH_CONCURRENCY", 16)?;
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    let corpus_bytes: usize = corpus.values().map(|(_, b)| b.len()).sum();
    println!(
        "pipeline bench: {images} images from {} files ({:.1} MB) in {}, concurrency {concurrency}, on {}",
        corpus.len(),
        corpus_bytes as f64 / 1e6,
        dir.display(),
        common::machine()
    );

    let names: Vec<String> = corpus.keys().cloned().collect();
    let images_at = serve_images(corpus).await?;
    let tmp = tempfile::tempdir().context("temp dir")?;
    let mut config = Config::defaults();
    config.bind = "127.0.0.1:0".parse()?;
    config.database_url = format!("sqlite://{}/imgbatch.db?mode=rwc", tmp.path().display());
    config.storage = imgbatch::storage::StorageLocation::Local(tmp.path().join("files"));
    config.allow_private_urls = true;
    config.webhook_secret = Some(imgbatch::webhook::sign::generate_secret());
    config.concurrency = u32::try_from(concurrency).context("IMGBATCH_BENCH_CONCURRENCY")?;
    // One local account, as in `imgbatch demo`: the bench measures images, not sign-in.
    config.access.auth = imgbatch::auth::settings::AuthMode::Off;
    let app = Application::build(config).await.context("building the application")?;
    let base = format!("http://{}", app.address());
    let stopper = app.stopper();
    let task = tokio::spawn(app.run_until_stopped());

    // Idle first: nothing queued, nothing served; the whole process's CPU (service and image
    // server) over the window, against the target of under 1% of one core.
    let idle_secs = common::env_number("IMGBATCH_BENCH_IDLE_SECS", 60)?;
    let idle_cpu_start = common::cpu_time();
    tokio::time::sleep(Duration::from_secs(idle_secs as u64)).await;
    let idle_cpu = common::cpu_time() - idle_cpu_start;
    let idle_share = 100.0 * idle_cpu.as_secs_f64() / idle_secs.max(1) as f64;

    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for n in 0..images {
        csv.push_str(&format!("{},SKU{},http://{images_at}/img/{}?n={n}\n", n + 1, n + 1, names[n % names.len()]));
    }
    let http = reqwest::Client::new();
    let rss_before = common::status_mib(std::process::id(), "VmRSS:");
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = common::sample_rss(std::process::id(), stop_sampling.clone());

    let (start, cpu_start) = (Instant::now(), common::cpu_time());
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("products.csv").mime_str("text/csv")?,
    );
    let response = http.post(format!("{base}/api/v1/requests")).multipart(form).send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if status != StatusCode::ACCEPTED {
        bail!("upload refused with {status}: {body}");
    }
    let id = body["request_id"].as_str().context("no request_id in the upload's answer")?.to_owned();
    let (mut next_report, mut first_done) = (Duration::from_secs(5), None);
    let request = loop {
        let request = get_json(&http, &format!("{base}/api/v1/requests/{id}")).await?;
        if first_done.is_none() && request["counts"]["pending"].as_u64() < request["counts"]["images"].as_u64() {
            first_done = Some(start.elapsed());
        }
        if FINAL.contains(&request["status"].as_str().unwrap_or_default()) {
            break request;
        }
        let elapsed = start.elapsed();
        if elapsed >= next_report {
            println!("  {:5.1} s: {}", elapsed.as_secs_f64(), request["counts"]);
            next_report += Duration::from_secs(5);
        }
        if elapsed > DEADLINE {
            bail!("request {id} not finished after {} s: {request}", DEADLINE.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (wall, cpu) = (start.elapsed(), common::cpu_time() - cpu_start);
    stop_sampling.store(true, Ordering::Relaxed);
    let peak_rss = sampler.join().unwrap_or(0.0);

    let (mut bytes_in, mut bytes_out, mut succeeded, mut failures) = (0u64, 0u64, 0usize, Vec::new());
    let mut offset = 0;
    loop {
        let page = get_json(&http, &format!("{base}/api/v1/requests/{id}/products?offset={offset}&limit=1000")).await?;
        let items = page["items"].as_array().context("no items in the products page")?;
        for image in items.iter().flat_map(|p| p["images"].as_array().into_iter().flatten()) {
            bytes_in += image["input_bytes"].as_u64().unwrap_or(0);
            bytes_out += image["output_bytes"].as_u64().unwrap_or(0);
            match image["status"].as_str() {
                Some("succeeded") => succeeded += 1,
                _ => failures.push(format!("{}: {} {}", image["input_url"], image["status"], image["error"])),
            }
        }
        offset += items.len() as u64;
        if items.is_empty() || offset >= page["total"].as_u64().unwrap_or(0) {
            break;
        }
    }
    stopper.cancel();
    tokio::time::timeout(Duration::from_secs(60), task).await.context("the application did not stop in 60 s")???;

    let secs = wall.as_secs_f64();
    let per_sec = images as f64 / secs;
    println!(
        "  idle:            {:.0} ms of CPU in {idle_secs} s with nothing queued ({idle_share:.2}% of one core; target under 1%)",
        idle_cpu.as_secs_f64() * 1e3
    );
    println!("  request {id}: {} {}", request["status"], request["counts"]);
    println!("  images:          {images} ({succeeded} succeeded, {} failed)", failures.len());
    println!(
        "  wall:            {secs:.2} s from upload to final status (first image done after {:.2} s)",
        first_done.unwrap_or(wall).as_secs_f64()
    );
    println!(
        "  throughput:      {per_sec:.1} img/s, {:.1} img/s per core; CPU {:.1} s ({:.0}% of {cores} cores)",
        per_sec / cores as f64,
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / secs / cores as f64
    );
    println!(
        "  bytes:           {:.1} MB in, {:.1} MB out, out/in {:.3}",
        bytes_in as f64 / 1e6,
        bytes_out as f64 / 1e6,
        bytes_out as f64 / bytes_in.max(1) as f64
    );
    println!(
        "  memory:          peak RSS {peak_rss:.0} MiB sampled every 50 ms (before upload {rss_before:.0} MiB, \
         corpus held {:.0} MiB), VmHWM {:.0} MiB",
        corpus_bytes as f64 / (1 << 20) as f64,
        common::status_mib(std::process::id(), "VmHWM:")
    );
    for failure in failures.iter().take(10) {
        println!("  failed: {failure}");
    }
    println!(
        "reference on the same corpus, codec only (q50 full size, STACK-NOTES §6): sharp 0.35 18.7 img/s per \
         core (34.0 on 2 cores); Pillow optimize=True 21.2 (38.2 on 2 cores); `cargo bench --bench compress` \
         for imgbatch's codec alone"
    );
    if succeeded != images {
        bail!("{} of {images} images did not succeed", images - succeeded);
    }
    Ok(())
}

async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    Ok(http.get(url).send().await?.error_for_status()?.json().await?)
}

/// Serves the corpus from memory at `/img/{name}` on 127.0.0.1; the query string is ignored.
async fn serve_images(corpus: Corpus) -> anyhow::Result<std::net::SocketAddr> {
    async fn image(State(corpus): State<Corpus>, UrlPath(name): UrlPath<String>) -> Response {
        match corpus.get(&name) {
            Some((kind, bytes)) => ([(header::CONTENT_TYPE, *kind)], bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/img/{name}", get(image)).with_state(corpus);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// Reads every image file of `dir`, its content type taken from its extension.
fn load_corpus(dir: &Path) -> Option<Corpus> {
    let files: BTreeMap<String, (&'static str, Bytes)> = fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let kind = match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
                "jpg" | "jpeg" => "image/jpeg",
                "png" => "image/png",
                "gif" => "image/gif",
                "webp" => "image/webp",
                _ => return None,
            };
            Some((path.file_name()?.to_str()?.to_owned(), (kind, Bytes::from(fs::read(&path).ok()?))))
        })
        .collect();
    (!files.is_empty()).then(|| Arc::new(files))
}
