//! The job queue, and the work around it: accepting an upload (`intake`), handing each tenant's
//! images over in bounded windows (`dispatch`), the workers that run its jobs (`worker`) and the
//! recovery pass (`recover`). This is the only module that names
//! apalis or a job type. Callers say what they want ([`dispatch::top_up`],
//! [`Queue::retry_image`], [`Queue::deliver_webhook`]); `pipeline` and `webhook` hand back what
//! should happen next and the worker adapters carry it out.
//!
//! The embedded queue is apalis' SQLite backend in its own file beside the database, so that job
//! writes and request writes do not wait on one lock. With `REDIS_URL`, jobs go to Redis through
//! apalis-redis, for workers on many machines. Neither backend's attempt counting or status API is
//! relied on: retries are scheduled by imgbatch itself, and counts are kept in the database.

pub mod dispatch;
pub mod intake;
mod jobs;
pub mod recover;
mod wake;
pub mod worker;

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use apalis::prelude::*;
use apalis_redis::{ConnectionManager, RedisStorage};
use apalis_sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteStorage};
use tokio::sync::Notify;

use self::jobs::{DeliverWebhook, ProcessImage};
use crate::{
    config::Config,
    domain::ids::{DeliveryId, ImageId, TenantId},
};

const IMAGE_QUEUE: &str = "process-image";
const WEBHOOK_QUEUE: &str = "deliver-webhook";
/// A dead worker's jobs go back to the queue after this many missed heartbeats (apalis-redis
/// would wait ten by default: five minutes at its 30 s heartbeat).
const MISSED_HEARTBEATS: usize = 2;
/// Jobs pushed per round trip when queueing a whole request: large enough that a 500,000-image
/// upload is queued in seconds, small enough to stay under SQLite's bound-parameter limit.
const PUSH_CHUNK: usize = 1000;

/// The queue, chosen by configuration, and how this process's workers learn of jobs it queues.
#[derive(Clone)]
pub struct Queue(Backend, Pushed);

/// Notified when this process has queued a job that can run at once (an accepted upload's first
/// images, a webhook due now), so that its idle worker fetches it without waiting for its next
/// poll. Clones share the notifiers.
#[derive(Clone, Default)]
struct Pushed {
    images: Arc<Notify>,
    webhooks: Arc<Notify>,
}

/// The backends; only the worker adapters see them.
#[derive(Clone)]
enum Backend {
    /// apalis-sqlite in a local file.
    Embedded { images: SqliteStorage<ProcessImage>, webhooks: SqliteStorage<DeliverWebhook>, pool: SqlitePool },
    /// apalis-redis.
    Redis { images: RedisStorage<ProcessImage>, webhooks: RedisStorage<DeliverWebhook>, conn: ConnectionManager },
}

impl Queue {
    /// Opens the queue the configuration names.
    pub async fn from_config(config: &Config) -> anyhow::Result<Self> {
        match &config.redis_url {
            Some(url) => Self::redis(config, url).await,
            None => Self::embedded(config).await,
        }
    }

    async fn redis(config: &Config, url: &str) -> anyhow::Result<Self> {
        let conn = apalis_redis::connect(url).await.context("REDIS_URL: cannot connect to Redis")?;
        let cfg = |queue: &str| {
            apalis_redis::Config::default()
                .queue(format!("{}.{queue}", config.queue_namespace))
                .heartbeat_interval(config.worker_heartbeat)
                .missed_heartbeats(MISSED_HEARTBEATS)
                .batch_size(config.concurrency as usize)
        };
        let backend = Backend::Redis {
            images: RedisStorage::new(conn.clone()).with_config(cfg(IMAGE_QUEUE)),
            webhooks: RedisStorage::new(conn.clone()).with_config(cfg(WEBHOOK_QUEUE).batch_size(4)),
            conn,
        };
        Ok(Self(backend, Pushed::default()))
    }

    /// The embedded queue, creating its file and tables.
    async fn embedded(config: &Config) -> anyhow::Result<Self> {
        let path = config.queue_file.clone().unwrap_or_else(|| embedded_path(&config.database_url));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let options =
            SqliteConnectOptions::new().filename(&path).create_if_missing(true).busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the job queue {}", path.display()))?;
        SqliteStorage::setup(&pool).await.context("creating the job queue tables")?;
        let cfg = |queue: &str| {
            apalis_sqlite::Config::default()
                .queue(format!("{}.{queue}", config.queue_namespace))
                .heartbeat_interval(config.worker_heartbeat)
                .missed_heartbeats(MISSED_HEARTBEATS)
                .batch_size(config.concurrency as usize)
        };
        let backend = Backend::Embedded {
            images: SqliteStorage::new(&pool).with_config(cfg(IMAGE_QUEUE)),
            webhooks: SqliteStorage::new(&pool).with_config(cfg(WEBHOOK_QUEUE).batch_size(4)),
            pool,
        };
        Ok(Self(backend, Pushed::default()))
    }

