//! The service under test: the real binary, the images it fetches, the CSV it takes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::{Router, http::header, routing::get};
use serde_json::Value;

/// A running `imgbatch serve` in a directory of its own, killed when dropped.
pub struct Service {
    _process: tokio::process::Child,
    _dir: tempfile::TempDir,
    pub pid: u32,
    pub base: String,
    pub http: reqwest::Client,
    /// The API key it made on first start, with auth on.
    pub key: Option<String>,
}

impl Service {
    /// Starts one on `database_url` in a new directory under `dir`, and waits until it is ready.
    pub async fn start(database_url: &str, dir: &Path, auth: bool) -> anyhow::Result<Self> {
        Self::launch(&["serve"], database_url, dir, auth, &[]).await
    }

    /// Starts `imgbatch {args}` on `database_url` in a new directory under `dir`, with `env` added
    /// to the environment, and waits until its API is ready (a `worker`, which has none, is only
    /// started).
    pub async fn launch(
        args: &[&str],
        database_url: &str,
        dir: &Path,
        auth: bool,
        env: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        use tokio::io::AsyncBufReadExt;
        let run = tempfile::tempdir_in(dir)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut process = tokio::process::Command::new(env!("CARGO_BIN_EXE_imgbatch"))
            .args(args)
            .current_dir(run.path())
            .env("IMGBATCH_BIND", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", database_url)
            .env("IMGBATCH_STORAGE", run.path().join("files"))
            .env("IMGBATCH_QUEUE_FILE", run.path().join("queue.db"))
            .env("IMGBATCH_AUTH", if auth { "on" } else { "off" })
            .env("IMGBATCH_ALLOW_PRIVATE_URLS", "true")
            .env("IMGBATCH_RATE_UPLOADS", "100000")
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting imgbatch")?;
        let pid = process.id().context("the service's pid")?;
        let (tx, key) = tokio::sync::oneshot::channel();
        let mut lines = tokio::io::BufReader::new(process.stdout.take().context("stdout")?).lines();
        // Read stdout to its end, so that the service never blocks on a full pipe.
        tokio::spawn(async move {
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(key) = line.trim().strip_prefix("ib_") {
                    tx.take().map(|tx| tx.send(format!("ib_{key}")));
                }
            }
        });
        let service = Self {
            _process: process,
            _dir: run,
            pid,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            key: None,
        };
        if args.first() == Some(&"worker") {
            return Ok(service);
        }
        service.wait_ready().await?;
        let key = if auth { Some(tokio::time::timeout(Duration::from_secs(5), key).await??) } else { None };
        Ok(Self { key, ..service })
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.http.get(format!("{}/readyz", self.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the service at {} was not ready within 60 s", self.base)
    }

    /// Uploads `csv`; the answer's JSON when it is 202.
    pub async fn upload(&self, csv: &str) -> anyhow::Result<Value> {
        let part = reqwest::multipart::Part::text(csv.to_owned()).file_name("products.csv").mime_str("text/csv")?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let mut request = self.http.post(format!("{}/api/v1/requests", self.base)).multipart(form);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let answer = request.send().await?;
        let status = answer.status();
        if status != reqwest::StatusCode::ACCEPTED {
            bail!("{status}: {}", answer.text().await.unwrap_or_default());
        }
        Ok(answer.json().await?)
    }
}

/// `rows` products of `per_row` image URLs each, every URL distinct.
pub fn big_csv(rows: usize, per_row: usize, images: std::net::SocketAddr) -> String {
    use std::fmt::Write;
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for row in 1..=rows {
        let _ = write!(csv, "{row},Product number {row},\"");
        for i in 0..per_row {
            let comma = if i > 0 { "," } else { "" };
            let _ = write!(csv, "{comma}http://{images}/catalogue/{row}/{i}.png");
        }
        csv.push_str("\"\n");
    }
    csv
}

/// Answers every path with one small PNG, on 127.0.0.1, and sends each path asked for to `seen`.
pub async fn serve_image(
    seen: Option<tokio::sync::mpsc::UnboundedSender<String>>,
) -> anyhow::Result<std::net::SocketAddr> {
    let mut png = std::io::Cursor::new(Vec::new());
    let pixels = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    pixels.write_to(&mut png, image::ImageFormat::Png)?;
    let png = bytes::Bytes::from(png.into_inner());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = Router::new().fallback(get(move |uri: axum::http::Uri| {
        if let Some(seen) = &seen {
            let _ = seen.send(uri.path().to_owned());
        }
        let png = png.clone();
        async move { ([(header::CONTENT_TYPE, "image/png")], png) }
    }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}
