//! `TestApp`: the real application on 127.0.0.1:0 with its own temp directory, plus helpers
//! that speak to it the way a merchant's client would.

pub mod api;
pub mod backends;
pub mod batch;
pub mod browser;
pub mod events;
pub mod image_server;
pub mod outage;
pub mod process;
pub mod proxy;
pub mod receiver;
pub mod redis_server;

use std::{ops::Deref, sync::Arc, time::Duration};

use imgbatch::{Application, Config, config::Secret};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use api::ApiClient;
pub use image_server::ImageServer;
pub use receiver::TestReceiver;

/// A new API key of the admin (default) account, made in `db` as the server's own API would.
pub async fn admin_key(db: &sea_orm::DatabaseConnection) -> String {
    let admin = imgbatch::domain::ids::TenantId::default_tenant();
    let (_, key) = imgbatch::auth::accounts::create_key(db, &admin, "tests").await.expect("an API key is made");
    key.expose().to_owned()
}

/// A new API key of the admin account in the database `config` names (migrated first), for a
/// child process's API.
pub async fn admin_key_for(config: &Config) -> String {
    let db = imgbatch::db::connect(&config.database_url).await.expect("the test database opens");
    imgbatch::db::migrate(&db).await.expect("migrations apply");
    imgbatch::db::tenants::insert(
        &db,
        &imgbatch::domain::ids::TenantId::default_tenant(),
        None,
        None,
        imgbatch::domain::status::TenantOrigin::Local,
    )
    .await
    .expect("the admin account exists");
    admin_key(&db).await
}

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running application; its API calls come from [`ApiClient`].
pub struct TestApp {
    /// A client of its API.
    pub api: ApiClient,
    /// The settings it runs with.
    pub config: Config,
    /// Its database and files; shared with a restarted app.
    pub dir: Arc<TempDir>,
    /// The secret its webhooks are signed with.
    pub secret: String,
    /// An API key of its admin account, which `api` sends.
    pub key: String,
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
    s3_through: Option<(backends::S3Server, String)>,
}

impl TestApp {
    /// A builder with test settings: temp directory, port 0, private URLs allowed (the image
    /// server is on loopback), a short webhook schedule and the shortest heartbeat allowed (2 s).
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
        TestAppBuilder { dir, config, reused: false, s3_through: None }
    }

    /// An app with the test settings.
    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    /// Stops the app gracefully: the API closes, in-flight images finish.
    pub async fn stop(self) -> (Arc<TempDir>, Config) {
        self.stopper.cancel();
        // The drain's own limit, and a little more.
        let limit = self.config.download_timeout + Duration::from_secs(35);
        let stopped = tokio::time::timeout(limit, self.task).await.expect("the app stopped in time");
        stopped.expect("app task").expect("app stopped cleanly");
        (self.dir, self.config)
    }
}

impl Deref for TestApp {
    type Target = ApiClient;
    fn deref(&self) -> &ApiClient {
        &self.api
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

    /// Stores outputs in `server`'s S3, reached through `endpoint` (a [`proxy::FaultProxy`]),
    /// whatever the backend.
    pub fn with_s3_through(mut self, server: backends::S3Server, endpoint: String) -> Self {
        self.s3_through = Some((server, endpoint));
        self
    }

    /// The directory and settings the app would run with, on its own database, queue and store
    /// unless it reuses a directory, without starting it (for a child process).
    pub async fn configured(mut self) -> (Arc<TempDir>, Config) {
        if !self.reused {
            backends::configure(&mut self.config, self.dir.path()).await;
        }
        if let Some((server, endpoint)) = self.s3_through.take() {
            backends::store_in_s3_through(&mut self.config, &server, endpoint).await;
        }
        (self.dir, self.config)
    }

    /// Starts the app, on its own database, queue and store unless it reuses a directory.
    pub async fn spawn(self) -> TestApp {
        let (dir, config) = self.configured().await;
        let secret = config.webhook_secret.as_ref().map(Secret::expose).unwrap_or_default().to_owned();
        let built = tokio::time::timeout(PATIENCE, Application::build(config.clone())).await;
        let app = built.expect("the app built in time").expect("app builds");
        let key = admin_key(&app.state().db).await;
        let api = ApiClient::with_bearer(format!("http://{}", app.address()), &key);
        let stopper = app.stopper();
        let state = app.state().clone();
        let task = tokio::spawn(app.run_until_stopped());
        TestApp { api, config, dir, secret, key, state, stopper, task }
    }
}
