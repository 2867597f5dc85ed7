//! `TestApp`: the real application on 127.0.0.1:0 with its own temp directory, plus helpers
//! that speak to it the way a merchant's client would.

pub mod backends;
pub mod image_server;
pub mod receiver;

use std::{sync::Arc, time::Duration};

use imgbatch::{Application, Config, config::Secret};
use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use image_server::ImageServer;
pub use receiver::TestReceiver;

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running application.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The settings it runs with.
    pub config: Config,
    /// Its database and files; shared with a restarted app.
    pub dir: Arc<TempDir>,
    /// The secret its webhooks are signed with.
    pub secret: String,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// The app's shared state (database, store, queue).
    pub state: imgbatch::state::AppState,
    stopper: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Builds a [`TestApp`].
pub struct TestAppBuilder {
    dir: Arc<TempDir>,
    config: Config,
    reused: bool,
}

impl TestApp {
    /// A builder with test settings: temp directory, port 0, private URLs allowed (the image
    /// server is on loopback), a short webhook schedule and a one-second heartbeat.
    pub fn builder() -> TestAppBuilder {
        imgbatch::telemetry::init_for_tests();
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let mut config = Config::defaults();
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.allow_private_urls = true;
        config.webhook_secret = Some(imgbatch::webhook::sign::generate_secret());
        config.webhook_retry_schedule = "200ms,200ms,200ms".parse().unwrap();
        config.worker_heartbeat = Duration::from_secs(2);
        config.concurrency = 4;
        config.download_timeout = Duration::from_secs(10);
        TestAppBuilder { dir, config, reused: false }
    }

    /// An app with the test settings.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    /// Uploads `csv` as the `file` field, with more form fields.
    pub async fn upload_with(&self, csv: impl Into<Vec<u8>>, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(csv.into()).file_name("products.csv").mime_str("text/csv").unwrap(),
        );
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        self.http.post(format!("{}/api/v1/requests", self.base)).multipart(form).send().await.expect("upload")
    }

    /// Uploads `csv` and returns the new request id, asserting it was accepted.
    pub async fn submit(&self, csv: &str, fields: &[(&str, &str)]) -> String {
        let response = self.upload_with(csv, fields).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 202, "upload refused: {body:#}");
        body["request_id"].as_str().unwrap().to_owned()
    }

    /// GETs `path` (relative to the app) and returns status and JSON body.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Polls the request until its status is final, and returns it.
    pub async fn wait_until_finished(&self, id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (status, body) = self.get_json(&format!("/api/v1/requests/{id}")).await;
            assert_eq!(status, 200, "{body}");
            if matches!(body["status"].as_str(), Some("completed" | "completed_with_errors" | "failed")) {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "request {id} did not finish: {body:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls until `check` holds for the request.
    pub async fn wait_for(&self, id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (_, body) = self.get_json(&format!("/api/v1/requests/{id}")).await;
            if check(&body) {
                return body;
            }
            assert!(tokio::time::Instant::now() < deadline, "request {id} never reached {what}: {body:#}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// All products of a request with their images.
    pub async fn products(&self, id: &str) -> Vec<Value> {
        let (status, body) = self.get_json(&format!("/api/v1/requests/{id}/products?limit=1000")).await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// Stops the app gracefully: the API closes, in-flight images finish.
    pub async fn stop(self) -> (Arc<TempDir>, Config) {
        self.stopper.cancel();
        self.task.await.expect("app task").expect("app stopped cleanly");
        (self.dir, self.config)
    }

    /// Stops the app at once, as a crash would: in-flight work is dropped where it stands.
    pub async fn kill(self) -> (Arc<TempDir>, Config) {
        self.task.abort();
        let _ = self.task.await;
        (self.dir, self.config)
    }
}

impl TestAppBuilder {
    /// Changes settings.
    pub fn with_config(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Runs in an existing directory with its settings (a restart).
    pub fn reusing(mut self, dir: Arc<TempDir>, config: Config) -> Self {
        self.dir = dir;
        self.config = config;
        self.reused = true;
        self
    }

    /// Starts the app, on its own database, queue and store unless it reuses a directory.
    pub async fn spawn(mut self) -> TestApp {
        if !self.reused {
            backends::configure(&mut self.config, self.dir.path()).await;
        }
        let secret = self.config.webhook_secret.as_ref().map(Secret::expose).unwrap_or_default().to_owned();
        let app = Application::build(self.config.clone()).await.expect("app builds");
        let base = format!("http://{}", app.address());
        let stopper = app.stopper();
        let state = app.state().clone();
        let task = tokio::spawn(app.run_until_stopped());
        TestApp { base, config: self.config, dir: self.dir, secret, http: reqwest::Client::new(), state, stopper, task }
    }
}
