//! A crash mid-batch loses nothing: a new app on the same database finishes every image, once.

use std::time::Duration;

use crate::helpers::{ImageServer, PATIENCE, TestApp, TestReceiver};

#[tokio::test]
async fn an_app_killed_mid_batch_and_started_again_finishes_every_image_and_calls_the_webhook_once() {
    let images = ImageServer::start().await;
    let mut receiver = TestReceiver::start(&[]).await;
    let app = TestApp::builder().with_config(|c| c.concurrency = 2).spawn().await;
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for i in 1..=12 {
        csv.push_str(&format!(
            "{i},P{i},\"{},{}\"\n",
            images.url(&format!("/slow/a{i}.jpg")),
            images.url(&format!("/slow/b{i}.png"))
        ));
    }
    let id = app.submit(&csv, &[("webhook_url", &receiver.url)]).await;
    app.wait_for(&id, "a few images done", |r| r["counts"]["succeeded"].as_u64().unwrap_or(0) >= 3).await;
    let (dir, config) = app.kill().await;

    let restarted = TestApp::builder().reusing(dir, config).spawn().await;
    let request = restarted.wait_until_finished(&id).await;
    assert_eq!(request["status"], "completed", "{request:#}");
    assert_eq!(request["counts"]["succeeded"], 24);
    for product in restarted.products(&id).await {
        for image in product["images"].as_array().unwrap() {
            assert_eq!(image["status"], "succeeded", "{image}");
        }
    }
    let call = receiver.next(PATIENCE).await;
    let event: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(event["data"]["counts"]["succeeded"], 24);
    receiver.assert_quiet(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_graceful_stop_finishes_every_image_it_started() {
    let images = ImageServer::start().await;
    let app = TestApp::builder().with_config(|c| c.concurrency = 3).spawn().await;
    let mut csv = String::from("S. No.,Product Name,Input Image Urls\n");
    for i in 1..=10 {
        csv.push_str(&format!("{i},P{i},{}\n", images.url(&format!("/slow/g{i}.jpg"))));
    }
    let id = app.submit(&csv, &[]).await;
    app.wait_for(&id, "downloads started", |_| images.total_hits() >= 2).await;
    let (dir, config) = app.stop().await;

    let started = images.total_hits();
    let db = imgbatch::db::connect(&config.database_url).await.unwrap();
    let request = imgbatch::db::requests::find(&db, id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(request.succeeded as usize, started, "every download begun before the stop was finished and recorded");
    assert!(started < 10, "the stop came before the end");
    drop(db);

    let restarted = TestApp::builder().reusing(dir, config).spawn().await;
    let request = restarted.wait_until_finished(&id).await;
    assert_eq!(request["counts"]["succeeded"], 10);
}
