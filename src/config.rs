//! Settings: flags with environment fallbacks (a `.env` file is read if present), parsed into
//! typed values at the edge so that a bad value stops start-up with one line naming the setting.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use clap::Args;
use url::Url;

use crate::{domain::quality::Quality, storage::StorageLocation};

/// Everything imgbatch can be told, shared by `serve`, `worker` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the HTTP API listens on (port 0 picks a free port).
    #[arg(long, env = "IMGBATCH_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Database: `sqlite://path?mode=rwc` (embedded) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/imgbatch.db?mode=rwc", hide_env_values = true)]
    pub database_url: String,

    /// Where compressed images are stored: a local directory, or `s3://bucket/prefix` (credentials,
    /// region and endpoint from the usual AWS_* variables).
    #[arg(long = "storage", env = "IMGBATCH_STORAGE", default_value = "./data/files")]
    pub storage: StorageLocation,

    /// Endpoint of an S3-compatible server for `IMGBATCH_STORAGE=s3://…` (such as
    /// `http://127.0.0.1:9000`) [default: `AWS_ENDPOINT_URL`, else AWS itself].
    #[arg(long, env = "IMGBATCH_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Redis for the job queue (`redis://host:6379/0`), shared by any number of worker processes
    /// on any number of machines [unset: the embedded queue].
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of the queue names, so that several deployments can share one Redis.
    #[arg(long, env = "IMGBATCH_QUEUE_NAMESPACE", default_value = "imgbatch")]
    pub queue_namespace: String,

    /// File of the embedded job queue [default: beside a SQLite database, else
    /// ./data/imgbatch-queue.db].
    #[arg(long, env = "IMGBATCH_QUEUE_FILE")]
    pub queue_file: Option<std::path::PathBuf>,

    /// Base URL that output URLs are built on [default: http://<bind>].
    #[arg(long, env = "IMGBATCH_PUBLIC_URL")]
    pub public_url: Option<Url>,

    /// Secret that signs the `admin` (default) tenant's webhooks, the only tenant with
    /// `IMGBATCH_AUTH=off` (`whsec_` + base64). Generated on first start and kept in the database
    /// when unset; other tenants get their own with their account.
    #[arg(long, env = "IMGBATCH_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<Secret>,

    /// Delays between webhook attempts after the first one fails, comma-separated.
    #[arg(long, env = "IMGBATCH_WEBHOOK_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h,10h")]
    pub webhook_retry_schedule: RetrySchedule,

    /// Longest wait between retries of an image while one of imgbatch's own parts (database,
    /// store, queue) is down. Waits start at 1 s and double up to this; the image is never
    /// given up on for such an outage.
    #[arg(long, env = "IMGBATCH_OUTAGE_RETRY_MAX", default_value = "30s", value_parser = parse_duration)]
    pub outage_retry_max: Duration,

    /// Images in flight (downloading, compressing, storing) per process.
    #[arg(long, env = "IMGBATCH_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,

    /// Default JPEG quality (1-100) when an upload does not name one.
    #[arg(long, env = "IMGBATCH_JPEG_QUALITY", default_value = "50", value_parser = Quality::parse)]
    pub jpeg_quality: Quality,

    /// Largest CSV upload accepted (bytes, or with a KiB/MiB/GiB suffix).
    #[arg(long, env = "IMGBATCH_MAX_UPLOAD_BYTES", default_value = "50MiB")]
    pub max_upload_bytes: ByteSize,

    /// Most data rows accepted in one CSV.
    #[arg(long, env = "IMGBATCH_MAX_ROWS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_rows: u64,

    /// Most image URLs accepted in one CSV, over all rows.
    #[arg(long, env = "IMGBATCH_MAX_IMAGES", default_value_t = 500_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_images: u64,

    /// Largest image download accepted (bytes, or with a KiB/MiB/GiB suffix).
    #[arg(long, env = "IMGBATCH_MAX_IMAGE_BYTES", default_value = "25MiB")]
    pub max_image_bytes: ByteSize,

    /// Largest image accepted, in pixels (width × height), checked before decoding.
    #[arg(long, env = "IMGBATCH_MAX_IMAGE_PIXELS", default_value_t = 50_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_image_pixels: u64,

    /// Time allowed for one image download, headers and body (e.g. `30s`, `500ms`).
    #[arg(long, env = "IMGBATCH_DOWNLOAD_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub download_timeout: Duration,

    /// Allow image and webhook URLs that resolve to loopback, private, link-local or other
    /// non-global addresses. Off by default: the service fetches URLs for strangers.
    #[arg(long, env = "IMGBATCH_ALLOW_PRIVATE_URLS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private_urls: bool,

    /// This process's worker name: keep it stable across restarts (and unique among running
    /// processes) so that a restarted worker takes back its own unfinished jobs at once
    /// [default: <hostname>-<pid>].
    #[arg(long, env = "IMGBATCH_WORKER_NAME")]
    pub worker_name: Option<String>,

    /// How often a worker tells the queue it is alive (at least 2s); a worker silent for two
    /// intervals has its jobs taken over by another.
    #[arg(long, env = "IMGBATCH_WORKER_HEARTBEAT", default_value = "5s", value_parser = parse_duration)]
    pub worker_heartbeat: Duration,

    /// How long requests and jobs are kept after they finish (`30d`, `12h`): then they, their
    /// rows, uploaded inputs and outputs (an output another row shares stays) are removed by the
    /// recovery pass, once their webhook is no longer being retried [unset: kept until deleted].
    #[arg(long, env = "IMGBATCH_RETENTION", value_parser = parse_duration)]
    pub retention: Option<Duration>,

    /// Authentication, tokens, webhook secret rotation and per-tenant limits.
    #[command(flatten)]
    pub access: crate::auth::settings::AccessSettings,
}

