//! Measured memory. Peak RSS is per process, and test binaries run tests in parallel threads, so
//! each measurement runs alone in a child process: the test binary itself, running one ignored
//! test. The child builds its input, resets the kernel's peak RSS counter (`/proc/self/clear_refs`)
//! and reports how far the peak rose above the RSS at the reset. RSS counts libjpeg-turbo's
//! malloc'd buffers too, which a Rust allocator would not see. Pages allocated but never written
//! (most of the worst-case JPEG output buffer) are not resident: the estimate counts them, RSS
//! does not, so the measured rise is below the estimate by design.

use std::process::Command;
use std::time::Instant;

use super::tests_limits::*;
use super::*;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

const CASE: &str = "IMGBATCH_MEMORY_CASE";

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Runs `work` with the peak RSS reset first; returns its result and the peak's rise in bytes.
fn peak_rise<T>(work: impl FnOnce() -> T) -> (T, u64) {
    // Small freed blocks kept by malloc would be reused unseen (large ones are unmapped, see
    // `in_child`).
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::malloc_trim(0);
    }
    std::fs::write("/proc/self/clear_refs", "5").expect("the kernel resets peak RSS");
    let before = status_kib("VmRSS:");
    let result = work();
    (result, (status_kib("VmHWM:").saturating_sub(before)) << 10)
}

/// Runs `case` in a child process and returns its report line.
fn in_child(case: &str) -> String {
    let test = format!("{}::child", module_path!().split_once("::").unwrap().1);
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "--nocapture", "--test-threads", "1", &test])
        .env(CASE, case)
        // A fixed mmap threshold: every large buffer is mapped fresh and unmapped when freed, so
        // memory freed while building the input cannot be reused unseen by the measured call.
        .env("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{case}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    // libtest prints the test's name on the same line, before the report.
    let report = stdout.lines().find_map(|l| l.find("MEASURED ").map(|at| &l[at..])).expect("a report").to_owned();
    println!("{report}");
    report
}

fn field(report: &str, name: &str) -> u64 {
    let value = report.split_whitespace().find_map(|w| w.strip_prefix(name)).unwrap();
    value.parse().unwrap()
}

/// An image decoded at exactly the memory it is allowed: the estimate from the error of a call
/// allowed only its decoded buffer (`decoded` bytes) becomes the limit of a call that must
/// succeed, and the peak RSS of that call must stay within it.
fn decode_at_the_limit(input: &[u8], decoded: u64) {
    let tiny = Limits { max_alloc_bytes: decoded, ..two_cores() };
    let Err(CompressError::TooMuchMemory { needed, .. }) = compress(input, q(), &tiny) else { panic!() };
    let at_limit = Limits { max_alloc_bytes: needed, ..two_cores() };
    let start = Instant::now();
    let (out, rise) = peak_rise(|| compress(input, q(), &at_limit).map(|c| c.bytes.len()));
    let out = out.unwrap();
    println!("MEASURED needed={needed} rise={rise} ms={} out={out}", start.elapsed().as_millis());
}

fn rgba16_png(width: u32, height: u32) -> Vec<u8> {
    let mut seed = 1u32;
    let raw: Vec<u8> = (0..width * height * 8)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 24) as u8
        })
        .collect();
    let mut png = Vec::new();
    PngEncoder::new(&mut png).write_image(&raw, width, height, ExtendedColorType::Rgba16).unwrap();
    png
}

fn rgb_jpeg(width: usize, height: usize) -> Vec<u8> {
    let raw: Vec<u8> = (0..width * height * 3).map(|i| (i * 7 % 251) as u8 ^ (i / 4099) as u8).collect();
    let mut c = Compressor::new().unwrap();
    c.set_quality(95).unwrap();
    c.set_subsamp(Subsamp::None).unwrap();
    c.compress_to_vec(Image { pixels: &raw[..], width, pitch: width * 3, height, format: PixelFormat::RGB }).unwrap()
}

/// The attack: sixteen hostile files at once (the in-flight default), each refused.
fn sixteen_hostile_at_once() {
    let bomb = png_with(&tiny_rgb(), &[iccp(&zlib_bomb(258 * 4_161_791 + 1))]);
    let files = [
        bomb,
        claimed_rgba16_png(10_000, 5_000),
        claimed_jpeg(7_000, 7_000),
        claimed_gif(7_000, 7_000),
        claimed_webp(7_000, 7_000),
    ];
    let (refused, rise) = peak_rise(|| {
        std::thread::scope(|s| {
            let files = &files;
            let runs: Vec<_> = (0..16)
                .map(|i| s.spawn(move || compress(&files[i % files.len()], q(), &two_cores()).is_err()))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).filter(|&refused| refused).count()
        })
    });
    println!("MEASURED refused={refused} rise={rise}");
}

#[test]
#[ignore = "run in a child process by the tests below"]
fn child() {
    match std::env::var(CASE).as_deref() {
        Ok("rgba16-png") => decode_at_the_limit(&rgba16_png(1_600, 1_200), 1_600 * 1_200 * 8),
        Ok("rgb-jpeg") => decode_at_the_limit(&rgb_jpeg(3_000, 2_000), 3_000 * 2_000 * 3),
        Ok("sixteen-hostile") => sixteen_hostile_at_once(),
        _ => {}
    }
}

#[test]
fn a_16_bit_rgba_png_at_its_memory_limit_stays_within_it() {
    let report = in_child("rgba16-png");
    assert!(field(&report, "rise=") <= field(&report, "needed="), "{report}");
}

#[test]
fn an_rgb_jpeg_at_its_memory_limit_stays_within_it() {
    let report = in_child("rgb-jpeg");
    assert!(field(&report, "rise=") <= field(&report, "needed="), "{report}");
}

#[test]
fn sixteen_hostile_files_at_once_are_refused_without_allocating_them() {
    let report = in_child("sixteen-hostile");
    assert_eq!(field(&report, "refused="), 16, "{report}");
    assert!(field(&report, "rise=") < 32 << 20, "{report}");
}