    /// Queues one job per image of `tenant` (callers go through [`dispatch::top_up`], which
    /// keeps each tenant's window).
    async fn push_images(&self, tenant: &TenantId, ids: &[ImageId]) -> anyhow::Result<()> {
        match &self.0 {
            Backend::Embedded { images, .. } => push_chunks(images.clone(), tenant, ids).await,
            Backend::Redis { images, .. } => push_chunks(images.clone(), tenant, ids).await,
        }
    }

    /// Wakes this process's idle image worker: called once the jobs just queued can run, when
    /// their upload is accepted. Woken at the push, the worker would find the upload not accepted
    /// yet and put its job off (a second or two).
    fn wake_image_worker(&self) {
        self.1.images.notify_one();
    }

    /// Queues an image again after `delay` (a retry).
    pub async fn retry_image(
        &self,
        image_id: ImageId,
        tenant: Option<TenantId>,
        delay: Duration,
    ) -> anyhow::Result<()> {
        let task = TaskBuilder::new(ProcessImage { image_id, tenant_id: tenant }).run_after(not_early(delay)).build();
        match &self.0 {
            Backend::Embedded { images, .. } => images.clone().push_task(task).await.map_err(anyhow::Error::new),
            Backend::Redis { images, .. } => images.clone().push_task(task).await.map_err(anyhow::Error::new),
        }
        .context("queueing an image retry")
    }

    /// Queues the attempt after the `done` already made of a webhook delivery, to run after `delay`.
    pub async fn deliver_webhook(&self, delivery_id: &DeliveryId, done: i32, delay: Duration) -> anyhow::Result<()> {
        let task = TaskBuilder::new(DeliverWebhook { delivery_id: delivery_id.clone(), attempt: done })
            .run_after(not_early(delay))
            .build();
        match &self.0 {
            Backend::Embedded { webhooks, .. } => webhooks.clone().push_task(task).await.map_err(anyhow::Error::new),
            Backend::Redis { webhooks, .. } => webhooks.clone().push_task(task).await.map_err(anyhow::Error::new),
        }
        .context("queueing a webhook attempt")?;
        if delay.is_zero() {
            self.1.webhooks.notify_one();
        }
        Ok(())
    }

    /// Checks that the queue answers.
    pub async fn ping(&self) -> anyhow::Result<()> {
        match &self.0 {
            Backend::Embedded { pool, .. } => pool.acquire().await.map(drop).context("job queue unreachable"),
            Backend::Redis { conn, .. } => {
                redis::cmd("PING").query_async::<String>(&mut conn.clone()).await.map(drop).context("Redis unreachable")
            }
        }
    }
}

/// A job's delay as given to the backends, which keep run times in whole seconds and round them
/// down: one more second, so that a job never runs before its delay has passed.
fn not_early(delay: Duration) -> Duration {
    match delay.is_zero() {
        true => delay,
        false => delay + Duration::from_secs(1),
    }
}

/// Queues one image job per id, a chunk per round trip.
async fn push_chunks<S, K>(mut sink: S, tenant: &TenantId, ids: &[ImageId]) -> anyhow::Result<()>
where
    S: TaskSink<ProcessImage, K>,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    for chunk in ids.chunks(PUSH_CHUNK) {
        let jobs = chunk.iter().map(|&image_id| ProcessImage { image_id, tenant_id: Some(tenant.clone()) }).collect();
        sink.push_bulk(jobs).await.context("queueing image jobs")?;
    }
    Ok(())
}

/// The embedded queue's file: beside a SQLite database, or under `./data` otherwise.
fn embedded_path(database_url: &str) -> std::path::PathBuf {
    match crate::db::sqlite_file(database_url) {
        Some(db) => {
            let db = std::path::Path::new(db);
            let stem = db.file_stem().and_then(|s| s.to_str()).unwrap_or("imgbatch");
            db.with_file_name(format!("{stem}-queue.db"))
        }
        None => std::path::PathBuf::from("data/imgbatch-queue.db"),
    }
}