impl Config {
    /// Settings with every default, as the binary would have them with no flags and no environment.
    pub fn defaults() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        <Only as clap::Parser>::try_parse_from(["imgbatch"]).expect("defaults parse").config
    }

    /// The base of every URL handed to clients: `IMGBATCH_PUBLIC_URL`, or the address the API
    /// is bound to.
    pub fn public_base(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    /// Checks what clap's per-value parsing cannot; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.database_url.starts_with("sqlite:") || self.database_url.starts_with("postgres")) {
            return Err("DATABASE_URL: expected a sqlite:// or postgres:// URL".into());
        }
        match &self.public_url {
            Some(url) if !matches!(url.scheme(), "http" | "https") => {
                return Err("IMGBATCH_PUBLIC_URL: expected an http:// or https:// URL".into());
            }
            None if self.bind.ip().is_unspecified() => {
                return Err(format!(
                    "IMGBATCH_PUBLIC_URL: required when IMGBATCH_BIND is {} (all interfaces): set the URL \
                     clients reach the API at",
                    self.bind
                ));
            }
            _ => {}
        }
        if let Some(secret) = &self.webhook_secret {
            secret.webhook_key().map_err(|e| format!("IMGBATCH_WEBHOOK_SECRET: {e}"))?;
        }
        if let Some(url) = &self.redis_url
            && !url.starts_with("redis://")
        {
            return Err("REDIS_URL: expected a redis:// URL (TLS to Redis is not built in)".into());
        }
        // The queues keep worker heartbeats in whole seconds: below 2 s, live workers take each
        // other's jobs for dead.
        if self.worker_heartbeat < std::time::Duration::from_secs(2) {
            return Err("IMGBATCH_WORKER_HEARTBEAT: must be at least 2s".into());
        }
        if self.webhook_retry_schedule.0.iter().any(|d| *d > Duration::from_secs(30 * 86_400)) {
            return Err("IMGBATCH_WEBHOOK_RETRY_SCHEDULE: each delay must be at most 30d".into());
        }
        if self.max_upload_bytes.0 == 0 || self.max_image_bytes.0 == 0 {
            return Err("IMGBATCH_MAX_UPLOAD_BYTES / IMGBATCH_MAX_IMAGE_BYTES: must be above 0".into());
        }
        self.access.validate(self.bind)
    }
}

