//! The service under test, in-process, and the corpus it fetches from a local server.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{
    Router,
    routing::{get, post},
};
use bytes::Bytes;
use imgbatch::{Application, Config};
use serde_json::Value;
use tokio::sync::mpsc;

/// Files served by the image server: name → (content type, bytes).
pub type Corpus = Arc<BTreeMap<String, (&'static str, Bytes)>>;

const FINAL: [&str; 3] = ["completed", "completed_with_errors", "failed"];
/// A bound on a run, so that a stalled service fails the bench instead of hanging it.
const DEADLINE: Duration = Duration::from_secs(900);

/// An application started in-process on a temporary database and store, with auth off (one local
/// account, as in `imgbatch demo`: the bench measures images, not sign-in).
pub struct Service {
    pub base: String,
    stopper: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Service {
    pub async fn start(concurrency: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temp dir")?;
        let mut config = Config::defaults();
        config.bind = "127.0.0.1:0".parse()?;
        config.database_url = format!("sqlite://{}/imgbatch.db?mode=rwc", dir.path().display());
        config.storage = imgbatch::storage::StorageLocation::Local(dir.path().join("files"));
        config.allow_private_urls = true;
        config.webhook_secret = Some(imgbatch::webhook::sign::generate_secret());
        config.concurrency = u32::try_from(concurrency).context("IMGBATCH_BENCH_CONCURRENCY")?;
        config.access.auth = imgbatch::auth::settings::AuthMode::Off;
        let app = Application::build(config).await.context("building the application")?;
        let base = format!("http://{}", app.address());
        let stopper = app.stopper();
        let task = tokio::spawn(app.run_until_stopped());
        Ok(Self { base, stopper, task, _dir: dir })
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.stopper.cancel();
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .context("the application did not stop in 60 s")???;
        Ok(())
    }
}

/// One CSV of `images` rows, each naming a corpus file (in turn) by a distinct URL.
pub fn corpus_csv(names: &[String], images_at: std::net::SocketAddr, images: usize) -> String {
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for n in 0..images {
        csv.push_str(&format!("{},SKU{},http://{images_at}/img/{}?n={n}\n", n + 1, n + 1, names[n % names.len()]));
    }
    csv
}

/// What became of one uploaded CSV.
pub struct Processed {
    pub id: String,
    pub request: Value,
    pub wall: Duration,
    pub first_done: Option<Duration>,
}

/// Uploads `csv` and waits for the request's final status, printing its counts every 5 s when
/// `report`.
pub async fn process(
    http: &reqwest::Client,
    base: &str,
    csv: String,
    webhook_url: Option<String>,
    report: bool,
) -> anyhow::Result<Processed> {
    let start = Instant::now();
    let mut form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("products.csv").mime_str("text/csv")?,
    );
    if let Some(url) = webhook_url {
        form = form.text("webhook_url", url);
    }
    let response = http.post(format!("{base}/api/v1/requests")).multipart(form).send().await?;
    let status = response.status();
    let body: Value = response.json().await?;
    if status != StatusCode::ACCEPTED {
        bail!("upload refused with {status}: {body}");
    }
    let id = body["request_id"].as_str().context("no request_id in the upload's answer")?.to_owned();
    let (mut next_report, mut first_done) = (Duration::from_secs(5), None);
    let request = loop {
        let request = get_json(http, &format!("{base}/api/v1/requests/{id}")).await?;
        if first_done.is_none() && request["counts"]["pending"].as_u64() < request["counts"]["images"].as_u64() {
            first_done = Some(start.elapsed());
        }
        if FINAL.contains(&request["status"].as_str().unwrap_or_default()) {
            break request;
        }
        let elapsed = start.elapsed();
        if report && elapsed >= next_report {
            println!("  {:5.1} s: {}", elapsed.as_secs_f64(), request["counts"]);
            next_report += Duration::from_secs(5);
        }
        if elapsed > DEADLINE {
            bail!("request {id} not finished after {} s: {request}", DEADLINE.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    Ok(Processed { id, request, wall: start.elapsed(), first_done })
}

pub async fn get_json(http: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    Ok(http.get(url).send().await?.error_for_status()?.json().await?)
}

/// Serves the corpus from memory at `/img/{name}` on 127.0.0.1 (the query string is ignored), and
/// takes webhooks at `/hook`: the wall-clock time each arrived is sent to the receiver given back.
pub async fn serve_images(
    corpus: Corpus,
) -> anyhow::Result<(std::net::SocketAddr, mpsc::UnboundedReceiver<SystemTime>)> {
    async fn image(State((corpus, _)): State<(Corpus, Hooks)>, UrlPath(name): UrlPath<String>) -> Response {
        match corpus.get(&name) {
            Some((kind, bytes)) => ([(header::CONTENT_TYPE, *kind)], bytes.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    }
    async fn hook(State((_, hooks)): State<(Corpus, Hooks)>) -> StatusCode {
        let _ = hooks.send(SystemTime::now());
        StatusCode::NO_CONTENT
    }
    type Hooks = mpsc::UnboundedSender<SystemTime>;
    let (hooks, arrivals) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/img/{name}", get(image)).route("/hook", post(hook)).with_state((corpus, hooks));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((addr, arrivals))
}

/// Reads every image file of `dir`, its content type taken from its extension.
pub fn load_corpus(dir: &Path) -> Option<Corpus> {
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
