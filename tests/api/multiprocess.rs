//! One API process and three worker processes on PostgreSQL, Redis and S3; one worker is killed
//! with SIGKILL mid-run. Every image still finishes exactly once and the webhook comes once.
//! Runs in the servers backend only (`IMGBATCH_TEST_BACKEND=servers`).

use imgbatch::config::Secret;

use crate::helpers::{
    ApiClient, TestApp, backends,
    batch::Batch,
    process::{self, ChildProcess},
};

#[tokio::test]
async fn three_workers_one_killed_finish_every_image_once_and_send_one_webhook() {
    if !backends::servers_backend() {
        eprintln!("\n*** SKIPPED: the multi-process test needs IMGBATCH_TEST_BACKEND=servers ***\n");
        return;
    }
    let (dir, config) = TestApp::builder().configured().await;
    if config.redis_url.is_none() {
        return; // The servers backend is absent and `configure` said so.
    }
    let env = process::imgbatch_env(&config);
    let mut api = ChildProcess::imgbatch(&["serve", "--no-workers", "--bind", "127.0.0.1:0"], &env, dir.path(), "api");
    let base = api.listening().await;
    let mut workers: Vec<ChildProcess> = (1..=3)
        .map(|n| ChildProcess::imgbatch(&["worker", "--public-url", &base], &env, dir.path(), &format!("worker-{n}")))
        .collect();

    let client = ApiClient::with_bearer(base, &crate::helpers::admin_key_for(&config).await);
    let batch = Batch::upload(&client, 300).await;
    batch.wait_for_percent(&client, 20).await;
    workers[1].sigkill().await;

    let secret = config.webhook_secret.as_ref().map(Secret::expose).unwrap();
    batch.assert_finished_once(&client, secret).await;
}