/// A secret value that never prints itself.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key of a webhook signing secret: `whsec_` followed by at least 24 bytes in base64.
    pub fn webhook_key(&self) -> Result<Vec<u8>, String> {
        use base64::Engine;
        let encoded = self.0.strip_prefix("whsec_").ok_or("expected whsec_ followed by base64")?;
        let key = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| "expected whsec_ followed by base64 (the part after whsec_ is not base64)")?;
        if key.len() < 24 {
            return Err(format!("the key is {} bytes; use at least 24 random bytes", key.len()));
        }
        Ok(key)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Self(s.to_owned()))
    }
}

/// A byte count written as `1048576`, `512KiB`, `50MiB`, `1GiB` (also `KB`/`MB`/`GB`, powers of 1000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits.parse().map_err(|_| format!("expected a byte count such as 50MiB, got {s:?}"))?;
        let factor = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kib" | "k" => 1 << 10,
            "mib" | "m" => 1 << 20,
            "gib" | "g" => 1 << 30,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            other => return Err(format!("unknown unit {other:?} (use B, KiB, MiB or GiB)")),
        };
        n.checked_mul(factor).map(ByteSize).ok_or_else(|| format!("{s:?} is too large"))
    }
}

/// Delays between webhook attempts, such as `5s,5m,30m,2h`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl FromStr for RetrySchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let delays =
            s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(parse_duration).collect::<Result<Vec<_>, _>>()?;
        Ok(Self(delays))
    }
}

/// Parses `250ms`, `30s`, `5m`, `2h` or `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("expected a duration such as 30s or 5m, got {s:?}"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("expected a unit of ms, s, m, h or d in {s:?}")),
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let c = Config::defaults();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.max_upload_bytes, ByteSize(50 << 20));
        assert_eq!(c.max_image_bytes, ByteSize(25 << 20));
        assert_eq!(c.webhook_retry_schedule.0.len(), 7);
        assert_eq!(c.webhook_retry_schedule.0[1], Duration::from_secs(300));
        assert_eq!(c.jpeg_quality.get(), 50);
        assert!(!c.allow_private_urls);
        assert_eq!(c.public_base(c.bind), "http://127.0.0.1:8080");
        c.validate().unwrap();
    }

    #[test]
    fn short_heartbeats_and_tls_redis_are_refused() {
        let mut c = Config::defaults();
        c.worker_heartbeat = Duration::from_secs(1);
        assert!(c.validate().unwrap_err().starts_with("IMGBATCH_WORKER_HEARTBEAT"));
        c.worker_heartbeat = Duration::from_secs(2);
        c.redis_url = Some("rediss://cache.example.com:6380".into());
        assert!(c.validate().unwrap_err().starts_with("REDIS_URL"));
        c.redis_url = Some("redis://127.0.0.1:6379/0".into());
        c.validate().unwrap();
    }

    #[test]
    fn listening_on_all_interfaces_needs_a_public_url() {
        let mut c = Config::defaults();
        c.bind = "0.0.0.0:8080".parse().unwrap();
        assert!(c.validate().unwrap_err().starts_with("IMGBATCH_PUBLIC_URL"));
        c.public_url = Some("https://img.example.com".parse().unwrap());
        c.validate().unwrap();
        assert_eq!(c.public_base(c.bind), "https://img.example.com");
    }

    #[test]
    fn byte_sizes_and_durations_parse_with_units() {
        assert_eq!("512KiB".parse::<ByteSize>().unwrap(), ByteSize(512 * 1024));
        assert_eq!("7".parse::<ByteSize>().unwrap(), ByteSize(7));
        assert!("5 parsecs".parse::<ByteSize>().is_err());
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5").is_err());
    }

    #[test]
    fn webhook_secrets_need_the_prefix_and_a_long_key() {
        assert!(Secret::new("nope").webhook_key().is_err());
        assert!(Secret::new("whsec_c2hvcnQ=").webhook_key().unwrap_err().contains("5 bytes"));
        assert!(Secret::new("whsec_!!!").webhook_key().is_err());
        let good = format!("whsec_{}", "A".repeat(44));
        assert_eq!(Secret::new(good).webhook_key().unwrap().len(), 33);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("whsec_abc");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
