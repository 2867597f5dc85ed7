//! A graceful stop of an app in this process: the images it began are finished and recorded,
//! and a new app on the same data finishes the rest. (A crash is `crash.rs`: a real process
//! killed with SIGKILL.)

use crate::helpers::{ImageServer, TestApp};

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
    let request =
        imgbatch::db::requests::find(&db, &imgbatch::domain::ids::TenantId::default_tenant(), id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
    assert_eq!(request.succeeded as usize, started, "every download begun before the stop was finished and recorded");
    assert!(started < 10, "the stop came before the end");
    drop(db);

    let restarted = TestApp::builder().reusing(dir, config).spawn().await;
    let request = restarted.wait_until_finished(&id).await;
    assert_eq!(request["counts"]["succeeded"], 10);
}
