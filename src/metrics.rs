//! Prometheus metrics, served as text at `GET /metrics`. Counters and histograms count what this
//! process did; totals that span every process (images by status, queue depth) are read from the
//! database at scrape time, so a fleet of workers without HTTP is still seen whole.

use std::{
    fmt::Write,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Seconds bounds of the time histograms.
const BUCKETS: [f64; 12] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A latency histogram with fixed buckets.
#[derive(Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", count.load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}");
    }
}

/// What this process counted.
#[derive(Default)]
pub struct Metrics {
    /// Uploads accepted.
    pub requests_accepted: AtomicU64,
    /// Images this process finished, succeeded.
    pub images_succeeded: AtomicU64,
    /// Images this process finished, failed.
    pub images_failed: AtomicU64,
    /// Webhook attempts answered 2xx.
    pub webhook_succeeded: AtomicU64,
    /// Webhook attempts that failed.
    pub webhook_failed: AtomicU64,
    /// From job start to outcome recorded, per image.
    pub processing: Histogram,
    /// Downloads, per attempt.
    pub download: Histogram,
}

/// Totals read from the database at scrape time, over every request.
pub struct Totals {
    /// Images not finished yet: the queue depth.
    pub pending: u64,
    /// Images compressed and stored.
    pub succeeded: u64,
    /// Images given up on.
    pub failed: u64,
    /// Webhook deliveries not yet delivered or given up.
    pub webhooks_pending: u64,
}

impl Metrics {
    /// Counts one more.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, totals: &Totals) -> String {
        let mut out = String::with_capacity(4096);
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let family = |out: &mut String, kind: &str, name: &str, help: &str, lines: &[(&str, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let counter =
            |out: &mut String, name: &str, help: &str, lines: &[(&str, u64)]| family(out, "counter", name, help, lines);
        let gauge =
            |out: &mut String, name: &str, help: &str, lines: &[(&str, u64)]| family(out, "gauge", name, help, lines);
        counter(
            &mut out,
            "imgbatch_requests_accepted_total",
            "Uploads accepted by this process.",
            &[("", get(&self.requests_accepted))],
        );
        counter(
            &mut out,
            "imgbatch_images_processed_total",
            "Images this process finished, by outcome.",
            &[
                ("{outcome=\"succeeded\"}", get(&self.images_succeeded)),
                ("{outcome=\"failed\"}", get(&self.images_failed)),
            ],
        );
        counter(
            &mut out,
            "imgbatch_webhook_attempts_total",
            "Webhook attempts by this process, by outcome.",
            &[
                ("{outcome=\"succeeded\"}", get(&self.webhook_succeeded)),
                ("{outcome=\"failed\"}", get(&self.webhook_failed)),
            ],
        );
        self.processing.render(&mut out, "imgbatch_image_processing_seconds", "Time to process one image.");
        self.download.render(&mut out, "imgbatch_image_download_seconds", "Time to download one image.");
        let by_status = [
            ("{status=\"pending\"}", totals.pending),
            ("{status=\"succeeded\"}", totals.succeeded),
            ("{status=\"failed\"}", totals.failed),
        ];
        gauge(&mut out, "imgbatch_images", "Images of every request, by status (all processes).", &by_status);
        gauge(
            &mut out,
            "imgbatch_queue_depth",
            "Images waiting to be processed (all processes).",
            &[("", totals.pending)],
        );
        gauge(
            &mut out,
            "imgbatch_webhooks_pending",
            "Webhook deliveries still to be made.",
            &[("", totals.webhooks_pending)],
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_render_as_prometheus_text() {
        let m = Metrics::default();
        m.download.observe(Duration::from_millis(30));
        m.download.observe(Duration::from_secs(3));
        Metrics::inc(&m.images_failed);
        let text = m.render(&Totals { pending: 1, succeeded: 2, failed: 3, webhooks_pending: 0 });
        assert!(text.contains("imgbatch_image_download_seconds_bucket{le=\"0.05\"} 1\n"), "{text}");
        assert!(text.contains("imgbatch_image_download_seconds_bucket{le=\"5\"} 2\n"), "{text}");
        assert!(text.contains("imgbatch_image_download_seconds_count 2\n"), "{text}");
        assert!(text.contains("imgbatch_images_processed_total{outcome=\"failed\"} 1\n"), "{text}");
        assert!(text.contains("imgbatch_images{status=\"failed\"} 3\n"), "{text}");
        assert!(text.contains("# TYPE imgbatch_queue_depth gauge\nimgbatch_queue_depth 1\n"), "{text}");
    }
}
