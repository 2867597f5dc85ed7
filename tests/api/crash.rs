//! Real crashes and stops of a real `imgbatch serve` process (a child of the test, with its
//! settings in the environment as an operator would give them), started again on the same data
//! under the same worker name: nothing is lost and nothing is done twice.

use std::{sync::Arc, time::Duration};

use imgbatch::{Config, config::Secret};
use tempfile::TempDir;

use crate::helpers::{
    ApiClient, TestApp,
    batch::Batch,
    process::{self, ChildProcess},
};

const IMAGES: u64 = 100;

#[tokio::test]
async fn a_process_killed_mid_batch_and_started_again_finishes_every_image_once_and_calls_the_webhook_once() {
    let mut run = Interrupted::at(30).await;
    run.process.sigkill().await;
    run.restart_and_assert_finished_once().await;
}

#[tokio::test]
async fn a_process_stopped_with_sigterm_mid_batch_records_every_image_it_began_and_exits_0_in_time() {
    let mut run = Interrupted::at(10).await;
    let begun = run.batch.images.total_hits();

    run.process.sigterm();
    // The promise: the images in flight get their download time, plus 30 s to be compressed,
    // stored and recorded.
    let limit = run.config.download_timeout + Duration::from_secs(30);
    let status = run.process.exit_within(limit).await;
    assert_eq!(status.code(), Some(0), "a stop on SIGTERM is a clean exit: {status}");

    let started = run.batch.images.total_hits();
    assert!(started >= begun);
    assert!(started < IMAGES as usize, "the stop came before the end of the batch");
    let db = imgbatch::db::connect(&run.config.database_url).await.unwrap();
    let request = imgbatch::db::requests::find(
        &db,
        &imgbatch::domain::ids::TenantId::default_tenant(),
        run.batch.id.parse().unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let recorded = request.succeeded as usize;
    assert_eq!(recorded, started, "every download begun before the process exited was finished and recorded");
    drop(db);

    run.restart_and_assert_finished_once().await;
}

/// An `imgbatch serve` child process on this test's own database, queue and store, with a batch
/// under way.
struct Interrupted {
    dir: Arc<TempDir>,
    config: Config,
    process: ChildProcess,
    batch: Batch,
    key: String,
}

impl Interrupted {
    /// Starts the process, uploads the batch and waits until `percent` of its images (not all)
    /// have succeeded.
    async fn at(percent: u64) -> Self {
        // A worker name kept across the restart, so that the new process takes back the old one's
        // jobs at once.
        let name = format!("crash-test-{}", uuid::Uuid::new_v4().simple());
        let (dir, config) = TestApp::builder()
            .with_config(|c| {
                c.worker_name = Some(name);
                c.concurrency = 8;
            })
            .configured()
            .await;
        let env = process::imgbatch_env(&config);
        let (process, base) = ChildProcess::serve(&env, dir.path(), "imgbatch-1").await;
        let key = crate::helpers::admin_key_for(&config).await;
        let api = ApiClient::with_bearer(base, &key);
        let batch = Batch::upload(&api, IMAGES).await;
        batch.wait_for_percent(&api, percent).await;
        Self { dir, config, process, batch, key }
    }

    /// Starts the same command again on the same data and waits for the end of the batch.
    async fn restart_and_assert_finished_once(self) {
        let env = process::imgbatch_env(&self.config);
        let (_again, base) = ChildProcess::serve(&env, self.dir.path(), "imgbatch-2").await;
        let secret = self.config.webhook_secret.as_ref().map(Secret::expose).expect("the test settings name a secret");
        self.batch.assert_finished_once(&ApiClient::with_bearer(base, &self.key), secret).await;
    }
}
