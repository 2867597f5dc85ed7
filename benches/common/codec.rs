//! The codec alone, without the service: what the benches hold the service's figures against.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use imgbatch::domain::transform::Transform;
use imgbatch::pipeline::compress::{Limits, compress_to};

/// The service's default quality.
pub const QUALITY: u8 = 50;

/// Limits wide enough for every corpus image, with no memory pool to wait on.
pub const LIMITS: Limits =
    Limits { max_pixels: 100_000_000, max_alloc_bytes: 800_000_000, pool: None, full_size_decode: false };

/// What one pass over a corpus did.
#[derive(Default)]
pub struct Totals {
    pub elapsed: Duration,
    pub images: usize,
    pub pixels: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub failures: Vec<String>,
}

/// Compresses the whole corpus once on `threads` threads that take the next image from a shared index.
pub fn run_pass<N, B>(corpus: &[(N, B)], transform: &Transform, threads: usize) -> Totals
where
    N: AsRef<str> + Sync,
    B: AsRef<[u8]> + Sync,
{
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let parts: Vec<Totals> = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut t = Totals::default();
                    while let Some((name, input)) = corpus.get(next.fetch_add(1, Ordering::Relaxed)) {
                        let (name, input) = (name.as_ref(), input.as_ref());
                        let quality = imgbatch::domain::quality::Quality::new(QUALITY.into()).unwrap();
                        match compress_to(input, quality, transform, &LIMITS) {
                            Ok(out) => {
                                t.images += 1;
                                t.pixels += u64::from(out.width) * u64::from(out.height);
                                t.bytes_in += input.len() as u64;
                                t.bytes_out += out.bytes.len() as u64;
                            }
                            Err(e) => t.failures.push(format!("{name}: {e}")),
                        }
                    }
                    t
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    let elapsed = start.elapsed();
    parts.into_iter().fold(Totals { elapsed, ..Totals::default() }, |mut all, t| {
        all.images += t.images;
        all.pixels += t.pixels;
        all.bytes_in += t.bytes_in;
        all.bytes_out += t.bytes_out;
        all.failures.extend(t.failures);
        all
    })
}

/// `n` passes over a corpus on `threads` threads, fastest first: the median is the middle one.
pub fn passes<N, B>(corpus: &[(N, B)], transform: &Transform, threads: usize, n: usize) -> Vec<Totals>
where
    N: AsRef<str> + Sync,
    B: AsRef<[u8]> + Sync,
{
    let mut passes: Vec<Totals> = (0..n.max(1)).map(|_| run_pass(corpus, transform, threads)).collect();
    passes.sort_by_key(|t| t.elapsed);
    passes
}

/// The codec's speed on a corpus at full size and [`QUALITY`]: images/s on one thread and on
/// `threads`, each the median of `passes` after a warm-up pass.
pub struct CodecOnly {
    pub one_thread_per_sec: f64,
    pub all_threads_per_sec: f64,
}

impl CodecOnly {
    /// Measures it.
    pub fn measure<N, B>(corpus: &[(N, B)], threads: usize, passes: usize) -> Self
    where
        N: AsRef<str> + Sync,
        B: AsRef<[u8]> + Sync,
    {
        let transform = Transform::default();
        run_pass(corpus, &transform, 1);
        let per_sec = |threads: usize| {
            let passes = self::passes(corpus, &transform, threads, passes);
            let median = &passes[passes.len() / 2];
            median.images as f64 / median.elapsed.as_secs_f64()
        };
        Self { one_thread_per_sec: per_sec(1), all_threads_per_sec: per_sec(threads) }
    }

    /// CPU seconds per image on one thread (thread time, which is CPU time with a core to itself).
    pub fn cpu_seconds_per_image(&self) -> f64 {
        1.0 / self.one_thread_per_sec
    }
}
