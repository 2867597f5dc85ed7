//! An idle service's CPU, and how soon it starts on work queued after the idle spell.
//!
//! Every process imgbatch can run as is started at once and left alone for the same spell:
//! `serve` on SQLite with the embedded queue, and, with PostgreSQL and Redis, `serve`, the API
//! alone (`serve --no-workers`) and a `worker` beside it. Then each setup is given one-image
//! uploads, and the time from sending each to the image server's seeing the worker's fetch is
//! taken.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use tokio::sync::mpsc;

use super::common::process_cpu;
use super::service::{Service, serve_image};

/// One process's CPU over the idle spell.
pub struct IdleProcess {
    pub name: String,
    pub cpu_percent: f64,
}

/// One setup's times from upload to the first fetch of its image, in milliseconds.
pub struct Wake {
    pub setup: String,
    pub ms: Vec<f64>,
}

/// The servers the Redis setups run on, when both answer.
pub struct Servers<'a> {
    pub postgres: &'a super::Postgres,
    pub redis_url: String,
}

/// Starts every setup, measures each process's CPU over `secs` with nothing queued, then times
/// `probes` uploads per setup.
pub async fn idle(
    dir: &Path,
    servers: Option<Servers<'_>>,
    secs: u64,
    probes: usize,
) -> anyhow::Result<(Vec<IdleProcess>, Vec<Wake>)> {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let images = serve_image(Some(seen_tx)).await?;
    let sqlite = format!("sqlite://{}/idle.db?mode=rwc", dir.display());
    let mut setups =
        vec![("serve, SQLite + embedded queue".to_owned(), Service::start(&sqlite, dir, false).await?, None)];
    let mut databases = Vec::new();
    if let Some(servers) = &servers {
        let namespace = |n: &str| format!("imgbatch-bench-{}-{n}", std::process::id());
        let both = servers.postgres.create("idle_both").await?;
        databases.push("idle_both");
        let env = [("REDIS_URL", servers.redis_url.clone()), ("IMGBATCH_QUEUE_NAMESPACE", namespace("both"))];
        let serve = Service::launch(&["serve"], &both, dir, false, &env).await?;
        setups.push(("serve, PostgreSQL + Redis".to_owned(), serve, None));

        let split = servers.postgres.create("idle_split").await?;
        databases.push("idle_split");
        let files = ("IMGBATCH_STORAGE", dir.join("split-files").display().to_string());
        let mut env =
            vec![("REDIS_URL", servers.redis_url.clone()), ("IMGBATCH_QUEUE_NAMESPACE", namespace("split")), files];
        let api = Service::launch(&["serve", "--no-workers"], &split, dir, false, &env).await?;
        env.push(("IMGBATCH_PUBLIC_URL", api.base.clone()));
        let worker = Service::launch(&["worker"], &split, dir, false, &env).await?;
        setups.push(("serve --no-workers, PostgreSQL + Redis".to_owned(), api, Some(worker)));
    }
    let run = measure(&setups, images, &mut seen, secs, probes).await;
    drop(setups);
    if let Some(servers) = &servers {
        for name in databases {
            servers.postgres.drop_database(name).await?;
        }
    }
    run
}

async fn measure(
    setups: &[(String, Service, Option<Service>)],
    images: std::net::SocketAddr,
    seen: &mut mpsc::UnboundedReceiver<String>,
    secs: u64,
    probes: usize,
) -> anyhow::Result<(Vec<IdleProcess>, Vec<Wake>)> {
    // Start-up work (migrations, the first recovery pass) is not idling.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let processes: Vec<(String, u32)> = setups
        .iter()
        .flat_map(|(name, api, worker)| {
            let worker = worker.as_ref().map(|w| ("worker, PostgreSQL + Redis".to_owned(), w.pid));
            std::iter::once((name.clone(), api.pid)).chain(worker)
        })
        .collect();
    let before: Vec<Duration> = processes.iter().map(|(_, pid)| process_cpu(*pid)).collect();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let spell = start.elapsed().as_secs_f64();
    let idle = processes
        .iter()
        .zip(before)
        .map(|((name, pid), before)| IdleProcess {
            name: name.clone(),
            cpu_percent: 100.0 * (process_cpu(*pid) - before).as_secs_f64() / spell,
        })
        .collect();
    let mut wakes = Vec::new();
    for (n, (setup, api, _)) in setups.iter().enumerate() {
        let mut ms = Vec::new();
        for probe in 0..probes {
            let path = format!("/wake/{n}/{probe}.png");
            let csv = format!("S. No.,Product Name,Input Image Urls\n1,Mug,http://{images}{path}\n");
            let sent = Instant::now();
            api.upload(&csv).await?;
            let deadline = Duration::from_secs(10);
            loop {
                let got = tokio::time::timeout(deadline.saturating_sub(sent.elapsed()), seen.recv()).await;
                match got {
                    Ok(Some(p)) if p == path => break,
                    Ok(Some(_)) => continue,
                    Ok(None) => bail!("the image server stopped"),
                    Err(_) => bail!("{setup}: no fetch of {path} within {deadline:?} of its upload"),
                }
            }
            ms.push(sent.elapsed().as_secs_f64() * 1e3);
            // Land the next upload at another point of the workers' polling.
            tokio::time::sleep(Duration::from_millis(737)).await;
        }
        wakes.push(Wake { setup: setup.clone(), ms });
    }
    Ok((idle, wakes))
}

impl Wake {
    /// The longest time in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.ms.iter().copied().fold(0.0, f64::max)
    }
}
