//! The status API under load: `GET /api/v1/requests/{id}` driven by wrk.

use std::path::Path;

use anyhow::Context;

use super::service::Service;

/// What wrk measured of `GET /api/v1/requests/{id}`.
pub struct StatusApi {
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: String,
}

/// Loads `GET /api/v1/requests/{id}` with wrk (`connections` open at once, for `secs`) on a
/// fresh service on SQLite, signed in with the API key it makes on first start.
pub async fn status_api(dir: &Path, connections: usize, secs: usize) -> anyhow::Result<Option<StatusApi>> {
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
