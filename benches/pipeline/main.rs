//! End-to-end throughput and memory of the whole service path: one CSV upload to the real
//! application, which downloads every listed image from a local image server, compresses it,
//! stores it and records it, measured from the upload to the request's final status. Run with
//! `cargo bench --bench pipeline`. Settings: `IMGBATCH_BENCH_CORPUS` (folder of images, default
//! `bench-corpus`), `IMGBATCH_BENCH_IMAGES` (images in the CSV, default 306: six passes over the
//! 51-image corpus), `IMGBATCH_BENCH_CONCURRENCY` (the service's `IMGBATCH_CONCURRENCY`, default 16),
//! `IMGBATCH_BENCH_SWEEP` (concurrencies to run again at and plot, such as `1,2,4,8,16,32`). The
//! figures are written to `target/bench/pipeline.json` (`IMGBATCH_BENCH_OUT` for another folder).

#[path = "../common/mod.rs"]
mod common;
mod corpus;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use std::{env, thread};

use anyhow::{Context, bail};
use corpus::{Corpus, Processed, Service, corpus_csv, get_json, load_corpus, process, serve_images};

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
    let held = corpus.clone();
    let (images_at, mut hooks) = serve_images(corpus).await?;
    let service = Service::start(concurrency).await?;
    let base = service.base.clone();

    // Idle first: nothing queued, nothing served; the whole process's CPU (service and image
    // server) over the window, against the target of under 1% of one core.
    let idle_secs = common::env_number("IMGBATCH_BENCH_IDLE_SECS", 60)?;
    let idle_cpu_start = common::cpu_time();
    tokio::time::sleep(Duration::from_secs(idle_secs as u64)).await;
    let idle_cpu = common::cpu_time() - idle_cpu_start;
    let idle_share = 100.0 * idle_cpu.as_secs_f64() / idle_secs.max(1) as f64;

    let csv = corpus_csv(&names, images_at, images);
    let http = reqwest::Client::new();
    let rss_before = common::status_mib(std::process::id(), "VmRSS:");
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let sampler = common::sample_rss(std::process::id(), stop_sampling.clone());

    let cpu_start = common::cpu_time();
    let Processed { id, request, wall, first_done } =
        process(&http, &base, csv, Some(format!("http://{images_at}/hook")), true).await?;
    let cpu = common::cpu_time() - cpu_start;
    stop_sampling.store(true, Ordering::Relaxed);
    let peak_rss = sampler.join().unwrap_or(0.0);
    let hook = tokio::time::timeout(Duration::from_secs(30), hooks.recv()).await.ok().flatten();
    let completed = request["completed_at"].as_str().and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
    let to_webhook = match (hook, completed) {
        (Some(at), Some(completed)) => (chrono::DateTime::<chrono::Utc>::from(at) - completed).as_seconds_f64(),
        _ => bail!("no webhook within 30 s of the request's completion ({})", request["completed_at"]),
    };

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
    service.stop().await?;

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
    // The bound by design: every download held at its cap, the decode pool full, and the freed
    // memory each allocator heap may keep, on top of what the process held before the upload.
    let mib = |bytes: u64| bytes as f64 / (1 << 20) as f64;
    use imgbatch::pipeline::compress::{ALLOCATOR_HEAPS, ALLOCATOR_KEEPS, DECODE_MEMORY_BUDGET};
    let downloads = concurrency as u64 * imgbatch::Config::defaults().max_image_bytes.0;
    let bound = rss_before + mib(downloads) + mib(DECODE_MEMORY_BUDGET) + mib(ALLOCATOR_HEAPS * ALLOCATOR_KEEPS);
    // The bound knows only imgbatch's own malloc settings, not those GLIBC_TUNABLES puts instead.
    let malloc_replaced = imgbatch::pipeline::compress::malloc_tuned_by_environment();
    println!(
        "  memory bound:    {bound:.0} MiB = {rss_before:.0} before + {concurrency} downloads x {:.0} MiB + decode pool \
         {:.0} MiB + {ALLOCATOR_HEAPS} heaps x {:.0} MiB kept by malloc; peak {peak_rss:.0} MiB is {}",
        mib(downloads) / concurrency as f64,
        mib(DECODE_MEMORY_BUDGET),
        mib(ALLOCATOR_KEEPS),
        match (malloc_replaced, peak_rss <= bound) {
            (true, _) => "not checked: GLIBC_TUNABLES sets malloc's own limits",
            (false, true) => "within it",
            (false, false) => "OVER it",
        }
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
    if peak_rss > bound && !malloc_replaced {
        bail!("peak RSS {peak_rss:.0} MiB is over the bound of {bound:.0} MiB");
    }
    println!("  webhook:         {:.0} ms after the last image finished the request", to_webhook * 1e3);

    // The codec alone on the same images in the same run, for the service's overhead.
    let files: Vec<(&str, &[u8])> = held.iter().map(|(name, (_, bytes))| (name.as_str(), bytes.as_ref())).collect();
    let codec = common::codec::CodecOnly::measure(&files, cores, 3);
    let cpu_ratio = cpu.as_secs_f64() / images as f64 / codec.cpu_seconds_per_image();
    let speed_ratio = per_sec / codec.all_threads_per_sec;
    println!(
        "  codec alone:     {:.1} img/s on 1 thread ({:.3} CPU-s/img), {:.1} img/s on {cores} threads",
        codec.one_thread_per_sec,
        codec.cpu_seconds_per_image(),
        codec.all_threads_per_sec
    );
    println!(
        "  overhead:        CPU per image {cpu_ratio:.2}x the codec's (target at most 1.10), images/s \
         {speed_ratio:.2}x the codec's on all cores (target at least 0.90)"
    );
    let by_concurrency = sweep::sweep(&http, &names, images_at, images).await?;
    common::write_json(
        "pipeline",
        serde_json::json!({
            "images": images,
            "concurrency": concurrency,
            "idle_cpu_percent_of_a_core": idle_share,
            "images_per_second": per_sec,
            "cpu_seconds_per_image": cpu.as_secs_f64() / images as f64,
            "seconds_to_first_image": first_done.unwrap_or(wall).as_secs_f64(),
            "seconds_upload_to_final_status": secs,
            "out_over_in_bytes": bytes_out as f64 / bytes_in.max(1) as f64,
            "peak_rss_mib": peak_rss,
            "seconds_last_image_to_webhook": to_webhook,
            "memory_bound_mib": bound,
            "codec_images_per_second_one_thread": codec.one_thread_per_sec,
            "codec_images_per_second_all_threads": codec.all_threads_per_sec,
            "codec_cpu_seconds_per_image": codec.cpu_seconds_per_image(),
            "cpu_per_image_over_codec": cpu_ratio,
            "images_per_second_over_codec_all_threads": speed_ratio,
            "images_per_second_by_concurrency": by_concurrency,
        }),
    )?;
    Ok(())
}
