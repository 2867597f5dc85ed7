//! `imgbatch demo`: a fully local run with nothing installed. It serves the sample images
//! (compiled in) on loopback, starts the service on a free port with its data in a temporary
//! directory, submits the sample CSV through the same client as `submit --wait`, prints the output
//! CSV and removes everything. It runs with authentication off, on loopback only. With `--keep` it
//! stays up until Ctrl-C, for the dashboard.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use axum::{
    Router,
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    Application, Config,
    auth::settings::AuthMode,
    client::{self, Server, SubmitOptions},
    storage::StorageLocation,
};

/// The sample images, by the names the sample CSV gives them.
const IMAGES: [(&str, &[u8], &str); 4] = [
    ("mug.jpg", include_bytes!("../samples/images/mug.jpg"), "image/jpeg"),
    ("mug-side.png", include_bytes!("../samples/images/mug-side.png"), "image/png"),
    ("shirt.jpg", include_bytes!("../samples/images/shirt.jpg"), "image/jpeg"),
    ("lamp.png", include_bytes!("../samples/images/lamp.png"), "image/png"),
];

/// The sample CSV; its image URLs name `127.0.0.1:8765`, replaced by the images' real address.
/// One of them (`missing.jpg`) is absent on purpose, to show how a failed image is reported.
const CSV: &str = include_str!("../samples/local-demo.csv");

/// Removes the demo's directory however the demo ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the demo; 0 once the sample request has finished (its one missing image included).
pub async fn run(keep: bool) -> anyhow::Result<ExitCode> {
    let images = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("cannot serve the sample images")?;
    let images_at = images.local_addr()?;
    let router = Router::new().route("/{name}", get(sample));
    tokio::spawn(async move { axum::serve(images, router).await });

    let dir = TempDir(std::env::temp_dir().join(format!("imgbatch-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).with_context(|| format!("cannot create {}", dir.0.display()))?;
    let mut config = Config::defaults();
    config.bind = "127.0.0.1:0".parse().expect("a loopback address");
    // The sample images are on loopback, which the outbound policy refuses by default.
    config.allow_private_urls = true;
    config.database_url = format!("sqlite://{}?mode=rwc", dir.0.join("imgbatch.db").display());
    config.storage = StorageLocation::Local(dir.0.join("files"));
    // One local account on loopback: the dashboard opens without signing in.
    config.access.auth = AuthMode::Off;
    let app = Application::build(config).await?;
    let base = format!("http://{}", app.address());
    let stopper = app.stopper();
    let running = tokio::spawn(app.run_until_stopped());

    let csv = dir.0.join("local-demo.csv");
    std::fs::write(&csv, CSV.replace("127.0.0.1:8765", &images_at.to_string()))?;
    let server = Server { url: base.clone(), api_key: None };
    let options = SubmitOptions { wait: true, output: Some(PathBuf::from("-")), ..SubmitOptions::default() };
    eprintln!("imgbatch demo: sample images on http://{images_at}/, the service on {base}/");
    let outcome = client::submit(csv, server, options).await;
    if keep {
        eprintln!("imgbatch demo: open {base}/ for the dashboard, {base}/swagger-ui/ for the API; Ctrl-C to stop");
        crate::telemetry::shutdown_signal().await;
    }
    stopper.cancel();
    running.await.context("the service task")??;
    // Completed with errors is the demo's expected end: one sample image is missing on purpose.
    Ok(match outcome? == ExitCode::FAILURE {
        true => ExitCode::FAILURE,
        false => ExitCode::SUCCESS,
    })
}

async fn sample(Path(name): Path<String>) -> Response {
    match IMAGES.iter().find(|(n, ..)| *n == name) {
        Some((_, bytes, kind)) => ([(header::CONTENT_TYPE, *kind)], *bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
