//! Throughput of `pipeline::compress` on a corpus of real photographs, on one thread and on every
//! core: full-size JPEG, then each transformation row (a 256 cover thumbnail, fit inside 1024,
//! WebP full size and at 1024), and what the scaled JPEG decode saves a thumbnail. Run with `cargo bench --bench compress`; the corpus directory comes
//! from `IMGBATCH_BENCH_CORPUS` (default `bench-corpus`).

mod common;

use common::codec::{LIMITS, QUALITY, passes, run_pass};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use imgbatch::domain::transform::{Fit, OutputFormat, Transform};
use imgbatch::pipeline::compress::{ImageKind, Limits, compress_to, tune_allocator};

const PASSES: usize = 3;

fn main() {
    tune_allocator();
    let dir = PathBuf::from(env::var_os("IMGBATCH_BENCH_CORPUS").unwrap_or("bench-corpus".into()));
    let Some(corpus) = load_corpus(&dir) else {
        println!(
            "compress bench skipped: no image corpus in {dir}.\n\
             Build it (downloads wallpaper packages from Debian and a wheel from PyPI) with\n    \
             bash ../shared/bench/make_corpus.sh {dir}\n\
             from the repository root, or point IMGBATCH_BENCH_CORPUS at an existing corpus.",
            dir = dir.display()
        );
        return;
    };
    let bytes: u64 = corpus.iter().map(|(_, b)| b.len() as u64).sum();
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "compress bench: {} images, {:.1} MB from {}, quality {QUALITY}, median of {PASSES} passes, on {}",
        corpus.len(),
        bytes as f64 / 1e6,
        dir.display(),
        common::machine()
    );
    let boxed =
        |side: u32, fit: Fit, format: OutputFormat| Transform { width: Some(side), height: Some(side), fit, format };
    let rows = [
        ("JPEG full size", Transform::default()),
        ("thumbnail 256 cover", boxed(256, Fit::Cover, OutputFormat::Jpeg)),
        ("fit inside 1024", boxed(1024, Fit::Inside, OutputFormat::Jpeg)),
        ("WebP full size", Transform { format: OutputFormat::Webp, ..Transform::default() }),
        ("WebP 1024", boxed(1024, Fit::Inside, OutputFormat::Webp)),
    ];
    // `cargo bench --bench compress -- webp scaled` runs only the rows whose names contain a word given.
    let only: Vec<String> = env::args().skip(1).filter(|a| !a.starts_with("--")).map(|a| a.to_lowercase()).collect();
    let wanted = |label: &str| only.is_empty() || only.iter().any(|w| label.to_lowercase().contains(w.as_str()));
    let mut figures = Vec::new();
    for (label, transform) in rows.into_iter().filter(|(label, _)| wanted(label)) {
        println!("{label}:");
        figures.extend(bench_row(&corpus, &transform, threads).into_iter().map(|mut row| {
            row["row"] = label.into();
            row
        }));
    }
    if wanted("scaled JPEG decode") {
        scaled_decode(&corpus, &boxed(256, Fit::Cover, OutputFormat::Jpeg));
    }
    let peak = common::status_mib(std::process::id(), "VmHWM:");
    println!("  peak RSS (VmHWM): {peak:.0} MiB (the corpus itself holds {:.0} MiB)", bytes as f64 / (1 << 20) as f64);
    println!(
        "reference on the same corpus (q50 full size, STACK-NOTES §6): sharp 0.35 18.7 img/s per core \
         (34.0 on 2 cores, out/in 0.241); Pillow optimize=True 21.2 (38.2 on 2 cores, out/in 0.240)"
    );
    if let Err(e) = common::write_json("compress", serde_json::json!({ "rows": figures, "peak_rss_mib": peak })) {
        eprintln!("compress bench: {e:#}");
    }
}

/// One row: a warm-up pass, then the median of [`PASSES`] on one thread and on every core; their
/// figures.
fn bench_row(corpus: &[(String, Vec<u8>)], transform: &Transform, threads: usize) -> Vec<serde_json::Value> {
    let mut figures = Vec::new();
    let warm_up = run_pass(corpus, transform, 1);
    for failure in &warm_up.failures {
        println!("  failed: {failure}");
    }
    for n in [1, threads] {
        let passes = passes(corpus, transform, n, PASSES);
        let median = &passes[passes.len() / 2];
        let secs = median.elapsed.as_secs_f64();
        let per_sec = median.images as f64 / secs;
        println!(
            "  {n} thread{s}: {per_sec:6.1} img/s ({:.1} per core), {:6.1} output MP/s, out/in bytes {:.3}, \
             passes {}",
            per_sec / n as f64,
            median.pixels as f64 / 1e6 / secs,
            median.bytes_out as f64 / median.bytes_in as f64,
            passes.iter().map(|t| format!("{:.2} s", t.elapsed.as_secs_f64())).collect::<Vec<_>>().join(", "),
            s = if n == 1 { " " } else { "s" },
        );
        figures.push(serde_json::json!({
            "threads": n,
            "images_per_second": per_sec,
            "output_megapixels_per_second": median.pixels as f64 / 1e6 / secs,
            // Thread time, which is CPU time while each thread has a core to itself.
            "cpu_seconds_per_image": n as f64 / per_sec,
            "out_over_in_bytes": median.bytes_out as f64 / median.bytes_in as f64,
        }));
    }
    figures
}

