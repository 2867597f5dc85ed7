//! Building and running the application: one `Application::build` used by `main` and by tests.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::{
    Config, api, db,
    limits::Limiter,
    net,
    outage::Outages,
    pipeline::compress::{DECODE_MEMORY_BUDGET, MemoryPool},
    progress::Progress,
    queue::{Queue, worker::run_workers},
    state::{AppState, Inner},
    storage::Storage,
    urls::Urls,
    webhook::deliver::ATTEMPT_TIMEOUT,
};

/// Which parts of the service this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serve the HTTP API.
    pub api: bool,
    /// Run the workers.
    pub workers: bool,
}

/// A built application: bound, migrated and connected, ready to run.
pub struct Application {
    address: SocketAddr,
    listener: Option<tokio::net::TcpListener>,
    state: AppState,
    roles: Roles,
}

impl Application {
    /// Builds the API and the workers.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, Roles { api: true, workers: true }).await
    }

    /// Builds the parts named by `roles`: migrates the database, binds the listener (port 0
    /// picks a free port), opens the queue and the store.
    pub async fn build_with(config: Config, roles: Roles) -> anyhow::Result<Self> {
        let db = db::connect(&config.database_url).await?;
        db::migrate(&db).await?;
        let listener = match roles.api {
            true => Some(
                crate::server::listen(config.bind)
                    .with_context(|| format!("IMGBATCH_BIND: cannot listen on {}", config.bind))?,
            ),
            false => None,
        };
        let address = match &listener {
            Some(l) => l.local_addr()?,
            None => config.bind,
        };
        let urls = Urls::new(&config.public_base(address));
        let storage = Storage::open(&config.storage, config.s3_endpoint.as_deref())?;
        let queue = Queue::from_config(&config).await?;
        let auth = crate::auth::bootstrap::prepare(&db, &config, roles.api).await?;
        let limiter = match &config.redis_url {
            Some(url) => Limiter::redis(url, &config.queue_namespace).await?,
            None => Limiter::local(),
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shutdown = CancellationToken::new();
        let state = AppState::new(Inner {
            progress: Progress::start(db.clone(), shutdown.clone()),
            image_http: net::client(config.allow_private_urls, true, config.download_timeout),
            // A redirect would turn the POST into a GET without the event: it counts as a failure.
            webhook_http: net::client(config.allow_private_urls, false, ATTEMPT_TIMEOUT),
            cpu: Arc::new(tokio::sync::Semaphore::new(cores)),
            decode_memory: Arc::new(MemoryPool::new(DECODE_MEMORY_BUDGET)),
            jobs: tokio_util::task::TaskTracker::new(),
            shutdown,
            outages: Outages::new(config.outage_retry_max),
            metrics: Default::default(),
            urls,
            readers: crate::db::readers::Readers::new(db.clone()),
            db,
            queue,
            storage,
            auth,
            limiter,
            config,
        });
        Ok(Self { address, listener, state, roles })
    }

    /// The address the API listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The port the API listens on.
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The shared state, for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A token that stops this application when cancelled: the API stops accepting, in-flight
    /// images finish, then [`run_until_stopped`](Self::run_until_stopped) returns.
    pub fn stopper(&self) -> CancellationToken {
        self.state.shutdown.clone()
    }

    /// Runs until the stopper is cancelled, then lets in-flight jobs finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let Self { listener, state, roles, .. } = self;
        let token = state.shutdown.clone();
        let api = async {
            if let Some(listener) = listener {
                let cap = crate::server::connection_cap();
                tracing::debug!(max_connections = cap, "serving HTTP");
                crate::server::serve(listener, api::router(state.clone()), cap, token.clone()).await;
            }
            anyhow::Ok(())
        };
        let workers = async {
            if roles.workers {
                run_workers(state.clone()).await;
                drain(&state).await;
            }
        };
        let (api, ()) = tokio::join!(api, workers);
        api
    }
}

/// Waits for the jobs in flight, for at most a download's time and a little more.
async fn drain(state: &AppState) {
    state.jobs.close();
    let limit = state.config.download_timeout + Duration::from_secs(30);
    if !state.jobs.is_empty() {
        tracing::info!(jobs = state.jobs.len(), "waiting for jobs in flight");
    }
    if tokio::time::timeout(limit, state.jobs.wait()).await.is_err() {
        tracing::warn!(jobs = state.jobs.len(), "jobs still running at shutdown; they will run again");
    }
}
