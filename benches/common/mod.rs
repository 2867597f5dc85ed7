//! What the benches share: their settings, the machine they ran on, and readings of a process's
//! CPU time and memory.

#![allow(dead_code)] // each bench uses its own part of this

pub mod codec;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use std::{env, fs, thread};

use anyhow::Context;

/// A positive whole number from the environment variable `name`, or `default` when unset.
pub fn env_number(name: &str, default: usize) -> anyhow::Result<usize> {
    let Ok(value) = env::var(name) else { return Ok(default) };
    value.trim().parse().ok().filter(|&n| n > 0).with_context(|| format!("{name}: expected a positive number"))
}

/// The CPU model and the cores this process may use, as figures should be reported with.
pub fn machine() -> String {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find_map(|l| l.strip_prefix("model name")?.split_once(':').map(|(_, m)| m.trim()));
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    format!("{} ({cores} cores)", model.unwrap_or("an unknown CPU"))
}

/// Where the benches write their figures: `IMGBATCH_BENCH_OUT`, default `target/bench`.
pub fn out_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env::var_os("IMGBATCH_BENCH_OUT").unwrap_or("target/bench".into()))
}

/// Writes `figures` and the machine as `{bench}.json` in `IMGBATCH_BENCH_OUT` (default
/// `target/bench`), for comparing runs, and says where.
pub fn write_json(bench: &str, mut figures: serde_json::Value) -> anyhow::Result<()> {
    let dir = out_dir();
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    figures["machine"] = machine().into();
    let path = dir.join(format!("{bench}.json"));
    fs::write(&path, serde_json::to_string_pretty(&figures)?).with_context(|| format!("writing {}", path.display()))?;
    println!("figures written to {}", path.display());
    Ok(())
}

/// A field of `/proc/{pid}/status` (given there in KiB), in MiB; 0 where it cannot be read.
pub fn status_mib(pid: u32, field: &str) -> f64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    kib.unwrap_or(0u64) as f64 / 1024.0
}

/// CPU time of this process so far, user and system.
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is handed, which is plain data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::from_micros(t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// CPU time of process `pid` so far, user and system (`/proc/{pid}/stat`, in clock ticks); zero
/// where it cannot be read.
pub fn process_cpu(pid: u32) -> Duration {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name, in parentheses, may hold spaces: count fields after its end.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf only reads a system setting.
    let per_sec = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_micros((ticks(11) + ticks(12)) * 1_000_000 / per_sec)
}

/// Samples the VmRSS of process `pid` every 50 ms on its own thread, so that a busy runtime
/// cannot delay the samples, until `stop`; returns the peak in MiB.
pub fn sample_rss(pid: u32, stop: Arc<AtomicBool>) -> thread::JoinHandle<f64> {
    thread::spawn(move || {
        let mut peak: f64 = 0.0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(status_mib(pid, "VmRSS:"));
            thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}

/// Response times, for their quantiles.
#[derive(Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    /// Records one.
    pub fn push(&mut self, took: Duration) {
        self.0.push(took);
    }

    /// How many were recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0.5 for the median) in milliseconds; 0 with none recorded.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let at = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[at].as_secs_f64() * 1e3
    }
}