/// What decoding a large JPEG at libjpeg-turbo's 1/8 (or 1/4, 1/2) saves for a small box: each
/// JPEG of the corpus of 10 MP or more made into `transform` with the scaled decode and with a
/// full-size decode and resize, one thread, the median of five; and how close the two outputs are
/// (PSNR). A progressive file is also measured re-encoded as baseline (quality 90), as cameras
/// write them: a progressive file's entropy decoding, which no scale factor skips, is most of its
/// decode.
fn scaled_decode(corpus: &[(String, Vec<u8>)], transform: &Transform) {
    let full = Limits { full_size_decode: true, ..LIMITS };
    let quality = imgbatch::domain::quality::Quality::new(QUALITY.into()).unwrap();
    let time = |input: &[u8], limits: &Limits| {
        let mut runs: Vec<(Duration, Vec<u8>)> = (0..5)
            .map(|_| {
                let start = Instant::now();
                let out = compress_to(input, quality, transform, limits).expect("compresses");
                (start.elapsed(), out.bytes)
            })
            .collect();
        runs.sort_by_key(|r| r.0);
        runs.swap_remove(2)
    };
    let decode = |jpeg: &[u8]| turbojpeg::decompress(jpeg, turbojpeg::PixelFormat::RGB).unwrap();
    println!("scaled JPEG decode, 256 cover thumbnail of the JPEGs of 10 MP or more, one thread:");
    let mut totals = [(Duration::ZERO, Duration::ZERO); 2];
    for (name, input) in corpus {
        let Ok(header) = turbojpeg::read_header(input) else { continue };
        let mp = (header.width * header.height) as f64 / 1e6;
        if mp < 10.0 {
            continue;
        }
        let progressive = is_progressive(input);
        let mut versions = vec![(if progressive { "progressive" } else { "baseline" }, input.clone())];
        if progressive {
            let pixels = decode(input);
            let baseline = turbojpeg::compress(pixels.as_deref(), 90, turbojpeg::Subsamp::Sub2x2).unwrap();
            versions.push(("as baseline q90", baseline.to_vec()));
        }
        for (kind, bytes) in versions {
            let (fast, fast_out) = time(&bytes, &LIMITS);
            let (slow, slow_out) = time(&bytes, &full);
            let total = &mut totals[usize::from(kind != "progressive")];
            total.0 += fast;
            total.1 += slow;
            println!(
                "  {name} ({mp:.1} MP, {kind}): {:6.1} ms scaled, {:6.1} ms full size, {:4.1}x faster, PSNR {:.1} dB",
                fast.as_secs_f64() * 1e3,
                slow.as_secs_f64() * 1e3,
                slow.as_secs_f64() / fast.as_secs_f64(),
                psnr(&decode(&fast_out).pixels, &decode(&slow_out).pixels)
            );
        }
    }
    for ((fast, slow), kind) in totals.into_iter().zip(["progressive", "baseline"]) {
        if !fast.is_zero() {
            println!("  all {kind}: {:.1}x faster", slow.as_secs_f64() / fast.as_secs_f64());
        }
    }
}

/// True when the JPEG's frame is progressive (SOF2).
fn is_progressive(jpeg: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if matches!(marker, 0xC0..=0xC2) {
            return marker == 0xC2;
        }
        i += 2 + usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
    }
    false
}

/// Peak signal-to-noise ratio of two 8-bit images of the same size, in dB.
fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let mse = a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>() / a.len() as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}

/// Reads every file of `dir` that starts like a supported image, in name order.
fn load_corpus(dir: &Path) -> Option<Vec<(String, Vec<u8>)>> {
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let bytes = fs::read(&path).ok()?;
            ImageKind::sniff(&bytes)?;
            Some((path.file_name()?.to_string_lossy().into_owned(), bytes))
        })
        .collect();
    files.sort();
    (!files.is_empty()).then_some(files)
}
