//! What the API handlers and the jobs share: configuration, database, queue, store, HTTP clients,
//! authentication, limits and the CPU gate.

use std::{ops::Deref, sync::Arc};

use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{Config, auth::Auth, limits::Limiter, outage::Outages, queue::Queue, storage::Storage, urls::Urls};

/// Shared state; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

/// The parts of [`AppState`].
pub struct Inner {
    /// The validated settings.
    pub config: Config,
    /// Builds every URL handed out.
    pub urls: Urls,
    /// The database.
    pub db: DatabaseConnection,
    /// The status poll's reads, on connections of their own on SQLite.
    pub readers: crate::db::readers::Readers,
    /// The job queue.
    pub queue: Queue,
    /// The output store.
    pub storage: Storage,
    /// Client for image downloads (download timeout, outbound policy).
    pub image_http: reqwest::Client,
    /// Client for webhook attempts (15 s timeout, outbound policy).
    pub webhook_http: reqwest::Client,
    /// Checks credentials.
    pub auth: Auth,
    /// Counts rate limits (in Redis with `REDIS_URL`).
    pub limiter: Limiter,
    /// One permit per core: decoding and encoding never run more than that at once.
    pub cpu: Arc<Semaphore>,
    /// The memory every decode reserves from before allocating (512 MiB).
    pub decode_memory: Arc<crate::pipeline::compress::MemoryPool>,
    /// Jobs in flight; shutdown waits for them.
    pub jobs: TaskTracker,
    /// Cancelled when the app stops: the API stops accepting, workers stop taking jobs.
    pub shutdown: CancellationToken,
    /// Outages of the database, store and queue as this process sees them.
    pub outages: Outages,
    /// The requests and jobs this process's events streams follow.
    pub progress: crate::progress::Progress,
    /// What this process counted, for `/metrics`.
    pub metrics: crate::metrics::Metrics,
}

impl AppState {
    /// Wraps the parts.
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    /// Runs CPU-bound work on the blocking pool, at most one task per core at a time, so the
    /// async threads keep serving requests and downloads.
    pub async fn run_cpu<T, F>(&self, work: F) -> Result<T, tokio::task::JoinError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = self.cpu.clone().acquire_owned().await.expect("the CPU gate is never closed");
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
